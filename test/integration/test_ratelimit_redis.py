"""The Redis backend: two httpd instances sharing one private Redis decide as one (exactly the
burst for 1,000 concurrent requests split between them); Redis killed under load → no 5xx,
decisions continue on each node's shm table, one warning per outage, the fallback metric
counts; Redis back → decisions shared again without restarting httpd. On-failure open and
closed against a Redis that is not there."""
import json
import re
import subprocess
import threading
import time

import pytest

from profile_env import expect_error, free_port, http_get, wait_for
from test_ratelimit_exact import run_exactness

# One child process per server, so "one warning per outage (per process)" is one line each.
ONE_CHILD = ('StartServers 1\nServerLimit 1\nThreadsPerChild 32\nThreadLimit 32\n'
             'MaxRequestWorkers 32\nMinSpareThreads 1\nMaxSpareThreads 64\nMaxConnectionsPerChild 0\n')
CONF = '''
ProfileRateLimitBackend redis
ProfileRedisTimeout 50
<Location /api/v1/monitoring/ping>
    ProfileRateLimit exact 100 60 burst=100 by=key
</Location>
<Location /api/v1/health/live>
    ProfileRateLimit hour 100 3600 burst=100 by=key
</Location>
<Location /api/v1/healthcheck>
    ProfileRateLimit shared 20 3600 by=header:X-Tenant
</Location>
<Location /monitoring/ping>
    ProfileRateLimit probe 1 3600 by=header:X-Tenant
</Location>
'''
SHARED = '/api/v1/healthcheck'
WARN_OR_WORSE = re.compile(r'\[[\w.-]*:(warn|error|crit|alert|emerg)\]')
REDIS_LINE = r'(?i)redis'


@pytest.fixture(scope='module')
def redis(env):
    r = env.redis('rl-redis')
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope='module')
def pair(env, module_server, redis):
    return [module_server('rl-redis-%s' % n, redis_url=redis.url(), mpm_conf=ONE_CHILD, extra_conf=CONF)
            for n in 'ab']


def statuses(servers, tenant, n, path=SHARED):
    """n requests of one tenant, the servers taking turns; the statuses."""
    return [http_get(servers[i % len(servers)].port, path, {'X-Tenant': tenant})[0] for i in range(n)]


def fallbacks(server):
    st, _, body = http_get(server.port, '/monitoring/metrics')
    assert st == 200, body
    return json.loads(body)['rate_limits']['redis_fallbacks']


def test_exact_two_servers_one_redis(env, pair, redis):
    run_exactness(env, pair)
    # The decisions were Redis's: its keys carry the documented prefix.
    out = subprocess.run(['redis-cli', '-p', str(redis.port), '--scan', '--pattern', 'profile:rl:*'],
                         stdout=subprocess.PIPE, universal_newlines=True, timeout=10).stdout
    assert 'profile:rl:' in out, out


def test_shared_between_servers(env, pair):
    st = statuses(pair, 'shared-1', 30)
    assert st.count(200) == 20 and st.count(429) == 10, st


@pytest.mark.allow_errors(REDIS_LINE)
def test_redis_killed_and_back(env, pair, redis):
    a, b = pair
    marks = [s.error_log_mark() for s in pair]
    stop = threading.Event()
    seen = []

    def load(i):
        n = 0
        while not stop.is_set():
            try:
                seen.append(http_get(pair[(i + n) % 2].port, SHARED, {'X-Tenant': 'load'})[0])
            except OSError as e:
                seen.append(repr(e))
            n += 1
    ts = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    try:
        time.sleep(0.5)
        redis.stop()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in ts:
            t.join()
    bad = [s for s in seen if s not in (200, 429)]
    assert not bad, 'answers other than 200/429 during the outage: %s' % bad[:10]
    assert 429 in seen

    # Decisions continue, each node on its own table: 20 on a, and 20 more on b.
    assert statuses([a], 'outage', 30).count(200) == 20
    assert statuses([b], 'outage', 30).count(200) == 20
    st, h, _ = http_get(a.port, SHARED, {'X-Tenant': 'outage-h'})
    assert st == 200 and h.get('ratelimit') == '"shared";r=19;t=180', h

    for s, mark in zip(pair, marks):
        warned = [line for line in s.error_log_since(mark).splitlines()
                  if WARN_OR_WORSE.search(line) and re.search(REDIS_LINE, line)]
        assert len(warned) == 1, '%s: %s' % (s.name, warned)
        assert fallbacks(s) > 0

    # Redis back (same port, empty): shared again, no httpd restart.
    redis.start()
    marks = [s.error_log_mark() for s in pair]
    probe = iter(range(10 ** 6))

    def shared_again():
        ok = True
        for first, second in ((a, b), (b, a)):
            tenant = 'probe-%d' % next(probe)
            s1 = http_get(first.port, '/monitoring/ping', {'X-Tenant': tenant})[0]
            s2 = http_get(second.port, '/monitoring/ping', {'X-Tenant': tenant})[0]
            ok = ok and (s1, s2) == (200, 429)
        return ok
    back = time.monotonic()
    assert wait_for(shared_again, 15, 0.3), 'decisions not shared again within 15 s of Redis restarting'
    print('decisions shared again %.1f s after Redis restarted' % (time.monotonic() - back))
    st = statuses(pair, 'after', 30)
    assert st.count(200) == 20, st
    for s, mark in zip(pair, marks):
        warned = [line for line in s.error_log_since(mark).splitlines() if WARN_OR_WORSE.search(line)]
        assert not warned, '%s warned after Redis came back: %s' % (s.name, warned)


@pytest.mark.allow_errors(REDIS_LINE)
def test_on_failure_open_and_closed(env, fresh):
    dead = 'redis://127.0.0.1:%d/0' % free_port()
    conf = 'ProfileRateLimitBackend redis\nProfileRedisTimeout 20\nProfileRateLimitOnFailure %s\n' \
           '<Location /api/v1/monitoring/ping>\n    ProfileRateLimit one 1 3600 by=ip\n</Location>\n'
    opened = fresh('rl-open', redis_url=dead, extra_conf=conf % 'open')
    for _ in range(3):
        st, h, _ = http_get(opened.port, '/api/v1/monitoring/ping')
        assert st == 200
        assert not any(k.startswith(('ratelimit', 'x-ratelimit')) for k in h), h
    closed = fresh('rl-closed', redis_url=dead, extra_conf=conf % 'closed')
    r = closed.get('/api/v1/monitoring/ping')
    expect_error(r, 503, 'service_unavailable')
    assert r.headers.get('Retry-After') == '1', r.headers
    # Routes without a policy are not affected.
    assert closed.get('/monitoring/ping').status_code == 200
