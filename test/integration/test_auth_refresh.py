"""Refresh token rotation and reuse detection, logout (one session and all), and the session
list."""
import re
import secrets
import time

import pytest

from profile_env import after_revocation, expect_error, jwt_decode, sha256_hex

REFRESH = re.compile(r'^[A-Za-z0-9]{43,}$')


def refresh(server, token, as_bearer=False, prefix=''):
    if as_bearer:
        return server.call('POST', prefix + '/auth/refresh', auth=('bearer', token))
    return server.call('POST', prefix + '/auth/refresh', body={'refresh_token': token})


def me_status(server, token):
    return server.call('GET', '/auth/me', auth=('bearer', token)).status_code


def refused_after(server, token, since):
    """Whether every process refuses token 2 s after since (revocations reach all in 2 s)."""
    return after_revocation(server, ('bearer', token), since) == [401] * 6


def audit_events(env, event, user_id):
    r = env.admin.call('GET', '/admin/audit?event=%s&user_id=%d' % (event, user_id))
    assert r.status_code == 200, r.text
    return r.json()['events']


@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_refresh_rotates(env, user, prefix):
    old_access, old_refresh = user.access, user.refresh
    r = refresh(env.server, old_refresh, prefix=prefix)
    assert r.status_code == 200, r.text
    j = r.json()
    assert set(j) == {'access_token', 'token_type', 'expires_in', 'refresh_token'}, j
    assert j['token_type'] == 'bearer' and j['expires_in'] == 900
    assert REFRESH.match(j['refresh_token'])
    assert j['refresh_token'] != old_refresh and j['access_token'] != old_access
    old, new = jwt_decode(old_access)[1], jwt_decode(j['access_token'])[1]
    assert new['sid'] == old['sid'] and new['sub'] == old['sub'] and new['jti'] != old['jti']
    assert me_status(env.server, j['access_token']) == 200
    # The next refresh works with the new token.
    r2 = refresh(env.server, j['refresh_token'])
    assert r2.status_code == 200, r2.text


def test_refresh_as_bearer(env, user):
    r = refresh(env.server, user.refresh, as_bearer=True)
    assert r.status_code == 200, r.text
    assert me_status(env.server, r.json()['access_token']) == 200


def test_reused_refresh_token_revokes_the_family(env, user):
    first = user.refresh
    second = refresh(env.server, first).json()['refresh_token']
    # The spent token again: refused, and the family's live token dies with it.
    j = expect_error(refresh(env.server, first), 401, 'invalid_token')
    expect_error(refresh(env.server, second), 401, 'invalid_token')
    events = audit_events(env, 'refresh_reuse', user.id)
    assert len(events) == 1, events
    assert events[0]['user_id'] == user.id
    assert first not in str(events) and second not in str(events)
    assert j['path'] == '/auth/refresh'


def test_reuse_leaves_other_sessions_alone(env, user):
    other = env.server.call('POST', '/auth/login',
                            body={'username': user.username, 'password': user.password}).json()
    first = user.refresh
    refresh(env.server, first)
    expect_error(refresh(env.server, first), 401, 'invalid_token')
    assert refresh(env.server, other['refresh_token']).status_code == 200


@pytest.mark.parametrize('token', [
    lambda: secrets.token_urlsafe(40).replace('-', 'a').replace('_', 'b')[:43],  # well-formed, unknown
    lambda: 'short',
    lambda: 'x' * 5000,
    lambda: '../../etc/passwd',
], ids=['unknown', 'short', 'long', 'junk'])
def test_unknown_refresh_token(env, token):
    r = refresh(env.server, token())
    expect_error(r, 401, 'invalid_token')
    assert 'WWW-Authenticate' not in r.headers or 'invalid_token' in r.headers['WWW-Authenticate']


def test_access_token_is_not_a_refresh_token(env, user):
    expect_error(refresh(env.server, user.access), 401, 'invalid_token')
    expect_error(refresh(env.server, user.access, as_bearer=True), 401, 'invalid_token')


def test_refresh_without_a_token(env):
    r = env.server.call('POST', '/auth/refresh', body={})
    assert r.status_code in (400, 401), r.text
    r = env.server.request('POST', '/auth/refresh')
    assert r.status_code in (400, 401), r.text


def test_expired_refresh_token(env, user):
    env.sql('UPDATE refresh_tokens SET expires_at = now() - interval \'1 second\' '
            'WHERE token_hash = %s', sha256_hex(user.refresh))
    env.sql('UPDATE auth_sessions SET expires_at = now() - interval \'1 second\' WHERE id = %s',
            jwt_decode(user.access)[1]['sid'])
    expect_error(refresh(env.server, user.refresh), 401, 'invalid_token')


def test_refresh_tokens_stored_as_hashes(env, user):
    rows = env.sql('SELECT token_hash FROM refresh_tokens WHERE family_id = %s',
                   jwt_decode(user.access)[1]['sid'])
    assert [r[0] for r in rows] == [sha256_hex(user.refresh)]


def test_refresh_is_audited(env, user):
    assert refresh(env.server, user.refresh).status_code == 200
    assert len(audit_events(env, 'refresh', user.id)) == 1


def test_refresh_of_deactivated_user_refused(env, user):
    assert env.admin.call('DELETE', '/users/%d' % user.id).status_code == 200
    expect_error(refresh(env.server, user.refresh), 401, 'invalid_token')


# ------------------------------------------------------------------ logout

