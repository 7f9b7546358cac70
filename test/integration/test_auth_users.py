"""Admin user management (/users) and the audit log (/admin/audit)."""
import datetime
import re
import time

import pytest

from profile_env import STATIC_ADMIN, STATIC_READER, after_revocation, expect_error

USER_FIELDS = {'id', 'username', 'email', 'role', 'active', 'created_at', 'updated_at'}
EVENT_FIELDS = {'id', 'at', 'event', 'user_id', 'principal', 'ip', 'user_agent', 'request_id',
                'details'}


@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_list_users(env, admin, prefix):
    env.new_user(login=False)
    r = admin.call('GET', prefix + '/users')
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == {'users', 'next_cursor'}
    assert 1 <= len(j['users']) <= 20
    for u in j['users']:
        assert set(u) == USER_FIELDS, u
    ids = [u['id'] for u in j['users']]
    assert ids == sorted(ids)
    assert 'argon2' not in r.text


def test_pagination(env, admin):
    for _ in range(3):
        env.new_user(login=False)
    seen, cursor, pages = [], None, 0
    while True:
        r = admin.call('GET', '/users?limit=2' + ('&cursor=%s' % cursor if cursor else ''))
        assert r.status_code == 200, r.text
        j = r.json()
        assert len(j['users']) <= 2
        seen += [u['id'] for u in j['users']]
        pages += 1
        cursor = j['next_cursor']
        if cursor is None:
            break
        assert len(j['users']) == 2
        assert pages < 500
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    total = env.sql('SELECT count(*) FROM users')[0][0]
    assert len(seen) == total


def test_filters(env, admin):
    a = env.new_user(login=False, prefix='filt')
    ro = env.new_user('readonly', login=False, prefix='filt')
    gone = env.new_user(login=False, prefix='filt')
    assert admin.call('DELETE', '/users/%d' % gone.id).status_code == 200
    q = env._tag                                   # in every name made this session
    names = lambda path: {u['username'] for u in admin.call('GET', path).json()['users']}
    found = names('/users?limit=100&q=filt' + q)
    assert {a.username, ro.username, gone.username} <= found
    assert a.username in names('/users?limit=100&q=' + a.username.upper())
    assert names('/users?limit=100&q=' + a.email.split('@')[0] + '@example') == {a.username}
    ro_names = names('/users?limit=100&role=readonly&q=filt' + q)
    assert ro.username in ro_names and a.username not in ro_names
    inactive = names('/users?limit=100&active=false&q=filt' + q)
    assert gone.username in inactive and a.username not in inactive
    active = names('/users?limit=100&active=true&q=filt' + q)
    assert gone.username not in active and a.username in active


@pytest.mark.parametrize('query', ['limit=0', 'limit=101', 'limit=x', 'role=root', 'active=maybe',
                                   'cursor=abc'])
def test_bad_list_parameters(env, admin, query):
    expect_error(admin.call('GET', '/users?' + query), 400, 'invalid_parameter')


def test_limit_100(env, admin):
    assert admin.call('GET', '/users?limit=100').status_code == 200


def test_get_user(env, admin):
    u = env.new_user(login=False)
    r = admin.call('GET', '/users/%d' % u.id)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == USER_FIELDS
    assert (j['id'], j['username'], j['email'], j['role'], j['active']) == \
        (u.id, u.username, u.email, 'user', True)


@pytest.mark.parametrize('uid', ['999999999', 'abc', '0', '-1'])
def test_get_unknown_user(env, admin, uid):
    expect_error(admin.call('GET', '/users/' + uid), 404, 'not_found')


def test_users_need_admin(env, user):
    for method, path in (('GET', '/users'), ('GET', '/users/1'), ('PATCH', '/users/1'),
                         ('DELETE', '/users/1'), ('GET', '/admin/audit')):
        body = {'role': 'admin'} if method == 'PATCH' else None
        j = expect_error(user.call(method, path, body=body), 403, 'forbidden')
        assert j['details'] == {'required_scopes': ['admin']}
        r = env.server.call(method, path, body=body)
        expect_error(r, 401, 'unauthorized')
        expect_error(env.server.call(method, path, auth=STATIC_READER[0], body=body), 403, 'forbidden')
    # The user is still a user.
    assert user.call('GET', '/auth/me').json()['role'] == 'user'


def test_static_admin_key_manages_users(env):
    u = env.new_user(login=False)
    r = env.server.call('GET', '/users/%d' % u.id, auth=STATIC_ADMIN[0])
    assert r.status_code == 200, r.text


