"""`AuthType Profile` as httpd's auth front end on any Location: Require valid-user /
profile-role / profile-scope on static files, r->user + notes + environment for logs, identity
headers for proxied backends (client copies stripped), the api_key query parameter (WebSocket
upgrades only, never logged or proxied), and the route table's own minimum under
`Require all granted`."""
import json
import os
import re
import secrets
import socket

import pytest

from profile_env import STATIC_ADMIN, STATIC_READER, JsonBackend, expect_error

IDENT_FIELDS = ['rid', 'user', 'note_principal', 'note_role', 'note_key', 'env_principal',
                'env_role', 'env_key', 'env_scopes', 'request']


def echo_request(path, headers):
    """The backend's answer: the path and headers it was sent."""
    return 200, {'path': path, 'headers': dict(headers)}


@pytest.fixture(scope='module')
def backend():
    b = JsonBackend(echo_request)
    yield b
    b.close()


FILES = {'files/hello.txt': 'hello scope\n', 'files/default/d.txt': 'default\n', 'files/multi/m.txt': 'multi\n',
         'files/roles/r.txt': 'roles\n', 'files/admins/a.txt': 'admins\n',
         'files/any/x.txt': 'anyone\n', 'open/o.txt': 'open\n'}


@pytest.fixture(scope='module')
def front(env, module_server, backend):
    conf = '''
LogFormat "%%{X-Request-ID}i|%%u|%%{profile-principal}n|%%{profile-role}n|%%{profile-key-id}n|%%{PROFILE_PRINCIPAL}e|%%{PROFILE_ROLE}e|%%{PROFILE_KEY_ID}e|%%{PROFILE_SCOPES}e|%%r" ident
CustomLog "IDENT_LOG" ident
<Location /files>
    SetHandler none
    AuthType Profile
    AuthzSendForbiddenOnFailure On
    Require profile-scope comments:read
</Location>
<Location /files/default>
    AuthzSendForbiddenOnFailure Off
    Require profile-scope cache:admin
</Location>
<Location /files/multi>
    Require profile-scope comments:read cache:admin
</Location>
<Location /files/roles>
    Require profile-role admin user
</Location>
<Location /files/admins>
    Require profile-role admin
</Location>
<Location /files/any>
    Require valid-user
</Location>
<Location /open>
    SetHandler none
</Location>
<Location /backend>
    AuthType Profile
    Require valid-user
    ProxyPass http://127.0.0.1:%(port)d/echo
</Location>
<Location /plainproxy>
    ProxyPass http://127.0.0.1:%(port)d/plain
</Location>
<Location /ws>
    AuthType Profile
    Require valid-user
    ProxyPass http://127.0.0.1:%(port)d/ws
</Location>
<Location /api/v1/monitoring/ping>
    AuthType Profile
    Require valid-user
</Location>
<Location /api/v1/users>
    Require all granted
</Location>
''' % {'port': backend.port}
    name = 'front'
    root = os.path.join(env.base, '%s-%d' % (name, len(env.servers)))
    ident_log = os.path.join(root, 'logs', 'ident_log')
    for path, text in FILES.items():
        full = os.path.join(root, 'htdocs', path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write(text)
    s = module_server(name, modules=('proxy', 'proxy_http'),
                      extra_conf=conf.replace('IDENT_LOG', ident_log))
    s.ident_log = ident_log
    return s


def ident(server, rid):
    """The ident log fields of the request with X-Request-ID rid."""
    from profile_env import wait_for
    found = {}

    def look():
        with open(server.ident_log, errors='replace') as f:
            for line in f:
                parts = line.rstrip('\n').split('|', len(IDENT_FIELDS) - 1)
                if parts[0] == rid:
                    found.update(zip(IDENT_FIELDS, parts))
                    return True
        return False
    assert wait_for(look, 5), 'no ident line for %s' % rid
    return found


def get(server, path, auth=None, headers=None):
    rid = 'fr-' + secrets.token_hex(8)
    h = {'X-Request-ID': rid}
    h.update(headers or {})
    r = server.call('GET', path, auth=auth, headers=h)
    r.rid = rid
    return r


# ------------------------------------------------------------------ static files

def test_static_file_needs_credentials(env, front):
    r = get(front, '/files/hello.txt')
    assert r.status_code == 401, r.text
    assert r.headers.get('WWW-Authenticate') == 'Bearer realm="profile-api"', r.headers
    assert 'hello scope' not in r.text


def test_static_file_bad_credentials(env, front):
    r = get(front, '/files/hello.txt', auth=('bearer', 'garbage.token.here'))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers.get('WWW-Authenticate', ''), r.headers
    r = get(front, '/files/hello.txt', auth='pk_nope')
    assert r.status_code == 401
    assert r.headers.get('WWW-Authenticate', '').startswith('Bearer realm="profile-api"')


# httpd's authz_core logs every refusal of an authenticated principal at error level.
DENIED = r'AH01631|AH01630'


@pytest.mark.allow_errors(DENIED)
def test_require_profile_scope(env, front, user):
    r = get(front, '/files/hello.txt', auth=user)
    assert r.status_code == 200 and r.text == 'hello scope\n', r.text
    ro = env.new_user('readonly')
    assert get(front, '/files/hello.txt', auth=ro).status_code == 200
    narrow = env.generate_key(user, scopes=['profiles:read'])['key']
    assert get(front, '/files/hello.txt', auth=narrow).status_code == 403
    wide = env.generate_key(user, scopes=['comments:read'])['key']
    assert get(front, '/files/hello.txt', auth=wide).status_code == 200
    assert get(front, '/files/hello.txt', auth=STATIC_READER[0]).status_code == 403
    assert get(front, '/files/hello.txt', auth=STATIC_ADMIN[0]).status_code == 200


@pytest.mark.allow_errors(DENIED)
def test_require_every_listed_scope(env, front, user, admin):
    assert get(front, '/files/multi/m.txt', auth=user).status_code == 403   # no cache:admin
    assert get(front, '/files/multi/m.txt', auth=admin).status_code == 200
    both = env.generate_key(admin, scopes=['comments:read', 'cache:admin'])['key']
    assert get(front, '/files/multi/m.txt', auth=both).status_code == 200
    one = env.generate_key(admin, scopes=['cache:admin'])['key']
    assert get(front, '/files/multi/m.txt', auth=one).status_code == 403


@pytest.mark.allow_errors(DENIED)
def test_require_profile_role(env, front, user, admin):
    ro = env.new_user('readonly')
    assert get(front, '/files/roles/r.txt', auth=user).status_code == 200
    assert get(front, '/files/roles/r.txt', auth=admin).status_code == 200
    assert get(front, '/files/roles/r.txt', auth=ro).status_code == 403
    assert get(front, '/files/admins/a.txt', auth=user).status_code == 403
    assert get(front, '/files/admins/a.txt', auth=admin).status_code == 200
    assert get(front, '/files/admins/a.txt', auth=STATIC_ADMIN[0]).status_code == 200
    # A key acts with its owner's role.
    key = env.generate_key(user, scopes=['profiles:read'])['key']
    assert get(front, '/files/roles/r.txt', auth=key).status_code == 200
    assert get(front, '/files/admins/a.txt', auth=key).status_code == 403


@pytest.mark.allow_errors(DENIED)
def test_without_send_forbidden_httpd_answers_401(env, front, user, admin):
    # httpd's default for a principal that fails Require: 401 (AuthzSendForbiddenOnFailure Off).
    r = get(front, '/files/default/d.txt', auth=user)
    assert r.status_code == 401
    # RFC 9110: every 401 carries a challenge; RFC 6750: insufficient_scope.
    assert r.headers.get('WWW-Authenticate', '').startswith(
        'Bearer realm="profile-api", error="insufficient_scope"'), r.headers
    assert get(front, '/files/default/d.txt', auth=admin).status_code == 200


def test_require_valid_user(env, front, user):
    ro = env.new_user('readonly')
    for auth in (user, ro, STATIC_READER[0], env.generate_key(ro, scopes=['profiles:read'])['key']):
        r = get(front, '/files/any/x.txt', auth=auth)
        assert r.status_code == 200 and r.text == 'anyone\n', r.text
    assert get(front, '/files/any/x.txt').status_code == 401


def test_unprotected_location_untouched(env, front):
    r = get(front, '/open/o.txt')
    assert r.status_code == 200 and r.text == 'open\n'


def test_user_notes_and_environment(env, front, user):
    r = get(front, '/files/any/x.txt', auth=user)
    assert r.status_code == 200
    f = ident(front, r.rid)
    assert f['user'] == 'user:' + user.username
    assert f['note_principal'] == f['env_principal'] == 'user:' + user.username
    assert f['note_role'] == f['env_role'] == 'user'
    assert f['note_key'] == '-' and f['env_key'] == '-'
    assert set(re.split(r'[ ,]+', f['env_scopes'])) == {'profiles:read', 'profiles:write',
                                                        'sessions:read', 'sessions:write',
                                                        'comments:read'}


def test_key_notes_and_environment(env, front, user):
    k = env.generate_key(user, scopes=['comments:read'])
    r = get(front, '/files/any/x.txt', auth=k['key'])
    f = ident(front, r.rid)
    assert f['user'] == 'key:' + k['id']
    assert f['note_key'] == f['env_key'] == k['id']
    assert f['note_role'] == 'user'
    assert f['env_scopes'] == 'comments:read'


def test_static_key_notes(env, front):
    r = get(front, '/files/any/x.txt', auth=STATIC_READER[0])
    f = ident(front, r.rid)
    assert f['user'] == 'static:reader' and f['env_principal'] == 'static:reader'


# ------------------------------------------------------------------ backends

def backend_view(r):
    assert r.status_code == 200, r.text
    j = r.json()
    return j['path'], {k.lower(): v for k, v in j['headers'].items()}


FORGED = {'X-Profile-Principal': 'user:root', 'X-Profile-User-Id': '1', 'X-Profile-Role': 'admin',
          'X-Profile-Scopes': 'admin', 'X-Profile-Key-Id': 'AAAAAAAAAAAA'}


def test_identity_headers_for_backend(env, front, user):
    path, h = backend_view(get(front, '/backend/x?y=1', auth=user, headers=FORGED))
    assert path == '/echo/x?y=1'
    assert h['x-profile-principal'] == 'user:' + user.username
    assert h['x-profile-user-id'] == str(user.id)
    assert h['x-profile-role'] == 'user'
    assert 'admin' not in re.split(r'[ ,]+', h['x-profile-scopes'])
    assert 'comments:read' in re.split(r'[ ,]+', h['x-profile-scopes'])
    assert 'x-profile-key-id' not in h
    # The credentials themselves are passed on only as the client sent them.
    assert h.get('authorization') == 'Bearer ' + user.bearer()


def test_identity_headers_for_key(env, front, user):
    k = env.generate_key(user, scopes=['profiles:read'])
    _, h = backend_view(get(front, '/backend/k', auth=k['key'], headers=FORGED))
    assert h['x-profile-principal'] == 'key:' + k['id']
    assert h['x-profile-key-id'] == k['id']
    assert h['x-profile-user-id'] == str(user.id)
    assert h['x-profile-scopes'] == 'profiles:read'


def test_identity_headers_for_static_key(env, front):
    _, h = backend_view(get(front, '/backend/s', auth=STATIC_READER[0], headers=FORGED))
    assert h['x-profile-principal'] == 'static:reader'
    assert h.get('x-profile-user-id') in (None, '')
    assert h.get('x-profile-key-id') in (None, '')
    assert h['x-profile-scopes'] == 'profiles:read'


def test_client_identity_headers_stripped_without_auth(env, front):
    _, h = backend_view(get(front, '/plainproxy/p', headers=dict(FORGED, **{'x-profile-extra': 'x'})))
    assert not [k for k in h if k.startswith('x-profile-')], h


def test_backend_needs_credentials(env, front):
    assert get(front, '/backend/x').status_code == 401


# ------------------------------------------------------------------ api_key query parameter

def raw_get(server, target, upgrade):
    """One raw HTTP/1.1 request; returns (status, body)."""
    lines = ['GET %s HTTP/1.1' % target, 'Host: 127.0.0.1:%d' % server.port,
             'X-Request-ID: raw-' + secrets.token_hex(6)]
    if upgrade:
        lines += ['Upgrade: websocket', 'Connection: Upgrade',
                  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']
    else:
        lines += ['Connection: close']
    with socket.create_connection(('127.0.0.1', server.port), timeout=15) as s:
        s.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        s.settimeout(15)
        data = b''
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b'\r\n\r\n')
            m = re.search(rb'Content-Length: (\d+)', head, re.I)
            if m and len(body) >= int(m.group(1)):
                break
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split(b' ')[1]), body.decode('utf-8', 'replace')


