"""The database going away and coming back while httpd keeps running."""
import threading
import time

import pytest

from profile_env import schema_version

# The pool's connect-failure lines (APLOGNO 10501..10519) are expected while PostgreSQL is down.
POOL_LINES = r'AH105(0[1-9]|1[0-9])'


def wait_for(fn, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


@pytest.mark.allow_errors(POOL_LINES)
def test_database_down_and_back(env):
    s = env.server
    # Fill the pools with idle connections that the stop will break.
    for _ in range(10):
        assert s.get('/health/ready').status_code == 200
    pid = s.pid
    env.pg_stop()
    try:
        t0 = time.monotonic()
        d = s.get('/monitoring/detailed')
        assert time.monotonic() - t0 < 10, 'a down database must not hang the probe'
        assert d.status_code == 503, d.text
        j = d.json()
        assert j['status'] == 'unhealthy'
        db = j['components']['database']
        assert db['status'] == 'unhealthy'
        assert isinstance(db.get('error'), str) and db['error'], db

        # Nothing that does not need the database notices.
        for path in ('/healthcheck', '/health/live', '/monitoring/ping', '/api/v1/healthcheck'):
            assert s.get(path).status_code == 200, path

        r = s.get('/health/ready', headers={'X-Request-ID': 'ready-while-down'})
        assert r.status_code == 503, r.text
        retry = r.headers.get('Retry-After', '')
        assert retry.isdigit() and int(retry) >= 1, r.headers
        j = r.json()
        assert j['error'] == 'not_ready', j
        assert j['status'] == 503
        assert j['correlation_id'] == 'ready-while-down'
        assert j['details']['database'] == 'unreachable', j
        assert j['details']['schema_version'] is None
        assert j['details']['required_schema_version'] == schema_version()
        assert s.get('/api/v1/health/ready').status_code == 503
    finally:
        env.pg_start()

    # Back without restarting httpd.
    def healthy():
        r = s.get('/monitoring/detailed')
        return r.status_code == 200 and r.json()['components']['database']['status'] == 'healthy'
    assert wait_for(healthy, 60), s.get('/monitoring/detailed').text
    assert wait_for(lambda: s.get('/health/ready').status_code == 200, 30)
    assert s.pid == pid and s.running()
    # Each child process retries on its own back-off (at most a few seconds, announced in
    # Retry-After); soon every child serves again.
    def all_ready():
        codes = []
        for _ in range(40):
            r = s.get('/health/ready')
            codes.append(r.status_code)
            if r.status_code == 503:
                assert 1 <= int(r.headers['Retry-After']) <= 30, r.headers
        return codes == [200] * 40
    assert wait_for(all_ready, 20, 1.0)
    assert s.get('/health/ready').json() == {'status': 'ready', 'schema_version': schema_version()}


def test_schema_behind_is_not_ready(env):
    """A database without the migrations answers, but the server is not ready."""
    env.pg.create_database('profile_empty')
    s = env.httpd('empty-schema', database=env.pg.conninfo('profile_empty'))
    s.start()
    try:
        r = s.get('/health/ready')
        assert r.status_code == 503, r.text
        assert r.headers.get('Retry-After', '').isdigit()
        j = r.json()
        assert j['error'] == 'not_ready'
        assert j['details']['database'] == 'ok', j
        assert j['details']['required_schema_version'] == schema_version()
        assert j['details']['schema_version'] in (None, 0), j
        # Migrating makes it ready without a restart.
        env.migrate(env.pg.conninfo('profile_empty'))
        assert wait_for(lambda: s.get('/health/ready').status_code == 200, 30)
    finally:
        s.stop()


def test_pool_connection_limit(env):
    """Concurrent requests never open more connections than ProfileDatabasePool's max per child."""
    env.pg.create_database('profile_pool')
    env.migrate(env.pg.conninfo('profile_pool'))
    s = env.httpd('pool-max', database=env.pg.conninfo('profile_pool'),
                  mpm_conf='StartServers 1\nServerLimit 1\nThreadsPerChild 20\n'
                  'MaxRequestWorkers 20\nMinSpareThreads 1\nMaxSpareThreads 20\n',
                  extra_conf='ProfileDatabasePool 0 2')
    s.start()
    try:
        errors = []

        def worker():
            for _ in range(10):
                try:
                    r = s.get('/health/ready', headers={'Connection': 'close'})
                    if r.status_code != 200:
                        errors.append(r.status_code)
                except Exception as e:
                    errors.append(repr(e))
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        peak = 0
        while any(t.is_alive() for t in threads):
            n = int(env.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'profile_pool'"))
            peak = max(peak, n)
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert not errors, errors
        assert 1 <= peak <= 2, peak       # one child process, at most two connections
    finally:
        s.stop()
