"""The WebSocket gateway in httpd (ProfileWebSocket On in <Location /ws/>): refusals answered
by httpd before anything reaches the sidecar (no key, bad key, missing scope, malformed id,
not an upgrade, over ProfileWebSocketMaxPerKey, over the upgrade rate limit), the signed
identity the sidecar gets (client-sent X-Profile-* headers removed, api_key taken out of the
query) and the shared secret as both sides read it.

A RecordingBackend stands in for the sidecar here: it records every request that reaches it,
so "never reaches the sidecar" is checked, not assumed."""
import json
import os
import secrets
import time

import pytest

from live_client import (RecordingBackend, WsClient, WsRefused, key_headers, sign_identity,
                         upgrade_request)
from profile_env import (LIVE_COMMENTS, LIVE_COMMENTS2, LIVE_KEY, STATIC_READER,
                         apikey_with_check, wait_for)

CAP = 2
# httpd's authz_core logs every refusal of an authenticated principal at error level.
DENIED = r'AH01631|AH01630'
SIGNED = ('x-profile-principal', 'x-profile-scopes', 'x-profile-time', 'x-profile-signature')
# A second Location without a cap but with a rate limit on upgrades, so the two limits can be
# tested apart.
RL_CONF = '''
<Location /wsrl/>
    ProxyPass http://127.0.0.1:%(port)d/ws/ upgrade=websocket retry=0
    AuthType Profile
    AuthzSendForbiddenOnFailure On
    Require profile-scope comments:read
    ProfileWebSocket On
    ProfileWebSocketMaxPerKey 0
    ProfileRateLimit ws-upgrades 5 60 by=key
</Location>
'''


@pytest.fixture(scope='module')
def backend():
    b = RecordingBackend()
    yield b
    b.close()


@pytest.fixture(scope='module')
def gw(module_server, backend):
    return module_server('lgate', sidecar=backend, ws_max_per_key=CAP,
                         extra_conf=RL_CONF % {'port': backend.port})


def sid():
    return 'up-' + secrets.token_hex(5)


def error_json(status, headers, body, want_status, want_code=None):
    assert status == want_status, (status, headers, body[:300])
    assert headers.get('content-type', '').startswith('application/json'), headers
    j = json.loads(body)
    assert j.get('status') == want_status, j
    if want_code:
        assert j.get('error') == want_code, j
    for k in ('message', 'details', 'timestamp', 'path', 'correlation_id'):
        assert k in j, j
    return j


def reached(backend, session_id):
    return [r for r in backend.ws_requests() if ('/' + session_id) in r['path']]


def auth_refusals(path):
    """(what, path, headers, status, error code) of upgrades refused by authentication or
    authorization."""
    unknown = apikey_with_check('pk_%s_%s' % ('A' * 12, 'b' * 32))
    return [
        ('no credentials', path, {}, 401, 'unauthorized'),
        ('malformed key', path, key_headers('not-a-key'), 401, 'invalid_key'),
        ('unknown key', path, key_headers(unknown), 401, 'invalid_key'),
        ('unknown key in api_key', path + '?api_key=' + unknown, {}, 401, 'invalid_key'),
        ('bad bearer token', path, {'Authorization': 'Bearer abc.def.ghi'}, 401, 'invalid_token'),
        ('without comments:read', path, key_headers(STATIC_READER[0]), 403, None),
        ('without comments:read, api_key', path + '?api_key=' + STATIC_READER[0], {}, 403, None),
    ]