def test_api_key_parameter_on_websocket_upgrade(env, front, user):
    k = env.generate_key(user, scopes=['comments:read'])['key']
    status, body = raw_get(front, '/ws/comments/abc?api_key=%s&room=7' % k, upgrade=True)
    assert status in (101, 200), (status, body)
    if status == 200:
        j = json.loads(body)
        assert j['path'] == '/ws/comments/abc?room=7', j
        assert k not in body
        assert {kk.lower(): v for kk, v in j['headers'].items()}['x-profile-principal'].startswith('key:')


def test_api_key_parameter_refused_without_upgrade(env, front, user):
    k = env.generate_key(user)['key']
    status, _ = raw_get(front, '/ws/comments/abc?api_key=%s' % k, upgrade=False)
    assert status == 401
    status, _ = raw_get(front, '/files/any/x.txt?api_key=%s' % k, upgrade=False)
    assert status == 401
    r = env.server.request('GET', '/auth/me?api_key=' + k)
    expect_error(r, 401, 'unauthorized')


def test_bad_api_key_parameter_on_upgrade(env, front):
    status, _ = raw_get(front, '/ws/comments/abc?api_key=pk_nope', upgrade=True)
    assert status == 401
    status, _ = raw_get(front, '/ws/comments/abc', upgrade=True)
    assert status == 401


