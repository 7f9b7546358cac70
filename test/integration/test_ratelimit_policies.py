"""Rate-limit policies on one server (shm backend): every by= dimension, Location overrides, a
key's own limit, exemptions, the headers against their formulas (docs/rate-limiting.md), the
429 answer, smoothness after a burst, graceful restart, proxied and plain Locations, the
analytics in /monitoring/metrics and GET /admin/rate-limits."""
import http.client
import json
import os
import re
import secrets
import time

import pytest

from profile_env import STATIC_READER, JsonBackend, auth_headers, expect_error, http_get

CONF = '''
ProfileRateLimitExempt role admin
<Location /by>
    SetHandler none
</Location>
<Location /by/key>
    ProfileRateLimit bykey 3 3600 by=key
</Location>
<Location /by/user>
    ProfileRateLimit byuser 3 3600 by=user
</Location>
<Location /by/ip>
    ProfileRateLimit byip 3 3600 by=ip
</Location>
<Location /by/tenant>
    ProfileRateLimit bytenant 3 3600 by=header:X-Tenant
</Location>
<Location /by/route>
    ProfileRateLimit byroute 3 3600 by=route
</Location>
<Location /rl>
    SetHandler none
</Location>
<Location /rl/hdr>
    ProfileRateLimit hdr 5 60 by=header:X-Tenant
</Location>
<Location /rl/burst>
    ProfileRateLimit bursty 10 60 burst=2 by=header:X-Tenant
</Location>
<Location /rl/quiet>
    ProfileRateLimit quiet 1 3600 by=header:X-Tenant
    ProfileRateLimitHeaders Off
</Location>
<Location /rl/multi>
    ProfileRateLimit wide 100 60 by=header:X-Tenant
    ProfileRateLimit narrow 2 60 by=header:X-Tenant
</Location>
<Location /rl/ovr>
    ProfileRateLimit base 10 3600 by=header:X-Tenant
    ProfileRateLimit other 50 3600 by=header:X-Tenant
</Location>
<Location /rl/ovr/sub>
    ProfileRateLimit base 2 3600 by=header:X-Tenant
    ProfileRateLimit extra 4 3600 by=header:X-Tenant
</Location>
<Location /rl/keyed>
    ProfileRateLimit keyed 100 60 by=key
</Location>
<Location /rl/exempt>
    ProfileRateLimit ex 1 3600 by=key
</Location>
<Location /rl/exempt/none>
    ProfileRateLimitExempt none
</Location>
<Location /rl/exempt/scope>
    ProfileRateLimitExempt scope comments:read
</Location>
<Location /rl/smooth>
    ProfileRateLimit smooth 5 2 by=header:X-Tenant
</Location>
<Location /rl/grace>
    ProfileRateLimit grace 5 3600 by=header:X-Tenant
</Location>
<Location /rl/top>
    ProfileRateLimit top 1 3600 by=key
</Location>
<Location /proxied>
    ProxyPass http://127.0.0.1:%(port)d/echo
    ProfileRateLimit proxied 2 3600 by=header:X-Tenant
</Location>
<Location /api/v1/monitoring/ping>
    ProfileRateLimit ping 2 3600 by=header:X-Tenant
</Location>
<Location /auth/login>
    ProfileRateLimit login-ip 5 60 by=ip
</Location>
<Location /api/v1/auth/login>
    ProfileRateLimit login-ip 5 60 by=ip
</Location>
'''
FILES = ['by/key/a.txt', 'by/user/a.txt', 'by/ip/a.txt', 'by/tenant/a.txt', 'by/route/a.txt',
         'by/route/b.txt', 'rl/hdr/a.txt', 'rl/burst/a.txt', 'rl/quiet/a.txt', 'rl/multi/a.txt',
         'rl/ovr/a.txt', 'rl/ovr/sub/a.txt', 'rl/keyed/a.txt', 'rl/exempt/a.txt',
         'rl/exempt/none/a.txt', 'rl/exempt/scope/a.txt', 'rl/smooth/a.txt', 'rl/grace/a.txt',
         'rl/top/a.txt']
RL_HEADERS = ('ratelimit-policy', 'ratelimit', 'x-ratelimit-limit', 'x-ratelimit-remaining',
              'x-ratelimit-reset')
ITEM = re.compile(r'^"([A-Za-z0-9_.-]+)";(\w)=(\d+);(\w)=(\d+)$')


