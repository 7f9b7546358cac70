"""/monitoring/metrics counts every API request once, across child processes and restarts."""
import re
import threading
import time

import pytest
import requests

from profile_env import free_port

POOL_LINES = r'AH105(0[1-9]|1[0-9])'
CLASSES = ('1xx', '2xx', '3xx', '4xx', '5xx')


def metrics(server, **params):
    r = server.get('/monitoring/metrics', params=params)
    assert r.status_code == 200, r.text
    return r.json()


def metrics_reaching(server, expected_total, timeout=10):
    """Metrics once they count expected_total requests. A request is recorded after its answer,
    so the count may lag a moment; every poll itself adds one request to the next answer.
    Returns (metrics, number of extra polls)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        j = metrics(server)
        if j['requests']['total'] >= expected_total + polls or time.monotonic() > deadline:
            return j, polls
        polls += 1
        time.sleep(0.05)


def settled_metrics(server, timeout=10):
    """Metrics once requests made before (such as the start-up readiness probe) are all
    recorded: two reads in a row then differ by exactly the first read."""
    deadline = time.monotonic() + timeout
    before = metrics(server)
    while True:
        time.sleep(0.1)
        after = metrics(server)
        if after['requests']['total'] == before['requests']['total'] + 1 or time.monotonic() > deadline:
            return after
        before = after


def route(j, label):
    counts = j['requests']['by_route'].get(label, {})
    return {k: counts.get(k, 0) for k in ('total',) + CLASSES}


def delta(after, before, label):
    a, b = route(after, label), route(before, label)
    return {k: a[k] - b[k] for k in a}


def test_counts_by_route_and_class(fresh):
    s = fresh('metrics-count')
    m0 = settled_metrics(s)
    for _ in range(12):
        assert s.get('/healthcheck').status_code == 200
    for _ in range(4):
        assert s.get('/api/v1/healthcheck').status_code == 200
    for _ in range(5):
        assert s.get('/api/v1/nope').status_code == 404
    for _ in range(2):
        assert s.get('/monitoring/metrics', params={'time_window': '0'}).status_code == 400
    sent = 12 + 4 + 5 + 2
    m1, polls = metrics_reaching(s, m0['requests']['total'] + 1 + sent)
    total = m1['requests']['total'] - m0['requests']['total']
    assert total == 1 + sent + polls, (m0, m1)
    c0, c1 = m0['requests']['by_status_class'], m1['requests']['by_status_class']
    assert c1['2xx'] - c0['2xx'] == 16 + 1 + polls
    assert c1['4xx'] - c0['4xx'] == 7
    assert c1['5xx'] == c0['5xx'] == 0
    # Bare and /api/v1 paths are one route.
    assert delta(m1, m0, 'GET /healthcheck') == {'total': 16, '1xx': 0, '2xx': 16, '3xx': 0, '4xx': 0, '5xx': 0}
    assert delta(m1, m0, 'unmatched')['total'] == 5
    assert delta(m1, m0, 'unmatched')['4xx'] == 5
    d = delta(m1, m0, 'GET /monitoring/metrics')
    assert d['total'] == 2 + 1 + polls and d['4xx'] == 2
    # Routes without requests are not listed.
    assert 'GET /health/live' not in m1['requests']['by_route']
    assert m1['error_rate'] == 0.0
    lat = m1['latency_ms']
    assert 0 < lat['p99'] and lat['p50'] <= lat['p95'] <= lat['p99']
    # The same minute is in every window.
    assert metrics(s, time_window=1)['requests']['total'] >= sent


def test_only_api_requests_are_counted(fresh):
    s = fresh('metrics-scope', extra_conf='<Location /static>\n    SetHandler none\n</Location>\n'
                                          '<Location /off>\n    ProfileEngine Off\n</Location>')
    m0 = settled_metrics(s)
    for _ in range(5):
        assert s.get('/static/none.txt').status_code == 404
        assert s.get('/off/healthcheck').status_code == 404
    m1, polls = metrics_reaching(s, m0['requests']['total'] + 1)
    time.sleep(0.3)
    m2 = metrics(s)
    # Only the metrics requests themselves.
    assert m2['requests']['total'] - m0['requests']['total'] == 2 + polls, (m0, m2)


def test_error_rate_counts_5xx(env, fresh):
    env.expect_errors(POOL_LINES)
    s = fresh('metrics-5xx', database='host=127.0.0.1 port=%d dbname=profile user=profile' % free_port())
    for _ in range(4):
        assert s.get('/health/ready').status_code == 503
        assert s.get('/healthcheck').status_code == 200
    m, _ = metrics_reaching(s, 9)
    c = m['requests']['by_status_class']
    assert c['5xx'] == 4, m
    assert abs(m['error_rate'] - 4.0 / m['requests']['total']) < 1e-3, m
    assert route(m, 'GET /health/ready')['5xx'] == 4


def test_counts_agree_across_prefork_children(fresh):
    """Several prefork children serve the requests (new connection each, children recycled
    after a few connections); the totals are the server's, not one child's."""
    s = fresh('metrics-prefork', mpm='prefork',
              mpm_conf='StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nServerLimit 16\n'
                       'MaxRequestWorkers 16\nMaxConnectionsPerChild 7\n')
    m0 = settled_metrics(s)
    n_threads, per_thread = 6, 20
    failures = []

    def worker(t):
        for i in range(per_thread):
            try:
                r = requests.get(s.url + '/healthcheck', timeout=30,
                                 headers={'Connection': 'close', 'X-Request-ID': 'pf-%d-%d' % (t, i)})
                if r.status_code != 200:
                    failures.append(r.status_code)
            except requests.RequestException as e:
                failures.append(repr(e))
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    sent = n_threads * per_thread
    m1, polls = metrics_reaching(s, m0['requests']['total'] + 1 + sent)
    assert m1['requests']['total'] - m0['requests']['total'] == 1 + sent + polls
    assert delta(m1, m0, 'GET /healthcheck')['2xx'] == sent

    time.sleep(0.3)
    pids = set()
    for line in s.access_log_lines():
        m = re.search(r' pid=(\d+) rid=pf-\d+-\d+$', line)
        if m:
            pids.add(m.group(1))
    assert len(pids) > 3, 'only %d child processes served the requests' % len(pids)


@pytest.mark.parametrize('mpm', ['event', 'prefork'])
def test_metrics_survive_graceful(fresh, mpm):
    s = fresh('metrics-graceful-' + mpm, mpm=mpm)
    for _ in range(20):
        assert s.get('/monitoring/ping').status_code == 200
    m1, _ = metrics_reaching(s, 21)
    assert route(m1, 'GET /monitoring/ping')['total'] == 20
    s.graceful()
    s.graceful()
    # m1 itself and the health checks of the two restarts were counted too.
    m2, _ = metrics_reaching(s, m1['requests']['total'] + 3)
    assert route(m2, 'GET /monitoring/ping')['total'] == 20, m2
    assert m2['requests']['total'] >= m1['requests']['total'] + 3
    assert m2['uptime_s'] >= m1['uptime_s']
