"""Every endpoint of the foundation, at its bare path and under /api/v1, with its JSON shape."""
import os
import re

import pytest
import requests

from profile_env import schema_version

PREFIXES = ['', '/api/v1']
TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
GENERATED_ID = re.compile(r'^[0-9a-f]{32}$')


def check_api_headers(r):
    assert r.headers.get('Content-Type', '').startswith('application/json'), r.headers
    assert r.headers.get('API-Version') == '1', r.headers
    assert GENERATED_ID.match(r.headers.get('X-Request-ID', '')), r.headers


def rss_bytes(pid):
    try:
        with open('/proc/%d/statm' % pid) as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:
        return 0


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@pytest.mark.parametrize('prefix', PREFIXES)
def test_healthcheck(env, prefix):
    r = env.get(prefix + '/healthcheck')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    j = r.json()
    assert j['status'] == 'healthy'
    assert j['service'] == 'profile-api'
    assert j['version'] == '0.1.0'
    assert isinstance(j['uptime_s'], int) and j['uptime_s'] >= 0
    assert TIMESTAMP.match(j['timestamp']), j['timestamp']


def test_healthcheck_head_has_no_body(env):
    r = env.server.request('HEAD', '/healthcheck')
    assert r.status_code == 200
    assert r.content == b''
    assert r.headers.get('API-Version') == '1'


@pytest.mark.parametrize('prefix', PREFIXES)
def test_health_live(env, prefix):
    r = env.get(prefix + '/health/live')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    assert r.json() == {'status': 'alive'}


@pytest.mark.parametrize('prefix', PREFIXES)
def test_health_ready(env, prefix):
    r = env.get(prefix + '/health/ready')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    assert r.json() == {'status': 'ready', 'schema_version': schema_version()}


@pytest.mark.parametrize('prefix', PREFIXES)
def test_monitoring_ping(env, prefix):
    r = env.get(prefix + '/monitoring/ping')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    j = r.json()
    assert j['pong'] is True
    assert TIMESTAMP.match(j['timestamp']), j['timestamp']


@pytest.mark.parametrize('prefix', PREFIXES)
def test_monitoring_detailed_healthy(env, prefix):
    r = env.get(prefix + '/monitoring/detailed')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    j = r.json()
    assert j['status'] == 'healthy', j
    assert j['version'] == '0.1.0'
    assert isinstance(j['uptime_s'], int) and j['uptime_s'] >= 0
    assert TIMESTAMP.match(j['timestamp'])
    comps = j['components']
    # Redis and the sidecar are reported only when configured.
    assert set(comps) == {'database', 'disk', 'memory'}, comps

    db = comps['database']
    assert db['status'] == 'healthy', db
    assert 'error' not in db
    assert is_number(db['round_trip_ms']) and 0 <= db['round_trip_ms'] < 5000
    pool = db['pool']
    assert pool['max'] == 10          # the ProfileDatabasePool default
    assert isinstance(pool['in_use'], int) and isinstance(pool['idle'], int)
    assert 0 <= pool['in_use'] + pool['idle'] <= pool['max']

    disk = comps['disk']
    assert disk['status'] == 'healthy'
    assert len(disk['paths']) >= 1
    for p in disk['paths']:
        assert p['path'].startswith('/')
        assert 0 < p['total_bytes'] and 0 <= p['free_bytes'] <= p['total_bytes']
        assert 0 <= p['free_percent'] <= 100
        assert abs(p['free_percent'] - 100.0 * p['free_bytes'] / p['total_bytes']) < 1.0
    # The run dir and the log dir of this server.
    assert any(p['path'].startswith(env.server.root) for p in disk['paths']), disk

    mem = comps['memory']
    assert mem['status'] == 'healthy'
    # The master and its children, as the kernel sees them.
    pids = [env.server.pid] + env.server.child_pids()
    assert abs(mem['processes'] - len(pids)) <= 1, (mem, pids)
    rss = sum(rss_bytes(p) for p in pids)
    assert rss / 2 <= mem['rss_bytes'] <= rss * 2, (mem, rss)


