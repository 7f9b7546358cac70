"""The one error shape of the API: 404, 405, 413, 415, 400 and their order."""
import json
import re
import socket

import pytest

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
LIMIT = 64 * 1024      # the ProfileMaxBodySize default


def check_error(r, status, error, path):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get('Content-Type', '').startswith('application/json'), r.headers
    assert r.headers.get('API-Version') == '1'
    j = r.json()
    assert set(j) == {'error', 'message', 'details', 'status', 'timestamp', 'path', 'correlation_id'}, j
    assert j['error'] == error, j
    assert j['status'] == status
    assert isinstance(j['message'], str) and len(j['message']) > 5
    assert j['details'] is None or isinstance(j['details'], dict)
    assert TIMESTAMP.match(j['timestamp']), j['timestamp']
    assert j['path'] == path
    assert j['correlation_id'] == r.headers['X-Request-ID']
    return j


def json_body(size):
    """A valid JSON document of exactly size bytes."""
    pad = size - len('{"a":""}')
    return ('{"a":"%s"}' % ('x' * pad)).encode()


@pytest.mark.parametrize('path', ['/nope', '/api/v1/nope', '/api/v1', '/api/v2/healthcheck',
                                  '/healthcheck/extra', '/monitoring'])
def test_not_found(env, path):
    check_error(env.get(path), 404, 'not_found', path)


def test_not_found_keeps_the_request_id(env):
    r = env.get('/nope', headers={'X-Request-ID': 'trace-404'})
    j = check_error(r, 404, 'not_found', '/nope')
    assert j['correlation_id'] == 'trace-404'


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH'])
@pytest.mark.parametrize('path', ['/healthcheck', '/api/v1/monitoring/metrics'])
def test_method_not_allowed(env, method, path):
    r = env.server.request(method, path)
    check_error(r, 405, 'method_not_allowed', path)
    allow = [m.strip() for m in r.headers.get('Allow', '').split(',')]
    assert 'GET' in allow and 'HEAD' in allow, r.headers
    assert method not in allow


def test_routing_comes_before_the_body(env):
    """An unknown path with a broken body is a 404, a wrong method with one a 405."""
    hdr = {'Content-Type': 'application/json'}
    check_error(env.server.request('POST', '/nope', data=b'{"a":', headers=hdr), 404, 'not_found', '/nope')
    check_error(env.server.request('POST', '/healthcheck', data=b'{"a":', headers=hdr), 405,
                'method_not_allowed', '/healthcheck')


def test_body_at_the_limit_is_accepted(env):
    r = env.get('/healthcheck', data=json_body(LIMIT), headers={'Content-Type': 'application/json'})
    assert r.status_code == 200, r.text


def test_payload_too_large_by_content_length(env):
    r = env.get('/api/v1/healthcheck', data=json_body(LIMIT + 1),
                headers={'Content-Type': 'application/json'})
    check_error(r, 413, 'payload_too_large', '/api/v1/healthcheck')


def raw_request(server, head, chunks):
    """Sends head and body chunks on one connection and returns (status, headers, body)."""
    with socket.create_connection(('127.0.0.1', server.port), timeout=30) as s:
        try:
            s.sendall(head)
            for c in chunks:
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass     # the server may answer and close before the whole body is sent
        data = b''
        while True:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            if b'\r\n\r\n' in data:
                head_part, _, rest = data.partition(b'\r\n\r\n')
                m = re.search(rb'(?i)content-length:\s*(\d+)', head_part)
                if m and len(rest) >= int(m.group(1)):
                    break
    head_part, _, body = data.partition(b'\r\n\r\n')
    lines = head_part.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def chunked(body, size=4096):
    out = []
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out.append(b'%x\r\n%s\r\n' % (len(part), part))
    out.append(b'0\r\n\r\n')
    return out


def chunked_head(path):
    return (b'GET %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
            b'Transfer-Encoding: chunked\r\nX-Request-ID: chunky-1\r\n\r\n' % path.encode())


def test_payload_too_large_chunked(env):
    status, headers, body = raw_request(env.server, chunked_head('/healthcheck'),
                                        chunked(json_body(LIMIT + 1)))
    assert status == 413, body
    j = json.loads(body)
    assert j['error'] == 'payload_too_large'
    assert j['correlation_id'] == 'chunky-1' == headers['x-request-id']


def test_chunked_body_at_the_limit_is_accepted(env):
    status, _, body = raw_request(env.server, chunked_head('/healthcheck'), chunked(json_body(LIMIT)))
    assert status == 200, body


def test_max_body_size_per_location(env):
    s = env.httpd('small-body', extra_conf='<Location /api/v1>\n    ProfileMaxBodySize 100\n</Location>')
    s.start()
    try:
        hdr = {'Content-Type': 'application/json'}
        check_error(s.get('/api/v1/healthcheck', data=json_body(101), headers=hdr), 413,
                    'payload_too_large', '/api/v1/healthcheck')
        assert s.get('/api/v1/healthcheck', data=json_body(100), headers=hdr).status_code == 200
        # The bare path keeps the server-wide default.
        assert s.get('/healthcheck', data=json_body(101), headers=hdr).status_code == 200
    finally:
        s.stop()


@pytest.mark.parametrize('body', [b'{"a":', b'not json', b'{"a":1}{"b":2}', b'\xff\xfe'])
def test_invalid_json(env, body):
    r = env.get('/monitoring/ping', data=body, headers={'Content-Type': 'application/json'})
    check_error(r, 400, 'invalid_json', '/monitoring/ping')


@pytest.mark.parametrize('ctype', ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx'])
def test_unsupported_media_type(env, ctype):
    r = env.get('/healthcheck', data=b'{"a":1}', headers={'Content-Type': ctype})
    check_error(r, 415, 'unsupported_media_type', '/healthcheck')


def test_json_with_charset_is_accepted(env):
    r = env.get('/healthcheck', data=b'{"a":1}', headers={'Content-Type': 'application/json; charset=utf-8'})
    assert r.status_code == 200, r.text


def test_api_version_header(env):
    assert env.get('/healthcheck', headers={'API-Version': '1'}).status_code == 200
    for asked in ('2', '0', 'v1', '1.0'):
        r = env.get('/api/v1/healthcheck', headers={'API-Version': asked})
        j = check_error(r, 400, 'unsupported_api_version', '/api/v1/healthcheck')
        # The answer says which versions exist.
        assert re.search(r'\b1\b', j['message'] + json.dumps(j['details'])), j


def test_api_version_comes_before_the_body(env):
    r = env.get('/healthcheck', data=b'{"a":', headers={'API-Version': '2', 'Content-Type': 'application/json'})
    check_error(r, 400, 'unsupported_api_version', '/healthcheck')
