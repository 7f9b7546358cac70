"""GET and PATCH /auth/me for every kind of principal."""
import re
import time

import pytest

from profile_env import STATIC_ADMIN, STATIC_READER, after_revocation, expect_error, jwt_decode

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
ALL_SCOPES = {'profiles:read', 'profiles:write', 'sessions:read', 'sessions:write',
              'comments:read', 'cache:admin', 'admin'}
ROLE_SCOPES = {
    'user': {'profiles:read', 'profiles:write', 'sessions:read', 'sessions:write', 'comments:read'},
    'readonly': {'profiles:read', 'sessions:read', 'comments:read'},
}
USER_FIELDS = {'id', 'username', 'email', 'role', 'active', 'created_at', 'updated_at'}


def check_user_json(j, u):
    assert USER_FIELDS <= set(j), j
    assert not any('password' in k or 'hash' in k for k in j), j
    assert j['id'] == u.id and j['username'] == u.username
    assert j['role'] == u.role and j['active'] is True
    assert TIMESTAMP.match(j['created_at']) and TIMESTAMP.match(j['updated_at']), j


@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_me_with_jwt(env, user, prefix):
    r = user.call('GET', prefix + '/auth/me')
    assert r.status_code == 200, r.text
    j = r.json()
    check_user_json(j, user)
    assert j['email'] == user.email
    assert set(j['scopes']) == ROLE_SCOPES['user']
    assert j['auth']['kind'] == 'jwt'
    assert j['auth']['session_id'] == jwt_decode(user.access)[1]['sid']


def test_me_of_readonly_user(env):
    u = env.new_user('readonly')
    j = u.call('GET', '/auth/me').json()
    assert j['role'] == 'readonly'
    assert set(j['scopes']) == ROLE_SCOPES['readonly']
    assert set(jwt_decode(u.access)[1]['scope'].split()) == ROLE_SCOPES['readonly']


def test_me_of_admin(env, admin):
    j = admin.call('GET', '/auth/me').json()
    assert j['role'] == 'admin'
    assert 'admin' in j['scopes'] and set(j['scopes']) <= ALL_SCOPES


def test_me_with_api_key(env, user):
    k = env.generate_key(user, scopes=['comments:read'])
    r = env.server.call('GET', '/auth/me', auth=k['key'])
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['id'] == user.id and j['username'] == user.username
    assert j['scopes'] == ['comments:read']
    assert j['auth']['kind'] == 'api_key' and j['auth']['key_id'] == k['id']
    assert k['key'] not in r.text


@pytest.mark.parametrize('static', [STATIC_ADMIN, STATIC_READER], ids=['admin', 'reader'])
def test_me_with_static_key(env, static):
    key, name, scopes = static
    r = env.server.call('GET', '/auth/me', auth=key)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['id'] is None and j['username'] is None
    assert j['auth'] == {'kind': 'static_key', 'name': name}
    assert set(scopes) <= set(j['scopes'])
    if name == 'reader':
        assert j['scopes'] == ['profiles:read']


def test_patch_email(env, user):
    new = env.unique('new') + '@example.org'
    r = user.call('PATCH', '/auth/me', body={'email': new})
    assert r.status_code == 200, r.text
    check_user_json(r.json(), user)
    assert r.json()['email'] == new
    assert user.call('GET', '/auth/me').json()['email'] == new
    # The new address is a login name now.
    assert env.server.call('POST', '/auth/login',
                           body={'username': new, 'password': user.password}).status_code == 200


def test_patch_email_taken(env, user):
    other = env.new_user(login=False)
    j = expect_error(user.call('PATCH', '/auth/me', body={'email': other.email.upper()}), 409, 'conflict')
    assert j['details'] == {'field': 'email'}


@pytest.mark.parametrize('email', ['nope', '', 'a@', 42])
def test_patch_bad_email(env, user, email):
    j = expect_error(user.call('PATCH', '/auth/me', body={'email': email}), 400, 'validation_failed')
    assert 'email' in j['details']['fields'], j


def test_patch_cannot_change_role_or_username(env, user):
    r = user.call('PATCH', '/auth/me', body={'role': 'admin', 'active': False, 'username': 'root'})
    assert r.status_code in (200, 400), r.text
    j = user.call('GET', '/auth/me').json()
    assert j['role'] == 'user' and j['active'] is True and j['username'] == user.username


def test_patch_password_needs_current_password(env, user):
    j = expect_error(user.call('PATCH', '/auth/me', body={'password': 'A-new-password-1'}),
                     400, 'validation_failed')
    assert 'current_password' in j['details']['fields'], j


def test_patch_password_wrong_current(env, user):
    expect_error(user.call('PATCH', '/auth/me', body={'password': 'A-new-password-1',
                                                      'current_password': 'wrong-password'}),
                 403, 'invalid_credentials')
    assert env.server.call('POST', '/auth/login',
                           body={'username': user.username, 'password': user.password}).status_code == 200


def test_patch_password_policy(env, user):
    j = expect_error(user.call('PATCH', '/auth/me', body={'password': 'short',
                                                          'current_password': user.password}),
                     400, 'validation_failed')
    assert 'password' in j['details']['fields'], j
    j = expect_error(user.call('PATCH', '/auth/me', body={'password': 'x' + user.username + 'y',
                                                          'current_password': user.password}),
                     400, 'validation_failed')
    assert len(j['details']['fields']['password']) == 1, j


def test_patch_password_revokes_sessions(env, user):
    other = env.server.call('POST', '/auth/login',
                            body={'username': user.username, 'password': user.password}).json()
    old_access, old_refresh, old_password = user.access, user.refresh, user.password
    t0 = time.monotonic()
    r = user.call('PATCH', '/auth/me', body={'password': 'Brand-new-pass-77',
                                             'current_password': old_password})
    assert r.status_code == 200, r.text
    check_user_json(r.json(), user)
    user.password = 'Brand-new-pass-77'
    for access in (old_access, other['access_token']):
        assert after_revocation(env.server, ('bearer', access), t0) == [401] * 6
    for token in (old_refresh, other['refresh_token']):
        expect_error(env.server.call('POST', '/auth/refresh', body={'refresh_token': token}),
                     401, 'invalid_token')
    expect_error(env.server.call('POST', '/auth/login',
                                 body={'username': user.username, 'password': old_password}),
                 401, 'invalid_credentials')
    time.sleep(1.1)            # tokens are voided to the second
    user.login()
    assert user.call('GET', '/auth/me').status_code == 200


def test_patch_with_api_key_is_not_a_user(env, user):
    key = env.generate_key(user)['key']
    expect_error(env.server.call('PATCH', '/auth/me', auth=key, body={'email': 'k@example.com'}),
                 400, 'not_a_user')


def test_patch_with_static_key_is_not_a_user(env):
    expect_error(env.server.call('PATCH', '/auth/me', auth=STATIC_ADMIN[0],
                                 body={'email': 'k@example.com'}), 400, 'not_a_user')


def test_me_needs_credentials(env):
    expect_error(env.server.request('GET', '/auth/me'), 401, 'unauthorized')
    expect_error(env.server.request('PATCH', '/auth/me', json={'email': 'a@b.c'}), 401, 'unauthorized')


def test_me_methods(env, user):
    r = user.call('DELETE', '/auth/me')
    expect_error(r, 405, 'method_not_allowed')
    assert 'PATCH' in r.headers['Allow'] and 'GET' in r.headers['Allow']