@pytest.fixture(scope='module')
def backend():
    b = JsonBackend(lambda path, headers: (200, {'path': path}))
    yield b
    b.close()


@pytest.fixture(scope='module')
def rl(env, module_server, backend):
    name = 'rl'
    root = os.path.join(env.base, '%s-%d' % (name, len(env.servers)))
    for f in FILES:
        full = os.path.join(root, 'htdocs', f)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as fh:
            fh.write('ok\n')
    return module_server(name, modules=('proxy', 'proxy_http'), extra_conf=CONF % {'port': backend.port})


def tenant():
    return 't-' + secrets.token_hex(6)


def get(server, path, auth=None, tenant_id=None, source=None, headers=None):
    """(status, headers, body) of one GET on its own connection."""
    h = {}
    h.update(auth_headers(auth))
    if tenant_id is not None:
        h['X-Tenant'] = tenant_id
    h.update(headers or {})
    return http_get(server.port, path, h, source=source)


def codes(server, path, n, **kw):
    return [get(server, path, **kw)[0] for _ in range(n)]


def items(value):
    """RateLimit-Policy / RateLimit: {name: {param: int}}."""
    out = {}
    for part in value.split(','):
        m = ITEM.match(part.strip())
        assert m, 'bad structured-field item %r in %r' % (part, value)
        out[m.group(1)] = {m.group(2): int(m.group(3)), m.group(4): int(m.group(5))}
    return out


# ------------------------------------------------------------------ dimensions

def test_by_key(env, rl):
    u = env.new_user()
    k1, k2 = (env.generate_key(u)['key'] for _ in range(2))
    assert codes(rl, '/by/key/a.txt', 4, auth=k1) == [200, 200, 200, 429]
    assert codes(rl, '/by/key/a.txt', 3, auth=k2) == [200, 200, 200]       # its own key
    assert codes(rl, '/by/key/a.txt', 4, auth=u) == [200, 200, 200, 429]   # JWT: user:<id>
    # Without credentials: per client address.
    assert codes(rl, '/by/key/a.txt', 4, source='127.0.0.5') == [200, 200, 200, 429]
    assert codes(rl, '/by/key/a.txt', 1, source='127.0.0.6') == [200]


def test_by_user(env, rl):
    u, other = env.new_user(), env.new_user()
    k1, k2 = (env.generate_key(u)['key'] for _ in range(2))
    # The user's keys and tokens share one count.
    assert codes(rl, '/by/user/a.txt', 2, auth=k1) == [200, 200]
    assert codes(rl, '/by/user/a.txt', 1, auth=u) == [200]
    assert codes(rl, '/by/user/a.txt', 1, auth=k2) == [429]
    assert codes(rl, '/by/user/a.txt', 1, auth=other) == [200]
    # A static key counts under its name.
    assert codes(rl, '/by/user/a.txt', 4, auth=STATIC_READER[0]) == [200, 200, 200, 429]


def test_by_ip(env, rl):
    u = env.new_user()
    key = env.generate_key(u)['key']
    assert codes(rl, '/by/ip/a.txt', 2, auth=u, source='127.0.0.7') == [200, 200]
    assert codes(rl, '/by/ip/a.txt', 2, auth=key, source='127.0.0.7') == [200, 429]
    assert codes(rl, '/by/ip/a.txt', 1, source='127.0.0.7') == [429]
    assert codes(rl, '/by/ip/a.txt', 1, auth=u, source='127.0.0.8') == [200]


def test_by_header(env, rl):
    t1, t2 = tenant(), tenant()
    assert codes(rl, '/by/tenant/a.txt', 4, tenant_id=t1) == [200, 200, 200, 429]
    assert codes(rl, '/by/tenant/a.txt', 1, tenant_id=t2) == [200]
    # Without the header: one shared count ("-").
    assert codes(rl, '/by/tenant/a.txt', 4, source='127.0.0.9') == [200, 200, 200, 429]
    assert codes(rl, '/by/tenant/a.txt', 1, source='127.0.0.10') == [429]


def test_by_route(env, rl):
    u1, u2 = env.new_user(), env.new_user()
    assert codes(rl, '/by/route/a.txt', 2, auth=u1) == [200, 200]
    assert codes(rl, '/by/route/a.txt', 1, auth=u2) == [200]
    assert codes(rl, '/by/route/a.txt', 1, source='127.0.0.11') == [429]
    assert codes(rl, '/by/route/b.txt', 1, auth=u1) == [200]