@pytest.mark.allow_errors(DENIED)
def test_refusals_never_reach_the_sidecar(env, gw, backend):
    s = sid()
    path = '/ws/comments/' + s
    for what, p, headers, status, _ in auth_refusals(path):
        got = upgrade_request(gw.port, p, headers)
        assert got[0] == status, '%s: HTTP %d instead of %d' % (what, got[0], status)
    bad_ids = ['bad!id', 'a' * 65, 'dot.ted', '%20x', '']
    for b in bad_ids:
        got = upgrade_request(gw.port, '/ws/comments/' + b, key_headers(LIVE_COMMENTS[0]))
        error_json(*got, 400, 'invalid_session_id')
    for p in ('/ws/other/' + s, '/ws/' + s, '/ws/comments/%s/more' % s):
        got = upgrade_request(gw.port, p, key_headers(LIVE_COMMENTS[0]))
        error_json(*got, 400, 'invalid_session_id')
    # Not a WebSocket upgrade: a plain GET, and a POST with the upgrade headers.
    error_json(*upgrade_request(gw.port, path, key_headers(LIVE_COMMENTS[0]), upgrade=False), 400)
    error_json(*upgrade_request(gw.port, path, key_headers(LIVE_COMMENTS[0]), method='POST'), 400)
    time.sleep(0.3)
    assert backend.ws_requests() == [], 'refused upgrades reached the sidecar: %s' % backend.ws_requests()
    # The same path with good credentials does reach it (so the check above can fail).
    c = WsClient(gw.ws_url(s), headers=key_headers(LIVE_COMMENTS[0]))
    assert c.recv(5)['status'] == 'waiting'
    c.close()
    assert len(reached(backend, s)) == 1, backend.ws_requests()


@pytest.mark.allow_errors(DENIED)
def test_auth_refusals_answer_the_error_json(env, gw, backend):
    """docs/live-sessions.md: refusals before the upgrade are "HTTP answers with the usual
    error JSON", 401 and 403 included."""
    s = sid()
    for what, p, headers, status, code in auth_refusals('/ws/comments/' + s):
        got = upgrade_request(gw.port, p, headers)
        try:
            error_json(*got, status, code)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e)) from None
    assert reached(backend, s) == []


def test_identity_is_signed_and_client_identity_headers_are_removed(env, gw, backend, user):
    k = env.generate_key(user, scopes=['comments:read'])
    s = sid()
    spoof = {'X-Profile-Principal': 'key:ops', 'X-Profile-Scopes': 'admin comments:read',
             'X-Profile-Time': str(int(time.time())), 'X-Profile-Signature': 'f' * 64,
             'X-Profile-Key-Id': 'ops', 'x-profile-extra': 'yes'}
    t0 = time.time()
    c = WsClient(gw.ws_url(s, since=5, api_key=k['key'], types='comment'), headers=spoof)
    c.recv(5)
    c.close()
    (req,) = reached(backend, s)
    assert req['path'] == '/ws/comments/%s?since=5&types=comment' % s, 'api_key must not be forwarded: %s' % req['path']
    ident = [(n, v) for n, v in req['headers'] if n.startswith('x-profile-')]
    names = [n for n, _ in ident]
    for n in SIGNED:
        assert names.count(n) == 1, 'one %s expected: %s' % (n, ident)
    # httpd's own X-Profile-* headers (AuthType Profile adds some) may be there; the client's
    # never.
    assert 'x-profile-extra' not in names, ident
    assert not [v for n, v in ident if 'ops' in v.split(':') or v == 'f' * 64], ident
    h = dict(ident)
    assert h['x-profile-principal'] == 'key:%s' % k['id'], h
    assert h['x-profile-scopes'].split() == ['comments:read'], h
    assert abs(int(h['x-profile-time']) - t0) <= 5, h
    assert h['x-profile-signature'] == sign_identity(env.live_secret, int(h['x-profile-time']),
                                                     h['x-profile-principal'], h['x-profile-scopes'], s), \
        'the signature does not verify with the shared secret: %s' % h

    # A user's access token: principal user:<id>, the user's scopes.
    s2 = sid()
    c = WsClient(gw.ws_url(s2), headers=user.headers())
    c.recv(5)
    c.close()
    (req,) = reached(backend, s2)
    h = dict((n, v) for n, v in req['headers'] if n.startswith('x-profile-'))
    assert h['x-profile-principal'] == 'user:%d' % user.id, h
    assert 'comments:read' in h['x-profile-scopes'].split(), h
    assert h['x-profile-signature'] == sign_identity(env.live_secret, int(h['x-profile-time']),
                                                     h['x-profile-principal'], h['x-profile-scopes'], s2)


