"""Request ids: echoed when sane, replaced otherwise, and present in both logs."""
import re
import time

import pytest

GENERATED_ID = re.compile(r'^[0-9a-f]{32}$')


@pytest.mark.parametrize('rid', ['abc', 'a', 'trace-1.2_3:4', 'A' * 128, '0123456789abcdef0123456789abcdef'])
def test_sane_id_is_echoed(env, rid):
    r = env.get('/healthcheck', headers={'X-Request-ID': rid})
    assert r.status_code == 200
    assert r.headers['X-Request-ID'] == rid


def test_sane_id_is_the_correlation_id_of_errors(env):
    r = env.get('/api/v1/nope', headers={'X-Request-ID': 'corr-42'})
    assert r.status_code == 404
    assert r.headers['X-Request-ID'] == 'corr-42'
    assert r.json()['correlation_id'] == 'corr-42'


@pytest.mark.parametrize('rid', ['A' * 129, 'x' * 1000, 'has space', 'slash/y', 'semi;colon', 'quote"d',
                                 '<script>', 'tab\there', 'pct%41', 'é'.encode('utf-8').decode('latin-1')])
def test_bad_id_is_replaced(env, rid):
    r = env.get('/api/v1/nope', headers={'X-Request-ID': rid})
    got = r.headers['X-Request-ID']
    assert got != rid
    assert GENERATED_ID.match(got), got
    assert r.json()['correlation_id'] == got


def test_empty_id_is_replaced(env):
    r = env.get('/healthcheck', headers={'X-Request-ID': ''})
    assert GENERATED_ID.match(r.headers['X-Request-ID'])


def test_generated_ids_differ(env):
    ids = {env.get('/monitoring/ping').headers['X-Request-ID'] for _ in range(20)}
    assert len(ids) == 20
    assert all(GENERATED_ID.match(i) for i in ids)


def access_line(server, rid, timeout=5):
    """The access log line of the request with id rid (the log is written after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in server.access_log_lines() if l.endswith(' rid=' + rid)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_id_in_access_log(env):
    env.get('/monitoring/ping', headers={'X-Request-ID': 'access-log-1'})
    lines = access_line(env.server, 'access-log-1')
    assert len(lines) == 1, lines
    assert '"GET /monitoring/ping HTTP/1.1" 200 ' in lines[0]
    r = env.get('/nope')
    lines = access_line(env.server, r.headers['X-Request-ID'])
    assert len(lines) == 1 and '"GET /nope HTTP/1.1" 404 ' in lines[0], lines


@pytest.fixture(scope='module')
def debug_server(env):
    s = env.httpd('debug-log', log_level='warn profile:debug authz_core:debug')
    s.start()
    yield s
    s.stop()


def request_lines(text):
    """(id, line) for every error log line written for a request."""
    out = []
    for line in text.splitlines():
        m = re.search(r'\[req ([^\]]*)\]', line)
        if m and m.group(1) != '-':
            out.append((m.group(1), line))
    return out


@pytest.mark.parametrize('rid', ['error-log-1', None])
def test_id_in_every_error_log_line_of_the_request(debug_server, rid):
    s = debug_server
    mark = s.error_log_mark()
    headers = {'X-Request-ID': rid} if rid else {}
    r = s.get('/api/v1/nope', headers=headers)
    assert r.status_code == 404
    rid = r.headers['X-Request-ID']
    time.sleep(0.3)
    lines = request_lines(s.error_log_since(mark))
    assert lines, 'no error log line was written for the request'
    assert all(i == rid for i, _ in lines), lines
    assert any('[authz_core:debug]' in l for _, l in lines), lines


def test_id_in_module_log_lines(debug_server):
    """The module's own lines about a request (here the 400 it answers) carry the id."""
    s = debug_server
    mark = s.error_log_mark()
    r = s.get('/healthcheck', data=b'{', headers={'X-Request-ID': 'bad-json-7',
                                                  'Content-Type': 'application/json'})
    assert r.status_code == 400
    time.sleep(0.3)
    lines = request_lines(s.error_log_since(mark))
    assert any('[profile:' in l for _, l in lines), lines
    assert all(i == 'bad-json-7' for i, _ in lines), lines