def test_api_key_parameter_never_logged(env, front, user):
    k = env.generate_key(user)['key']
    raw_get(front, '/ws/comments/abc?api_key=%s&x=1' % k, upgrade=True)
    raw_get(front, '/ws/comments/abc?x=2&api_key=%s' % k, upgrade=False)
    raw_get(front, '/files/any/x.txt?api_key=%s' % k, upgrade=False)
    env.server.request('GET', '/healthcheck?api_key=' + k)
    from profile_env import wait_for
    assert wait_for(lambda: any('x=2' in line for line in front.access_log_lines()), 5)
    for s in (front, env.server):
        text = '\n'.join(s.access_log_lines()) + s.error_log_text()
        assert k not in text
        assert 'api_key=' not in text
    with open(front.ident_log) as f:
        assert k not in f.read()


# ------------------------------------------------------------------ the API's own routes

def test_auth_front_end_on_an_api_route(env, front, user):
    r = get(front, '/api/v1/monitoring/ping')
    assert r.status_code == 401
    assert r.headers.get('WWW-Authenticate') == 'Bearer realm="profile-api"'
    assert get(front, '/api/v1/monitoring/ping', auth=STATIC_READER[0]).status_code == 200
    assert get(front, '/api/v1/monitoring/ping', auth=user).status_code == 200
    # The bare path is another Location: open.
    assert get(front, '/monitoring/ping').status_code == 200


def test_route_minimum_holds_under_require_all_granted(env, front, user):
    expect_error(get(front, '/api/v1/users'), 401, 'unauthorized')
    j = expect_error(get(front, '/api/v1/users', auth=user), 403, 'forbidden')
    assert j['details'] == {'required_scopes': ['admin']}
    expect_error(get(front, '/api/v1/admin/audit'), 401, 'unauthorized')
    assert get(front, '/api/v1/users', auth=STATIC_ADMIN[0]).status_code == 200