# ------------------------------------------------------------------ headers and the 429

def test_headers_follow_the_formulas(rl):
    """5 per 60 s, burst 5: T = 12 s. After k requests within a second: r = 5 - k,
    t = ceil(k * T - elapsed); the refusal: Retry-After = ceil(T - elapsed), t = ceil(5T - elapsed)."""
    t = tenant()
    t0 = time.monotonic()
    for k in range(1, 6):
        st, h, _ = get(rl, '/rl/hdr/a.txt', tenant_id=t)
        assert st == 200
        assert h['ratelimit-policy'] == '"hdr";q=5;w=60', h
        assert items(h['ratelimit'])['hdr']['r'] == 5 - k, h
        reset = items(h['ratelimit'])['hdr']['t']
        assert 12 * k - 1 <= reset <= 12 * k, (k, h)
        assert h['x-ratelimit-limit'] == '5'
        assert h['x-ratelimit-remaining'] == str(5 - k)
        assert h['x-ratelimit-reset'] == str(reset)
    st, h, body = get(rl, '/rl/hdr/a.txt', tenant_id=t, headers={'X-Request-ID': 'rl-429-check'})
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, 'too slow for the formulas: %.2f s' % elapsed
    assert st == 429
    assert h['content-type'].startswith('application/json')
    j = json.loads(body)
    assert j['error'] == 'rate_limited' and j['status'] == 429, j
    assert j['path'] == '/rl/hdr/a.txt' and j['correlation_id'] == 'rl-429-check', j
    retry = int(h['retry-after'])
    assert retry in (11, 12), h
    assert j['details'] == {'policy': 'hdr', 'limit': 5, 'window': 60, 'retry_after_s': retry}, j
    assert h['ratelimit-policy'] == '"hdr";q=5;w=60'
    assert items(h['ratelimit'])['hdr']['r'] == 0
    assert items(h['ratelimit'])['hdr']['t'] in (59, 60), h
    assert h['x-ratelimit-remaining'] == '0'
    assert h['x-ratelimit-reset'] in ('59', '60')


def test_burst(rl):
    """10 per 60 s with burst 2: T = 6 s, two at once, then one every 6 s."""
    t = tenant()
    st, h, _ = get(rl, '/rl/burst/a.txt', tenant_id=t)
    assert st == 200 and h['ratelimit-policy'] == '"bursty";q=10;w=60', h
    assert h['ratelimit'] == '"bursty";r=1;t=6', h
    assert h['x-ratelimit-limit'] == '10'
    assert get(rl, '/rl/burst/a.txt', tenant_id=t)[0] == 200
    st, h, _ = get(rl, '/rl/burst/a.txt', tenant_id=t)
    assert st == 429 and h['retry-after'] in ('5', '6'), h


def test_headers_off(rl):
    t = tenant()
    st, h, _ = get(rl, '/rl/quiet/a.txt', tenant_id=t)
    assert st == 200
    assert not [k for k in RL_HEADERS if k in h], h
    st, h, body = get(rl, '/rl/quiet/a.txt', tenant_id=t)
    assert st == 429 and json.loads(body)['error'] == 'rate_limited'
    assert not [k for k in RL_HEADERS if k in h], h
    assert int(h['retry-after']) >= 3599, h


def test_most_restrictive_policy_is_reported(rl):
    t = tenant()
    st, h, _ = get(rl, '/rl/multi/a.txt', tenant_id=t)
    assert st == 200
    assert items(h['ratelimit-policy']) == {'wide': {'q': 100, 'w': 60}, 'narrow': {'q': 2, 'w': 60}}, h
    assert h['ratelimit'] == '"narrow";r=1;t=30', h
    assert (h['x-ratelimit-limit'], h['x-ratelimit-remaining'], h['x-ratelimit-reset']) == ('2', '1', '30')
    assert get(rl, '/rl/multi/a.txt', tenant_id=t)[0] == 200
    st, h, body = get(rl, '/rl/multi/a.txt', tenant_id=t)
    assert st == 429 and json.loads(body)['details']['policy'] == 'narrow', body