def test_patch_user_email_and_role(env, admin):
    u = env.new_user()
    old_access = u.access
    new_email = env.unique('moved') + '@example.net'
    t0 = time.monotonic()
    r = admin.call('PATCH', '/users/%d' % u.id, body={'email': new_email, 'role': 'readonly'})
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == USER_FIELDS
    assert j['email'] == new_email and j['role'] == 'readonly'
    # A role change voids the tokens that carry the old role.
    assert after_revocation(env.server, ('bearer', old_access), t0) == [401] * 6
    u.role = 'readonly'
    u.login()
    me = u.call('GET', '/auth/me').json()
    assert me['role'] == 'readonly' and 'profiles:write' not in me['scopes']


def test_promote_to_admin(env, admin):
    u = env.new_user()
    assert admin.call('PATCH', '/users/%d' % u.id, body={'role': 'admin'}).status_code == 200
    time.sleep(1.1)
    u.login()
    assert u.call('GET', '/users?limit=1').status_code == 200


@pytest.mark.parametrize('body', [{'role': 'root'}, {'email': 'bad'}, {'active': 'yes'},
                                  {'role': 5}])
def test_patch_user_validation(env, admin, body):
    u = env.new_user(login=False)
    expect_error(admin.call('PATCH', '/users/%d' % u.id, body=body), 400, 'validation_failed')


def test_patch_user_email_conflict(env, admin):
    u, other = env.new_user(login=False), env.new_user(login=False)
    j = expect_error(admin.call('PATCH', '/users/%d' % u.id, body={'email': other.email}),
                     409, 'conflict')
    assert j['details'] == {'field': 'email'}


def test_patch_unknown_user(env, admin):
    expect_error(admin.call('PATCH', '/users/999999999', body={'role': 'user'}), 404, 'not_found')


def test_deactivate_and_reactivate(env, admin):
    u = env.new_user()
    key = env.generate_key(u)['key']
    t0 = time.monotonic()
    r = admin.call('PATCH', '/users/%d' % u.id, body={'active': False})
    assert r.status_code == 200 and r.json()['active'] is False, r.text
    assert after_revocation(env.server, ('bearer', u.access), t0) == [401] * 6
    assert after_revocation(env.server, key, t0) == [401] * 6
    expect_error(env.server.call('POST', '/auth/refresh', body={'refresh_token': u.refresh}),
                 401, 'invalid_token')
    expect_error(env.server.call('POST', '/auth/login',
                                 body={'username': u.username, 'password': u.password}),
                 401, 'invalid_credentials')
    assert admin.call('PATCH', '/users/%d' % u.id, body={'active': True}).status_code == 200
    time.sleep(1.1)
    u.login()
    assert u.call('GET', '/auth/me').status_code == 200
    # Its keys stay revoked.
    assert env.server.call('GET', '/auth/me', auth=key).status_code == 401


def test_delete_user(env, admin):
    u = env.new_user()
    key = env.generate_key(u)['key']
    t0 = time.monotonic()
    r = admin.call('DELETE', '/users/%d' % u.id)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == USER_FIELDS and j['active'] is False and j['id'] == u.id
    assert after_revocation(env.server, ('bearer', u.access), t0) == [401] * 6
    assert after_revocation(env.server, key, t0) == [401] * 6
    expect_error(env.server.call('POST', '/auth/login',
                                 body={'username': u.username, 'password': u.password}),
                 401, 'invalid_credentials')
    # The row and the trail stay.
    assert admin.call('GET', '/users/%d' % u.id).json()['active'] is False
    events = admin.call('GET', '/admin/audit?event=user_deleted&user_id=%d' % u.id).json()['events']
    assert len(events) == 1 and events[0]['principal'] == 'user:' + admin.username, events
    assert admin.call('GET', '/admin/audit?event=register&user_id=%d' % u.id).json()['events']


def test_delete_unknown_user(env, admin):
    expect_error(admin.call('DELETE', '/users/999999999'), 404, 'not_found')


# ------------------------------------------------------------------ audit

def audit(admin, query=''):
    r = admin.call('GET', '/admin/audit' + query)
    assert r.status_code == 200, r.text
    return r.json()


def test_audit_shape_and_request_context(env, admin):
    name = env.unique('aud')
    r = env.server.request('POST', '/auth/register',
                           json={'username': name, 'email': name + '@example.com',
                                 'password': 'Audit-pass-123'},
                           headers={'User-Agent': 'audit-agent/2', 'X-Request-ID': 'audit-' + name})
    assert r.status_code == 201, r.text
    uid = r.json()['id']
    j = audit(admin, '?event=register&user_id=%d' % uid)
    assert set(j) == {'events', 'next_cursor'}
    (e,) = j['events']
    assert set(e) == EVENT_FIELDS, e
    assert e['event'] == 'register' and e['user_id'] == uid
    assert e['ip'] == '127.0.0.1' and e['user_agent'] == 'audit-agent/2'
    assert e['request_id'] == 'audit-' + name
    assert re.match(r'^\d{4}-\d\d-\d\dT', e['at'])
    assert 'Audit-pass-123' not in str(j)


