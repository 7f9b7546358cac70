"""/monitoring/detailed with Redis and the sidecar configured: healthy, degraded, never hanging."""
import socket
import time

import pytest

from profile_env import JsonBackend, free_port

# The probes may log why a dependency is unhealthy; those lines are expected here.
PROBE_LINES = r'AH1056[56]'


def FakeSidecar(status=200, hang=False):
    """The sidecar's /health answering status, or never answering."""
    def answer(path, headers):
        if hang:
            time.sleep(60)
        return status, {'status': 'ok' if status == 200 else 'down'}
    return JsonBackend(answer)


def detailed(server):
    t0 = time.monotonic()
    r = server.get('/monitoring/detailed')
    elapsed = time.monotonic() - t0
    return r, r.json(), elapsed


@pytest.mark.allow_errors(PROBE_LINES)
def test_redis_healthy_then_stopped_then_back(env, fresh):
    redis = env.redis_start()
    s = fresh('redis', redis_url=redis.url())
    r, j, _ = detailed(s)
    assert r.status_code == 200, r.text
    assert j['status'] == 'healthy', j
    assert j['components']['redis']['status'] == 'healthy', j
    assert 'error' not in j['components']['redis']

    env.redis_stop()
    r, j, elapsed = detailed(s)
    assert elapsed < 15
    assert r.status_code == 200, r.text
    assert j['status'] == 'degraded', j
    assert j['components']['redis']['status'] == 'unhealthy'
    assert j['components']['redis'].get('error'), j
    assert j['components']['database']['status'] == 'healthy'

    env.redis_start()
    r, j, _ = detailed(s)
    assert r.status_code == 200 and j['status'] == 'healthy', j


@pytest.mark.allow_errors(PROBE_LINES)
def test_redis_password(env, fresh):
    redis = env.redis('redis-auth', password='S3cretRedisPw')
    redis.start()
    good = fresh('redis-auth-good', redis_url=redis.url())
    r, j, _ = detailed(good)
    assert j['components']['redis']['status'] == 'healthy', j
    assert 'S3cretRedisPw' not in r.text

    bad = fresh('redis-auth-bad', redis_url='redis://:wrong@127.0.0.1:%d/0' % redis.port)
    r, j, _ = detailed(bad)
    assert r.status_code == 200
    assert j['status'] == 'degraded'
    assert j['components']['redis']['status'] == 'unhealthy', j
    for s in (good, bad):
        assert 'S3cretRedisPw' not in s.error_log_text()
        assert ':wrong@' not in s.error_log_text()


@pytest.mark.allow_errors(PROBE_LINES)
def test_sidecar_closed_port_is_degraded(env, fresh):
    s = fresh('sidecar-closed', sidecar_url='http://127.0.0.1:%d' % free_port())
    r, j, elapsed = detailed(s)
    assert elapsed < 15
    assert r.status_code == 200, r.text
    assert j['status'] == 'degraded', j
    sc = j['components']['sidecar']
    assert sc['status'] == 'unhealthy' and sc.get('error'), sc
    assert j['components']['database']['status'] == 'healthy'
    assert 'redis' not in j['components']


def test_sidecar_healthy_probes_health_path(env, fresh):
    fake = FakeSidecar()
    try:
        s = fresh('sidecar-ok', sidecar_url='http://127.0.0.1:%d/base/' % fake.port)
        r, j, _ = detailed(s)
        assert r.status_code == 200, r.text
        assert j['status'] == 'healthy', j
        assert j['components']['sidecar']['status'] == 'healthy'
        assert fake.paths and all(p == '/base/health' for p in fake.paths), fake.paths
    finally:
        fake.close()


@pytest.mark.allow_errors(PROBE_LINES)
def test_sidecar_error_status_is_degraded(env, fresh):
    fake = FakeSidecar(status=500)
    try:
        s = fresh('sidecar-500', sidecar_url='http://127.0.0.1:%d' % fake.port)
        r, j, _ = detailed(s)
        assert r.status_code == 200
        assert j['status'] == 'degraded', j
        assert j['components']['sidecar']['status'] == 'unhealthy'
        assert fake.paths == ['/health'], fake.paths
    finally:
        fake.close()


@pytest.mark.allow_errors(PROBE_LINES)
def test_hanging_sidecar_times_out(env, fresh):
    """A sidecar that accepts but never answers costs at most the probe timeout."""
    fake = FakeSidecar(hang=True)
    try:
        s = fresh('sidecar-hang', sidecar_url='http://127.0.0.1:%d' % fake.port,
                    extra_conf='ProfileDatabaseTimeout 2')
        r, j, elapsed = detailed(s)
        assert elapsed < 12, 'the probe waited %.1f s' % elapsed
        assert r.status_code == 200
        assert j['components']['sidecar']['status'] == 'unhealthy', j
        assert j['status'] == 'degraded'
    finally:
        fake.close()


@pytest.mark.allow_errors(PROBE_LINES)
def test_hanging_redis_times_out(env, fresh):
    """A TCP peer that never speaks Redis must not hang /monitoring/detailed."""
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(16)
    try:
        s = fresh('redis-hang', redis_url='redis://127.0.0.1:%d/0' % lsock.getsockname()[1],
                    extra_conf='ProfileDatabaseTimeout 2')
        r, j, elapsed = detailed(s)
        assert elapsed < 12, 'the probe waited %.1f s' % elapsed
        assert r.status_code == 200
        assert j['components']['redis']['status'] == 'unhealthy', j
        assert j['status'] == 'degraded'
    finally:
        lsock.close()