def test_streams_per_key_are_capped(env, gw, backend, user):
    key = env.generate_key(user, scopes=['comments:read'])['key']
    open_ = [WsClient(gw.ws_url(sid()), headers=key_headers(key)) for _ in range(CAP)]
    for c in open_:
        c.recv(5)
    before = len(backend.ws_requests())
    s = sid()
    status, headers, body = upgrade_request(gw.port, '/ws/comments/' + s, key_headers(key))
    j = error_json(status, headers, body, 429, 'too_many_streams')
    assert headers.get('retry-after') == '1', headers
    with pytest.raises(WsRefused) as e:
        WsClient(gw.ws_url(s, api_key=key))
    assert e.value.status == 429
    assert reached(backend, s) == [] and len(backend.ws_requests()) == before, j
    # Another key is not affected.
    other = WsClient(gw.ws_url(sid()), headers=key_headers(LIVE_COMMENTS2[0]))
    other.recv(5)
    # Once a stream of the key ends, the key may open one again.
    open_.pop().close()

    def one_more():
        st, _, _ = upgrade_request(gw.port, '/ws/comments/' + sid(), key_headers(key))
        assert st in (101, 429), st
        return st == 101
    assert wait_for(one_more, 5, 0.2), 'the count did not drop after a stream of the key ended'
    for c in open_ + [other]:
        c.close()


def test_upgrades_are_rate_limited(env, gw, backend, user):
    key = env.generate_key(user, scopes=['comments:read'])['key']
    s = sid()
    path = '/wsrl/comments/' + s
    codes = [upgrade_request(gw.port, path, key_headers(key))[0] for _ in range(5)]
    assert codes == [101] * 5, codes
    got = upgrade_request(gw.port, path, key_headers(key))
    error_json(*got, 429, 'rate_limited')
    time.sleep(0.2)
    assert len(reached(backend, s)) == 5, len(reached(backend, s))


def test_websocket_gateway_needs_a_secret(env, backend):
    loc = ('<Location /ws/>\n    ProxyPass http://127.0.0.1:%d/ws/ upgrade=websocket\n'
           '    AuthType Profile\n    Require profile-scope comments:read\n    ProfileWebSocket On\n'
           '</Location>\n' % backend.port)
    s = env.httpd('lnosecret-%d' % len(env.servers), modules=('proxy', 'proxy_http', 'proxy_wstunnel'))
    code, out = s.apachectl_t(loc)
    assert code != 0 and 'ProfileSidecarSecret' in out, out
    short = s.root + '/short-secret'
    with open(short, 'w') as f:
        f.write('too-short')
    code, out = s.apachectl_t('ProfileSidecarSecretFile "%s"\n' % short + loc)
    assert code != 0 and 'ProfileSidecarSecret' in out, out
    code, out = s.apachectl_t('ProfileSidecarSecret "%s"\n' % ('s' * 40) + loc)
    assert code == 0, out


def test_secret_file_with_a_newline_and_a_mismatched_secret(env, live_pair, fresh):
    path = env.base + '/live/secret-nl-%s' % secrets.token_hex(3)
    with open(path, 'w') as f:
        f.write(secrets.token_hex(32) + '\n')          # as `openssl rand -hex 32 > file` writes it
    os.chmod(path, 0o600)
    p = live_pair('lsecret', secret_file=path, httpd_kw={'sidecar_secret_file': path})
    s = sid()
    c = p.ws(s)
    assert c.recv(5)['status'] == 'waiting'
    c.close()
    # An httpd whose secret differs: the sidecar refuses what it signs.
    other = env.base + '/live/secret-other-%s' % secrets.token_hex(3)
    with open(other, 'w') as f:
        f.write(secrets.token_hex(32))
    os.chmod(other, 0o600)
    h = fresh('lsecret-other', database=p.database, sidecar=p.sidecar, sidecar_secret_file=other)
    status, _, _ = upgrade_request(h.port, '/ws/comments/' + s, key_headers(LIVE_KEY[0]))
    assert status == 403, status
    assert wait_for(lambda: p.sidecar.health()['clients'] == 0, 5), p.sidecar.health()
