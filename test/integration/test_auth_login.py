"""POST /auth/login: tokens and their claims, equal failures, lockout and its expiry, equal
timing for unknown names, rehash on login, the bound on concurrent hashing."""
import concurrent.futures
import hashlib
import hmac
import re
import statistics
import time

import pytest

from profile_env import b64url, b64url_decode, expect_error, jwt_decode

PREFIXES = ['', '/api/v1']
REFRESH = re.compile(r'^[A-Za-z0-9]{43,}$')
USER_SCOPES = {'profiles:read', 'profiles:write', 'sessions:read', 'sessions:write', 'comments:read'}


def login(server, name, password, field='username'):
    return server.call('POST', '/auth/login', body={field: name, 'password': password})


@pytest.mark.parametrize('prefix', PREFIXES)
def test_login_answers_tokens(env, prefix):
    u = env.new_user(login=False)
    t0 = int(time.time())
    r = env.server.call('POST', prefix + '/auth/login',
                        body={'username': u.username, 'password': u.password})
    assert r.status_code == 200, r.text
    assert r.headers.get('Cache-Control') == 'no-store'
    j = r.json()
    assert set(j) == {'access_token', 'token_type', 'expires_in', 'refresh_token'}, j
    assert j['token_type'] == 'bearer'
    assert j['expires_in'] == 900
    assert REFRESH.match(j['refresh_token']), j
    header, claims = jwt_decode(j['access_token'])
    assert header.get('alg') == 'HS256' and header.get('typ') == 'JWT', header
    assert claims['iss'] == 'mod_profile'
    assert claims['aud'] in ('profile-api', ['profile-api'])
    assert claims['sub'] == str(u.id)
    assert claims['preferred_username'] == u.username
    assert claims['role'] == 'user'
    assert set(claims['scope'].split(' ')) == USER_SCOPES
    assert abs(claims['iat'] - t0) <= 5 and claims['nbf'] <= claims['iat'] + 1
    assert claims['exp'] - claims['iat'] == 900
    assert len(claims['jti']) >= 16
    assert re.match(r'^[0-9a-f]{32}$', claims['sid']), claims
    # Signed with the configured secret (HS256).
    signing_input, sig = j['access_token'].rsplit('.', 1)
    expected = hmac.new(env.jwt_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert b64url_decode(sig) == expected
    assert b64url(expected) == sig


def test_sub_is_the_user_id(env):
    u = env.new_user()
    r = u.call('GET', '/auth/me')
    assert r.status_code == 200, r.text
    assert jwt_decode(u.access)[1]['sub'] == str(r.json()['id'])


def test_each_login_is_a_new_session(env):
    u = env.new_user(login=False)
    a, b = u.login(), u.login()
    assert a['refresh_token'] != b['refresh_token']
    ca, cb = jwt_decode(a['access_token'])[1], jwt_decode(b['access_token'])[1]
    assert ca['jti'] != cb['jti'] and ca['sid'] != cb['sid']


def test_login_by_email_and_any_case(env):
    u = env.new_user(login=False)
    assert login(env.server, u.email, u.password).status_code == 200
    assert login(env.server, u.email.upper(), u.password).status_code == 200
    assert login(env.server, u.username.upper(), u.password).status_code == 200
    assert login(env.server, u.email, u.password, field='email').status_code == 200


def failure_body(r):
    j = expect_error(r, 401, 'invalid_credentials')
    return j['message'], j['details']


def test_failures_look_the_same(env, admin):
    u = env.new_user(login=False)
    gone = env.new_user(login=False)
    r = admin.call('DELETE', '/users/%d' % gone.id)
    assert r.status_code == 200, r.text
    wrong = failure_body(login(env.server, u.username, u.password + 'x'))
    unknown = failure_body(login(env.server, env.unique('nobody'), u.password))
    inactive = failure_body(login(env.server, gone.username, gone.password))
    assert wrong == unknown == inactive


def test_wrong_password_is_not_a_bearer_challenge(env):
    u = env.new_user(login=False)
    r = login(env.server, u.username, 'not-the-password')
    failure_body(r)
    assert r.headers.get('Cache-Control') == 'no-store'


@pytest.mark.parametrize('body', [
    {'password': 'whatever-123'},
    {'username': 'someone'},
    {'username': 'someone', 'password': 17},
    {'username': ['someone'], 'password': 'whatever-123'},
    {},
])
def test_incomplete_login_is_a_client_error(env, body):
    r = env.server.call('POST', '/auth/login', body=body)
    assert r.status_code == 400, r.text
    assert r.json()['error'] in ('validation_failed', 'invalid_parameter'), r.text


def test_login_needs_post(env):
    r = env.server.request('GET', '/auth/login')
    expect_error(r, 405, 'method_not_allowed')


# ------------------------------------------------------------------ lockout

def lock(server, name, attempts=5):
    """Fails attempts times; every one of them must be a plain 401."""
    for i in range(attempts):
        r = login(server, name, 'wrong-password-%d' % i)
        assert r.status_code == 401, (i, r.text)


def locked_answer(r):
    j = expect_error(r, 429, 'too_many_attempts')
    retry = int(r.headers['Retry-After'])
    return j, retry


def test_lockout_after_five_failures(env):
    u = env.new_user(login=False)
    lock(env.server, u.username)
    j, retry = locked_answer(login(env.server, u.username, u.password))   # even the right one
    assert 800 <= retry <= 900, retry
    locked_answer(login(env.server, u.username.upper(), u.password))


def test_lockout_same_for_unknown_names(env):
    u = env.new_user(login=False)
    ghost = env.unique('ghost')
    lock(env.server, u.username)
    lock(env.server, ghost)
    real, r1 = locked_answer(login(env.server, u.username, 'x-wrong-1'))
    fake, r2 = locked_answer(login(env.server, ghost, 'x-wrong-1'))
    assert (real['message'], real['details']) == (fake['message'], fake['details'])
    assert abs(r1 - r2) <= 2


def test_fewer_failures_do_not_lock(env):
    u = env.new_user(login=False)
    lock(env.server, u.username, attempts=4)
    assert login(env.server, u.username, u.password).status_code == 200


def test_failures_count_case_insensitively(env):
    u = env.new_user(login=False)
    for name in (u.username, u.username.upper(), u.username.lower(), u.username.title(),
                 u.username.upper()):
        assert login(env.server, name, 'wrong-pass-xyz').status_code == 401
    locked_answer(login(env.server, u.username, u.password))


@pytest.fixture(scope='module')
def quicklock(module_server):
    # Three failures in a minute lock a name for 2 seconds.
    return module_server('quicklock', extra_conf='ProfileLoginLockout 3 60 2')


def test_lockout_expires(env, quicklock):
    u = env.new_user(login=False)
    lock(quicklock, u.username, attempts=3)
    _, retry = locked_answer(login(quicklock, u.username, u.password))
    assert 1 <= retry <= 2, retry
    time.sleep(retry + 0.5)
    assert login(quicklock, u.username, u.password).status_code == 200


def test_success_clears_the_failure_count(env, quicklock):
    u = env.new_user(login=False)
    lock(quicklock, u.username, attempts=2)
    assert login(quicklock, u.username, u.password).status_code == 200
    lock(quicklock, u.username, attempts=2)
    assert login(quicklock, u.username, u.password).status_code == 200


# ------------------------------------------------------------------ timing

def test_unknown_user_costs_as_much_as_a_wrong_password(env):
    # Five accounts with four wrong passwords each stay below the lockout of five.
    users = [env.new_user(login=False) for _ in range(5)]
    wrong, unknown = [], []

    def timed(name):
        t = time.perf_counter()
        r = login(env.server, name, 'not-the-password-1')
        elapsed = time.perf_counter() - t
        assert r.status_code == 401, r.text
        return elapsed

    timed(env.unique('warm'))
    for i in range(20):
        # Interleaved, so load on the machine hits both sides alike.
        wrong.append(timed(users[i % 5].username))
        unknown.append(timed(env.unique('nobody')))
    mw, mu = statistics.median(wrong), statistics.median(unknown)
    assert max(mw, mu) / min(mw, mu) <= 1.25, (mw, mu, wrong, unknown)
    # Both really verify an argon2id hash (19 MiB, t=2): not a shortcut.
    assert min(mw, mu) > 0.005, (mw, mu)


# ------------------------------------------------------------------ rehash

@pytest.fixture(scope='module')
def light_hashing(module_server):
    return module_server('light-hash', extra_conf='ProfilePasswordHashing m=8192 t=1 p=1')


def stored_hash(env, user):
    (phc,), = env.sql('SELECT password_hash FROM users WHERE id = %s', user.id)
    return phc


def test_rehash_on_login_when_parameters_change(env, light_hashing):
    u = env.new_user(login=False)
    assert stored_hash(env, u).startswith('$argon2id$v=19$m=19456,t=2,p=1$')
    assert login(light_hashing, u.username, u.password).status_code == 200
    assert stored_hash(env, u).startswith('$argon2id$v=19$m=8192,t=1,p=1$')
    # Both servers still verify it (the parameters live in the PHC string).
    assert login(env.server, u.username, u.password).status_code == 200
    assert stored_hash(env, u).startswith('$argon2id$v=19$m=19456,t=2,p=1$')


def test_failed_login_does_not_rehash(env, light_hashing):
    u = env.new_user(login=False)
    before = stored_hash(env, u)
    assert login(light_hashing, u.username, 'wrong-password-1').status_code == 401
    assert stored_hash(env, u) == before


def test_register_uses_the_configured_parameters(env, light_hashing):
    u = env.new_user(login=False, server=light_hashing)
    assert stored_hash(env, u).startswith('$argon2id$v=19$m=8192,t=1,p=1$')


# ------------------------------------------------------------------ bounds

def test_concurrent_hashing_is_bounded(env, fresh):
    # One hash at a time per process, each slow: a burst finds the bound full.
    s = fresh('busy', extra_conf='ProfilePasswordHashConcurrency 1\n'
                                 'ProfilePasswordHashing m=65536 t=3 p=1')
    names = [env.unique('burst') for _ in range(16)]
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(lambda n: login(s, n, 'whatever-pass-1'), names))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {401, 503}, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert busy, statuses
    assert 401 in statuses, statuses
    for r in busy:
        expect_error(r, 503, 'busy')
        assert int(r.headers['Retry-After']) >= 1, r.headers


def test_login_without_signing_key_is_503(env, fresh):
    s = fresh('nokey', jwt_secret=None)
    u = env.new_user(login=False)
    r = login(s, u.username, u.password)
    j = expect_error(r, 503, 'service_unavailable')
    assert 'token signing is not configured' in j['message'], j
    assert int(r.headers['Retry-After']) >= 1
    refreshed = s.call('POST', '/auth/refresh', body={'refresh_token': u.login()['refresh_token']})
    expect_error(refreshed, 503, 'service_unavailable')
    # The refresh token was not spent by the refusal.
    assert env.server.call('POST', '/auth/refresh', body={'refresh_token': u.refresh}).status_code == 200
    # Registration and API keys need no signing key.
    assert env.new_user(login=False, server=s).id
    assert s.call('GET', '/auth/me', auth=env.generate_key(u)['key']).status_code == 200