def test_monitoring_detailed_pool_keeps_connections(env):
    """On one keep-alive connection (so one child process) the probe's connection goes back
    to the pool and stays open (ProfileDatabasePool min 1)."""
    with requests.Session() as session:
        for _ in range(3):
            r = session.get(env.server.url + '/monitoring/detailed', timeout=30)
            assert r.status_code == 200, r.text
        pool = r.json()['components']['database']['pool']
        assert pool['idle'] >= 1, pool


def test_monitoring_detailed_pool_reflects_config(env):
    s = env.httpd('pool-config', extra_conf='ProfileDatabasePool 2 7')
    s.start()
    try:
        r = s.get('/monitoring/detailed')
        assert r.status_code == 200, r.text
        assert r.json()['components']['database']['pool']['max'] == 7
    finally:
        s.stop()


@pytest.mark.parametrize('prefix', PREFIXES)
def test_monitoring_metrics_shape(env, prefix):
    r = env.get(prefix + '/monitoring/metrics')
    assert r.status_code == 200, r.text
    check_api_headers(r)
    j = r.json()
    assert j['time_window_minutes'] == 5
    assert TIMESTAMP.match(j['generated_at'])
    assert isinstance(j['uptime_s'], int)
    req = j['requests']
    assert set(req['by_status_class']) == {'1xx', '2xx', '3xx', '4xx', '5xx'}
    assert sum(req['by_status_class'].values()) == req['total']
    assert req['total'] >= 1          # earlier tests used this server
    for label, counts in req['by_route'].items():
        assert label == 'unmatched' or re.match(r'^[A-Z]+ /', label), label
        assert counts['total'] >= 1   # only routes that saw requests are listed
    lat = j['latency_ms']
    assert 0 <= lat['p50'] <= lat['p95'] <= lat['p99']
    assert 0.0 <= j['error_rate'] <= 1.0


@pytest.mark.parametrize('window', ['1', '60', '30'])
def test_monitoring_metrics_time_window(env, window):
    r = env.get('/monitoring/metrics', params={'time_window': window})
    assert r.status_code == 200, r.text
    assert r.json()['time_window_minutes'] == int(window)


@pytest.mark.parametrize('window', ['0', '61', '-1', 'abc', '', '1.5', '5x', ' 5', '99999999999999999999'])
def test_monitoring_metrics_bad_time_window(env, window):
    r = env.get('/api/v1/monitoring/metrics', params={'time_window': window})
    assert r.status_code == 400, r.text
    check_api_headers(r)
    j = r.json()
    assert j['error'] == 'invalid_parameter'
    assert j['status'] == 400
    assert 'time_window' in j['message'] or 'time_window' in str(j['details']), j
    assert j['correlation_id'] == r.headers['X-Request-ID']


def test_without_database_health_ready_is_503(env):
    """Without ProfileDatabase the server still starts; readiness says why it is not ready."""
    s = env.httpd('no-database', database=None)
    s.start()
    try:
        assert s.get('/healthcheck').status_code == 200
        r = s.get('/health/ready')
        assert r.status_code == 503, r.text
        assert r.json()['status'] == 503
        assert r.headers.get('Retry-After', '').isdigit()
        d = s.get('/monitoring/detailed')
        assert d.status_code == 503, d.text
        assert d.json()['components']['database']['status'] == 'unhealthy'
    finally:
        s.stop()


def test_engine_off_declines(env):
    """ProfileEngine Off in a location hands requests back to httpd: no API answer there."""
    s = env.httpd('engine-off', extra_conf='<Location /off>\n    ProfileEngine Off\n</Location>')
    s.start()
    try:
        r = s.get('/off/healthcheck')
        assert r.status_code == 404
        assert 'API-Version' not in r.headers
        assert not r.headers.get('Content-Type', '').startswith('application/json')
        assert s.get('/healthcheck').status_code == 200
    finally:
        s.stop()