def test_api_route_and_its_errors_carry_headers(rl):
    t = tenant()
    st, h, _ = get(rl, '/api/v1/monitoring/ping', tenant_id=t)
    assert st == 200 and h['ratelimit'] == '"ping";r=1;t=1800', h
    # An error answer of a covered request has them too.
    st, h, _ = get(rl, '/api/v1/monitoring/ping', tenant_id=t, headers={'API-Version': '7'})
    assert st == 400 and h['ratelimit'] == '"ping";r=0;t=3600', h
    st, h, body = get(rl, '/api/v1/monitoring/ping', tenant_id=t)
    assert st == 429, body
    j = json.loads(body)
    assert j['error'] == 'rate_limited' and j['path'] == '/api/v1/monitoring/ping'
    assert h.get('api-version') == '1' and h.get('x-request-id') == j['correlation_id'], h
    # The same route at its bare path has no policy.
    st, h, _ = get(rl, '/monitoring/ping', tenant_id=t)
    assert st == 200 and 'ratelimit' not in h


# ------------------------------------------------------------------ overrides and exemptions

def test_location_overrides_and_adds(rl):
    t = tenant()
    st, h, _ = get(rl, '/rl/ovr/sub/a.txt', tenant_id=t)
    assert st == 200
    assert items(h['ratelimit-policy']) == {'base': {'q': 2, 'w': 3600}, 'other': {'q': 50, 'w': 3600},
                                            'extra': {'q': 4, 'w': 3600}}, h
    assert get(rl, '/rl/ovr/sub/a.txt', tenant_id=t)[0] == 200
    st, _, body = get(rl, '/rl/ovr/sub/a.txt', tenant_id=t)
    assert st == 429 and json.loads(body)['details']['policy'] == 'base', body
    t = tenant()
    st, h, _ = get(rl, '/rl/ovr/a.txt', tenant_id=t)
    assert items(h['ratelimit-policy']) == {'base': {'q': 10, 'w': 3600}, 'other': {'q': 50, 'w': 3600}}, h


def test_key_override(env, rl):
    u = env.new_user()
    r = u.call('POST', '/auth/api-keys/generate',
               body={'name': 'limited', 'rate_limit': {'requests': 3, 'window_s': 60}})
    assert r.status_code == 201, r.text
    key = r.json()['key']
    st, h, _ = get(rl, '/rl/keyed/a.txt', auth=key)
    assert st == 200
    assert h['ratelimit-policy'] == '"keyed";q=3;w=60', h
    assert h['ratelimit'] == '"keyed";r=2;t=20', h
    assert h['x-ratelimit-limit'] == '3'
    assert codes(rl, '/rl/keyed/a.txt', 3, auth=key) == [200, 200, 429]
    st, h, body = get(rl, '/rl/keyed/a.txt', auth=key)
    assert json.loads(body)['details']['limit'] == 3 and json.loads(body)['details']['window'] == 60
    # A key without an override has the policy's numbers.
    plain = env.generate_key(u)['key']
    st, h, _ = get(rl, '/rl/keyed/a.txt', auth=plain)
    assert st == 200 and h['x-ratelimit-limit'] == '100', h


def test_admin_exempt(env, rl):
    admin, u = env.admin, env.new_user()
    for _ in range(4):
        st, h, _ = get(rl, '/rl/exempt/a.txt', auth=admin)
        assert st == 200
        assert not [k for k in RL_HEADERS if k in h], h
    assert codes(rl, '/rl/exempt/a.txt', 2, auth=u) == [200, 429]
    # `ProfileRateLimitExempt none` in a Location takes the exemption away.
    assert codes(rl, '/rl/exempt/none/a.txt', 2, auth=admin) == [200, 429]


def test_scope_exempt(env, rl):
    u = env.new_user()                        # users hold comments:read
    assert codes(rl, '/rl/exempt/scope/a.txt', 3, auth=u) == [200, 200, 200]
    st = codes(rl, '/rl/exempt/scope/a.txt', 2, auth=STATIC_READER[0])   # profiles:read only
    assert st == [200, 429]


# ------------------------------------------------------------------ timing