def test_login_events(env, admin):
    u = env.new_user(login=False)
    env.server.call('POST', '/auth/login', body={'username': u.username, 'password': 'wrong-pw-1'})
    u.login()
    fail = audit(admin, '?event=login_failure&user_id=%d' % u.id)['events']
    ok = audit(admin, '?event=login_success&user_id=%d' % u.id)['events']
    assert len(fail) == 1 and len(ok) == 1, (fail, ok)
    assert 'wrong-pw-1' not in str(fail)


def test_unknown_name_failure_and_lockout_are_audited(env, admin):
    ghost = env.unique('ghost')
    for _ in range(5):
        env.server.call('POST', '/auth/login', body={'username': ghost, 'password': 'nope-nope-1'})
    fails = [e for e in audit(admin, '?event=login_failure&limit=100')['events'] if ghost in str(e)]
    assert len(fails) == 5 and all(e['user_id'] is None for e in fails), fails
    locks = [e for e in audit(admin, '?event=lockout&limit=100')['events'] if ghost in str(e)]
    assert len(locks) == 1, locks


def test_user_changed_is_audited(env, admin):
    u = env.new_user(login=False)
    admin.call('PATCH', '/users/%d' % u.id, body={'role': 'readonly'})
    (e,) = audit(admin, '?event=user_changed&user_id=%d' % u.id)['events']
    assert e['principal'] == 'user:' + admin.username


def test_audit_pagination_newest_first(env, admin):
    u = env.new_user(login=False)
    for i in range(5):
        env.server.call('POST', '/auth/login', body={'username': u.username, 'password': 'bad-%d-xx' % i})
    ids, cursor = [], None
    for _ in range(10):
        j = audit(admin, '?event=login_failure&user_id=%d&limit=2%s'
                  % (u.id, '&cursor=%s' % cursor if cursor else ''))
        ids += [e['id'] for e in j['events']]
        cursor = j['next_cursor']
        if cursor is None:
            break
    assert len(ids) == 5 and ids == sorted(ids, reverse=True), ids


def test_audit_time_filters(env, admin):
    u = env.new_user(login=False)
    (e,) = audit(admin, '?event=register&user_id=%d' % u.id)['events']
    at = datetime.datetime.strptime(e['at'][:19], '%Y-%m-%dT%H:%M:%S')
    before = (at - datetime.timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%SZ')
    after = (at + datetime.timedelta(seconds=5)).strftime('%Y-%m-%dT%H:%M:%SZ')
    q = '?event=register&user_id=%d' % u.id
    assert len(audit(admin, q + '&since=' + before)['events']) == 1
    assert len(audit(admin, q + '&until=' + after)['events']) == 1
    assert audit(admin, q + '&since=' + after)['events'] == []
    assert audit(admin, q + '&until=' + before)['events'] == []


@pytest.mark.parametrize('query', ['limit=0', 'limit=101', 'since=yesterday', 'until=2026-13-45T00:00:00Z',
                                   'user_id=abc', 'cursor=x'])
def test_audit_bad_parameters(env, admin, query):
    expect_error(admin.call('GET', '/admin/audit?' + query), 400, 'invalid_parameter')


def test_audit_default_limit(env, admin):
    j = audit(admin)
    assert len(j['events']) <= 50
    if len(j['events']) == 50:
        assert j['next_cursor'] is not None


# ------------------------------------------------------------------ secrets at rest and in logs

def test_no_secret_in_database_or_logs(env, admin):
    """Passwords, refresh tokens, access tokens and API keys are never stored or logged."""
    u = env.new_user()
    key = env.generate_key(u)['key']
    env.server.call('GET', '/auth/me', auth=key)
    env.server.call('POST', '/auth/refresh', body={'refresh_token': u.refresh})
    env.server.call('POST', '/auth/login', body={'username': u.username, 'password': u.password + 'x'})
    secrets_ = [u.password, u.refresh, u.access, key, key.split('_')[2], STATIC_ADMIN[0]]
    dump = '\n'.join(str(row) for table in ('users', 'auth_sessions', 'refresh_tokens', 'api_keys',
                                            'revocations', 'audit_log', 'login_lockouts')
                     for row in env.sql('SELECT t::text FROM %s t' % table))
    logs = ''
    for s in env.servers:
        logs += s.error_log_text() + '\n'.join(s.access_log_lines())
    for secret in secrets_:
        assert secret not in dump, secret
        assert secret not in logs, secret
    assert env.jwt_secret not in logs