@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_logout(env, user, prefix):
    access, refresh_token = user.access, user.refresh
    t0 = time.monotonic()
    r = user.call('POST', prefix + '/auth/logout')
    assert r.status_code == 200, r.text
    assert r.json() == {'logged_out': True, 'sessions_revoked': 1}
    assert refused_after(env.server, access, t0)
    expect_error(env.server.call('GET', '/auth/me', auth=('bearer', access)), 401, 'invalid_token')
    expect_error(refresh(env.server, refresh_token), 401, 'invalid_token')
    assert len(audit_events(env, 'logout', user.id)) == 1


def test_logout_leaves_other_sessions(env, user):
    other = env.server.call('POST', '/auth/login',
                            body={'username': user.username, 'password': user.password}).json()
    assert user.call('POST', '/auth/logout').status_code == 200
    time.sleep(1.2)            # past a revocation poll: the other session must still work
    assert me_status(env.server, other['access_token']) == 200
    assert refresh(env.server, other['refresh_token']).status_code == 200


def test_logout_all(env, user):
    sessions = [env.server.call('POST', '/auth/login',
                                body={'username': user.username, 'password': user.password}).json()
                for _ in range(2)]
    t0 = time.monotonic()
    r = user.call('POST', '/auth/logout?all=true')
    assert r.status_code == 200, r.text
    assert r.json() == {'logged_out': True, 'sessions_revoked': 3}
    for s in sessions:
        assert refused_after(env.server, s['access_token'], t0)
        expect_error(refresh(env.server, s['refresh_token']), 401, 'invalid_token')
    assert refused_after(env.server, user.access, t0)
    # A new login afterwards works (tokens issued after the voiding are fine).
    time.sleep(1.1)
    j = user.login()
    assert me_status(env.server, j['access_token']) == 200


def test_logout_with_api_key_is_not_a_session(env, user):
    key = env.generate_key(user)['key']
    expect_error(env.server.call('POST', '/auth/logout', auth=key), 400, 'not_a_session')


def test_logout_with_static_key_is_not_a_session(env):
    from profile_env import STATIC_ADMIN
    expect_error(env.server.call('POST', '/auth/logout', auth=STATIC_ADMIN[0]), 400, 'not_a_session')


def test_logout_needs_credentials(env):
    expect_error(env.server.request('POST', '/auth/logout'), 401, 'unauthorized')


def test_logout_twice(env, user):
    t0 = time.monotonic()
    assert user.call('POST', '/auth/logout').status_code == 200
    assert refused_after(env.server, user.access, t0)
    expect_error(user.call('POST', '/auth/logout'), 401, 'invalid_token')


# ------------------------------------------------------------------ sessions

def login_as(env, user, agent):
    r = env.server.request('POST', '/auth/login', json={'username': user.username,
                                                         'password': user.password},
                           headers={'User-Agent': agent})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_session_list(env, user, prefix):
    other = login_as(env, user, 'session-test-agent/1.0')
    r = user.call('GET', prefix + '/auth/sessions')
    assert r.status_code == 200, r.text
    sessions = r.json()['sessions']
    assert len(sessions) == 2, sessions
    mine = jwt_decode(user.access)[1]['sid']
    theirs = jwt_decode(other['access_token'])[1]['sid']
    by_id = {s['id']: s for s in sessions}
    assert set(by_id) == {mine, theirs}
    assert by_id[mine]['current'] is True and by_id[theirs]['current'] is False
    assert by_id[theirs]['user_agent'] == 'session-test-agent/1.0'
    for s in sessions:
        assert set(s) == {'id', 'created_at', 'last_used_at', 'ip', 'user_agent', 'current'}, s
        assert s['ip'] == '127.0.0.1'
    assert user.refresh not in r.text and other['refresh_token'] not in r.text


def test_session_list_after_logout(env, user):
    other = login_as(env, user, 'gone/1.0')
    assert env.server.call('POST', '/auth/logout', auth=('bearer', other['access_token'])).status_code == 200
    ids = [s['id'] for s in user.call('GET', '/auth/sessions').json()['sessions']]
    assert ids == [jwt_decode(user.access)[1]['sid']]


def test_delete_session(env, user):
    other = login_as(env, user, 'to-delete/1.0')
    sid = jwt_decode(other['access_token'])[1]['sid']
    r = user.call('DELETE', '/auth/sessions/' + sid)
    assert r.status_code == 204, r.text
    assert r.content == b''
    expect_error(refresh(env.server, other['refresh_token']), 401, 'invalid_token')
    ids = [s['id'] for s in user.call('GET', '/auth/sessions').json()['sessions']]
    assert sid not in ids
    expect_error(user.call('DELETE', '/auth/sessions/' + sid), 404, 'not_found')


def test_delete_someone_elses_session(env, user):
    victim = env.new_user()
    sid = jwt_decode(victim.access)[1]['sid']
    expect_error(user.call('DELETE', '/auth/sessions/' + sid), 404, 'not_found')
    assert refresh(env.server, victim.refresh).status_code == 200


@pytest.mark.parametrize('sid', ['0' * 32, 'nothex', 'x' * 200])
def test_delete_unknown_session(env, user, sid):
    expect_error(user.call('DELETE', '/auth/sessions/' + sid), 404, 'not_found')


def test_sessions_need_credentials(env):
    expect_error(env.server.request('GET', '/auth/sessions'), 401, 'unauthorized')
    expect_error(env.server.request('DELETE', '/auth/sessions/' + '0' * 32), 401, 'unauthorized')