def test_smooth_after_the_burst(rl):
    """5 per 2 s: after the burst one request every 0.4 s gets through, not 5 at a window
    edge."""
    t = tenant()
    assert codes(rl, '/rl/smooth/a.txt', 5, tenant_id=t) == [200] * 5
    st, h, _ = get(rl, '/rl/smooth/a.txt', tenant_id=t)
    assert st == 429 and h['retry-after'] == '1', h
    start = time.monotonic()
    ok = []
    while time.monotonic() - start < 2.6:
        if get(rl, '/rl/smooth/a.txt', tenant_id=t)[0] == 200:
            ok.append(time.monotonic() - start)
        time.sleep(0.04)
    gaps = [b - a for a, b in zip(ok, ok[1:])]
    assert 5 <= len(ok) <= 7, ok
    assert ok[0] < 0.5, ok
    assert all(0.3 <= g <= 0.55 for g in gaps), gaps


def test_graceful_restart_keeps_counts(rl):
    t = tenant()
    assert codes(rl, '/rl/grace/a.txt', 3, tenant_id=t) == [200] * 3
    rl.graceful()
    assert codes(rl, '/rl/grace/a.txt', 3, tenant_id=t) == [200, 200, 429]


# ------------------------------------------------------------------ other Locations

def test_proxied_location(rl, backend):
    t = tenant()
    before = len(backend.paths)
    assert codes(rl, '/proxied/x', 2, tenant_id=t) == [200, 200]
    st, h, body = get(rl, '/proxied/x', tenant_id=t)
    assert st == 429 and json.loads(body)['error'] == 'rate_limited', body
    assert int(h['retry-after']) > 0
    assert len(backend.paths) == before + 2, backend.paths


def test_login_limited_per_ip(env, rl):
    src = '127.0.0.12'
    statuses = []
    for i in range(6):
        st, _, _ = post_login(rl, 'nobody-%s-%d' % (secrets.token_hex(3), i), src)
        statuses.append(st)
    assert statuses == [401] * 5 + [429], statuses
    # Another address still gets to try.
    assert post_login(rl, 'nobody-x', '127.0.0.13')[0] == 401


def post_login(server, name, source):
    conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10, source_address=(source, 0))
    try:
        conn.request('POST', '/auth/login', body=json.dumps({'username': name, 'password': 'wrong-pass'}),
                     headers={'Content-Type': 'application/json', 'Connection': 'close'})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ analytics

def metrics(server):
    st, _, body = http_get(server.port, '/monitoring/metrics')
    assert st == 200, body
    return json.loads(body)['rate_limits']


def test_metrics_count_per_policy(rl):
    before = metrics(rl)['policies'].get('quiet', {'allowed': 0, 'limited': 0})
    t = tenant()
    assert codes(rl, '/rl/quiet/a.txt', 3, tenant_id=t) == [200, 429, 429]
    m = metrics(rl)
    assert m['policies']['quiet'] == {'allowed': before['allowed'] + 1, 'limited': before['limited'] + 2}, m
    assert m['redis_fallbacks'] == 0, m


def test_admin_rate_limits(env, rl):
    u = env.new_user()
    assert codes(rl, '/rl/top/a.txt', 4, auth=u) == [200, 429, 429, 429]
    r = rl.call('GET', '/admin/rate-limits', auth=env.admin)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['window_s'] == 3600
    assert j['policies']['top']['limited'] >= 3, j
    assert j['policies']['top']['allowed'] >= 1, j
    names = {'user:%s' % u.username, 'user:%s' % u.id}
    mine = [e for e in j['top_limited'] if e['principal'] in names]
    assert mine and mine[0]['limited'] == 3, j['top_limited']
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$', mine[0]['last_limited_at']), mine
    limited = [e['limited'] for e in j['top_limited']]
    assert limited == sorted(limited, reverse=True), j['top_limited']
    r = rl.call('GET', '/api/v1/admin/rate-limits?limit=1', auth=env.admin)
    assert r.status_code == 200 and len(r.json()['top_limited']) == 1, r.text
    for bad in ('0', '101', 'x'):
        expect_error(rl.call('GET', '/admin/rate-limits?limit=' + bad, auth=env.admin), 400, 'invalid_parameter')
    expect_error(rl.call('GET', '/admin/rate-limits', auth=u), 403, 'forbidden')
    expect_error(rl.call('GET', '/admin/rate-limits'), 401, 'unauthorized')


def test_reset_rounds_up(rl):
    """X-RateLimit-Reset is whole seconds, never 0 while the bucket is not full."""
    t = tenant()
    st, h, _ = get(rl, '/rl/smooth/a.txt', tenant_id=t)
    assert st == 200 and h['x-ratelimit-reset'] == '1' and h['ratelimit'] == '"smooth";r=4;t=1', h
