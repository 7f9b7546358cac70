"""API keys: generate, list, revoke, rotate with grace; format and checksum refusals (without a
database), expiry, scopes, rate-limit overrides, static ProfileAPIKey keys."""
import datetime
import re
import time

import pytest

from profile_env import (APIKEY, STATIC_ADMIN, STATIC_READER, apikey_with_check, expect_error,
                         after_revocation, free_port, sha256_hex, wait_for)

RECORD_FIELDS = {'id', 'prefix', 'name', 'owner', 'scopes', 'created_at', 'last_used_at',
                 'expires_at', 'revoked_at', 'rate_limit'}
USER_SCOPES = {'profiles:read', 'profiles:write', 'sessions:read', 'sessions:write', 'comments:read'}
DB_ERRORS = r'(?i)database|connect|postgres'
TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')


def parse_ts(text):
    return datetime.datetime.strptime(text[:19], '%Y-%m-%dT%H:%M:%S').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def me(env, key, server=None):
    return (server or env.server).call('GET', '/auth/me', auth=key)


def check_record(k, owner):
    assert RECORD_FIELDS <= set(k), k
    assert k['prefix'] == 'pk_' + k['id']
    assert re.match(r'^[A-Za-z0-9]{12}$', k['id']), k
    assert k['owner'] == {'id': owner.id, 'username': owner.username}, k
    assert TIMESTAMP.match(k['created_at']), k
    assert not any('hash' in f or 'secret' in f for f in k), k


@pytest.mark.parametrize('prefix', ['', '/api/v1'])
def test_generate(env, user, prefix):
    r = user.call('POST', prefix + '/auth/api-keys/generate', body={'name': 'my laptop'})
    assert r.status_code == 201, r.text
    k = r.json()
    check_record(k, user)
    m = APIKEY.match(k['key'])
    assert m and m.group(1) == k['id'], k
    assert k['name'] == 'my laptop'
    assert set(k['scopes']) == USER_SCOPES          # the caller's scopes by default
    assert k['expires_at'] is None and k['revoked_at'] is None and k['last_used_at'] is None
    assert k['rate_limit'] is None
    # Stored as SHA-256 only.
    rows = env.sql('SELECT secret_hash FROM api_keys WHERE id = %s', k['id'])
    assert rows == [(sha256_hex(k['key']),)]
    r = me(env, k['key'])
    assert r.status_code == 200, r.text
    assert r.json()['auth'] == {'kind': 'api_key', 'key_id': k['id']} or \
        (r.json()['auth']['kind'] == 'api_key' and r.json()['auth']['key_id'] == k['id'])


def test_generate_with_options(env, user):
    t0 = time.time()
    k = env.generate_key(user, name='ci', scopes=['profiles:read', 'comments:read'],
                         expires_in_days=30, rate_limit={'requests': 500, 'window_s': 60})
    assert sorted(k['scopes']) == ['comments:read', 'profiles:read']
    assert abs(parse_ts(k['expires_at']) - (t0 + 30 * 86400)) < 120, k
    assert k['rate_limit'] == {'requests': 500, 'window_s': 60}
    assert me(env, k['key']).json()['scopes'] == ['profiles:read', 'comments:read'] or \
        sorted(me(env, k['key']).json()['scopes']) == ['comments:read', 'profiles:read']


@pytest.mark.parametrize('body', [
    {},
    {'name': ''},
    {'name': 'x' * 65},
    {'name': 7},
    {'name': 'ok', 'scopes': ['no-such-scope']},
    {'name': 'ok', 'scopes': 'profiles:read'},
    {'name': 'ok', 'expires_in_days': 0},
    {'name': 'ok', 'expires_in_days': 3651},
    {'name': 'ok', 'expires_in_days': 'soon'},
    {'name': 'ok', 'expires_in_days': 1.5},
    {'name': 'ok', 'rate_limit': {'requests': 0, 'window_s': 60}},
    {'name': 'ok', 'rate_limit': {'requests': 1000001, 'window_s': 60}},
    {'name': 'ok', 'rate_limit': {'requests': 10, 'window_s': 86401}},
    {'name': 'ok', 'rate_limit': {'requests': 10}},
    {'name': 'ok', 'rate_limit': 'lots'},
])
def test_generate_validation(env, user, body):
    expect_error(user.call('POST', '/auth/api-keys/generate', body=body), 400, 'validation_failed')


def test_generate_edges_accepted(env, user):
    env.generate_key(user, name='x' * 64, expires_in_days=3650,
                     rate_limit={'requests': 1000000, 'window_s': 86400})
    env.generate_key(user, name='y', expires_in_days=1, rate_limit={'requests': 1, 'window_s': 1})


def test_scopes_must_be_a_subset_of_the_callers(env, user):
    j = expect_error(user.call('POST', '/auth/api-keys/generate',
                               body={'name': 'escalate', 'scopes': ['admin']}), 403, 'forbidden')
    expect_error(user.call('POST', '/auth/api-keys/generate',
                           body={'name': 'escalate', 'scopes': ['profiles:read', 'cache:admin']}),
                 403, 'forbidden')
    # A key cannot make a key with more than it holds.
    narrow = env.generate_key(user, scopes=['profiles:read'])['key']
    expect_error(env.server.call('POST', '/auth/api-keys/generate', auth=narrow,
                                 body={'name': 'wider', 'scopes': ['profiles:write']}), 403, 'forbidden')
    k = env.generate_key(narrow, scopes=['profiles:read'])
    assert k['owner']['id'] == user.id and k['scopes'] == ['profiles:read']
    assert j['status'] == 403


def test_readonly_user_default_scopes(env):
    u = env.new_user('readonly')
    k = env.generate_key(u)
    assert set(k['scopes']) == {'profiles:read', 'sessions:read', 'comments:read'}


def test_owner_only_for_admins(env, user, admin):
    other = env.new_user(login=False)
    r = user.call('POST', '/auth/api-keys/generate', body={'name': 'for-other', 'owner': other.username})
    assert r.status_code == 403, r.text
    k = env.generate_key(admin, owner=other.username, scopes=['profiles:read'])
    assert k['owner'] == {'id': other.id, 'username': other.username}
    r = admin.call('POST', '/auth/api-keys/generate', body={'name': 'x', 'owner': env.unique('nobody')})
    assert r.status_code in (400, 404), r.text


def test_static_key_generates_only_with_owner(env, user):
    expect_error(env.server.call('POST', '/auth/api-keys/generate', auth=STATIC_ADMIN[0],
                                 body={'name': 'ownerless'}), 400, 'validation_failed')
    k = env.generate_key(STATIC_ADMIN[0], owner=user.username, scopes=['comments:read'])
    assert k['owner']['id'] == user.id
    assert me(env, k['key']).json()['id'] == user.id


def test_list_own_keys(env, user):
    mine = {env.generate_key(user)['id'] for _ in range(2)}
    other = env.new_user()
    theirs = env.generate_key(other)['id']
    r = user.call('GET', '/auth/api-keys')
    assert r.status_code == 200, r.text
    keys = r.json()['keys']
    assert {k['id'] for k in keys} == mine
    for k in keys:
        check_record(k, user)
        assert 'key' not in k
    assert theirs not in r.text


def test_list_never_shows_secrets(env, user):
    secret = env.generate_key(user)['key']
    r = user.call('GET', '/auth/api-keys')
    assert secret not in r.text and secret.split('_')[2] not in r.text
    assert sha256_hex(secret) not in r.text


def test_admin_lists_all_keys(env, user, admin):
    k = env.generate_key(user)['id']
    for auth in (admin, STATIC_ADMIN[0]):
        r = env.server.call('GET', '/api/v1/auth/api-keys', auth=auth)
        assert r.status_code == 200, r.text
        assert k in {x['id'] for x in r.json()['keys']}


def test_last_used_at_is_kept(env, user):
    k = env.generate_key(user)
    assert me(env, k['key']).status_code == 200

    def used():
        for x in user.call('GET', '/auth/api-keys').json()['keys']:
            if x['id'] == k['id']:
                return x['last_used_at'] is not None
    assert wait_for(used, 3)


def test_revoke(env, user):
    k = env.generate_key(user)
    assert me(env, k['key']).status_code == 200
    t0 = time.monotonic()
    r = user.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['id'] == k['id'] and TIMESTAMP.match(j['revoked_at'] or ''), j
    assert 'key' not in j
    assert after_revocation(env.server, k['key'], t0) == [401] * 6
    expect_error(me(env, k['key']), 401, 'invalid_key')
    listed = {x['id']: x for x in user.call('GET', '/auth/api-keys').json()['keys']}
    assert listed[k['id']]['revoked_at'] is not None


def test_revoke_someone_elses_key(env, user, admin):
    other = env.new_user()
    k = env.generate_key(other)
    expect_error(user.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']}), 404, 'not_found')
    assert me(env, k['key']).status_code == 200
    t0 = time.monotonic()
    assert admin.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']}).status_code == 200
    assert after_revocation(env.server, k['key'], t0) == [401] * 6


@pytest.mark.parametrize('body,status', [
    ({'key_id': 'AAAAAAAAAAAA'}, 404),
    ({'key_id': 'pk_AAAAAAAAAAAA'}, 404),
    ({}, 400),
    ({'key_id': 12}, 400),
])
def test_revoke_unknown(env, user, body, status):
    r = user.call('POST', '/auth/api-keys/revoke', body=body)
    expect_error(r, status, 'not_found' if status == 404 else 'validation_failed')


def test_rotate(env, user):
    k = env.generate_key(user)
    t0 = time.time()
    r = user.call('POST', '/auth/api-keys/%s/rotate' % k['id'])
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['id'] == k['id'] and APIKEY.match(j['key']) and j['key'] != k['key']
    assert APIKEY.match(j['key']).group(1) == k['id']
    assert abs(parse_ts(j['previous_valid_until']) - (t0 + 86400)) < 120, j
    check_record(j, user)
    assert me(env, j['key']).status_code == 200
    assert me(env, k['key']).status_code == 200        # within the grace period
    rows = env.sql('SELECT secret_hash, previous_secret_hash FROM api_keys WHERE id = %s', k['id'])
    assert rows == [(sha256_hex(j['key']), sha256_hex(k['key']))]


def test_rotate_someone_elses_key(env, user, admin):
    other = env.new_user()
    k = env.generate_key(other)
    expect_error(user.call('POST', '/auth/api-keys/%s/rotate' % k['id']), 404, 'not_found')
    assert admin.call('POST', '/api/v1/auth/api-keys/%s/rotate' % k['id']).status_code == 200


def test_rotate_unknown(env, user):
    expect_error(user.call('POST', '/auth/api-keys/AAAAAAAAAAAA/rotate'), 404, 'not_found')


def test_rotate_revoked_key(env, user):
    k = env.generate_key(user)
    t0 = time.monotonic()
    assert user.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']}).status_code == 200
    r = user.call('POST', '/auth/api-keys/%s/rotate' % k['id'])
    assert r.status_code in (404, 409), r.text
    assert after_revocation(env.server, k['key'], t0) == [401] * 6


def test_key_endpoints_need_credentials(env):
    expect_error(env.server.request('GET', '/auth/api-keys'), 401, 'unauthorized')
    expect_error(env.server.request('POST', '/auth/api-keys/generate', json={'name': 'x'}),
                 401, 'unauthorized')
    expect_error(env.server.request('POST', '/auth/api-keys/revoke', json={'key_id': 'x'}),
                 401, 'unauthorized')
    expect_error(env.server.request('POST', '/auth/api-keys/AAAAAAAAAAAA/rotate'), 401, 'unauthorized')


# ------------------------------------------------------------------ format and checksum

def mangled(key):
    m = APIKEY.match(key)
    kid, secret, check = m.groups()
    flip = lambda c: 'A' if c != 'A' else 'B'
    return {
        'secret-typo': 'pk_%s_%s%s_%s' % (kid, flip(secret[0]), secret[1:], check),
        'check-typo': 'pk_%s_%s_%s%s' % (kid, secret, check[:-1], flip(check[-1])),
        'truncated': key[:-1],
        'extended': key + 'A',
        'no-prefix': key[3:],
        'other-prefix': 'sk_' + key[3:],
        'lower-case': key.lower(),
        'with-space': key[:20] + ' ' + key[21:],
    }


@pytest.mark.parametrize('kind', ['secret-typo', 'check-typo', 'truncated', 'extended', 'no-prefix',
                                  'other-prefix', 'lower-case', 'with-space'])
def test_malformed_key_refused(env, user, kind):
    k = env.generate_key(user)['key']
    bad = mangled(k)[kind]
    if bad == k:
        pytest.skip('mangling left the key unchanged')
    expect_error(me(env, bad), 401, 'invalid_key')


def test_well_formed_unknown_key_refused(env):
    fake = apikey_with_check('pk_AAAAAAAAAAAA_' + 'B' * 32)
    expect_error(me(env, fake), 401, 'invalid_key')


def test_checksum_matches_the_documented_algorithm(env, user):
    k = env.generate_key(user)['key']
    assert apikey_with_check(k.rsplit('_', 1)[0]) == k


def test_seed_dev_key_is_not_valid_in_tests(env):
    expect_error(me(env, 'dev-api-key-12345'), 401, 'invalid_key')


@pytest.fixture(scope='module')
def no_database(module_server):
    # ProfileDatabase points at a port nobody listens on: key lookups cannot reach it.
    s = module_server('nodb', allow=(DB_ERRORS,), database='host=127.0.0.1 port=%d dbname=profile user=profile '
                                        'connect_timeout=2' % free_port(),
                      extra_conf='<Location /api/v1/monitoring/ping>\n'
                                 '    AuthType Profile\n    Require valid-user\n</Location>')
    return s


@pytest.mark.allow_errors(DB_ERRORS)
def test_bad_keys_refused_without_the_database(env, user, no_database):
    k = env.generate_key(user)['key']
    path = '/api/v1/monitoring/ping'
    for bad in mangled(k).values():
        if bad != k:
            expect_error(no_database.call('GET', '/auth/me', auth=bad), 401, 'invalid_key')
            assert no_database.call('GET', path, auth=bad).status_code == 401
    # A well-formed key needs the database: 503, never a 401 that would make a client drop it.
    for path_ in ('/auth/me', path):
        r = no_database.call('GET', path_, auth=k)
        assert r.status_code == 503, r.text
        assert int(r.headers['Retry-After']) >= 1
    # Static keys need no database.
    assert no_database.call('GET', path, auth=STATIC_READER[0]).status_code == 200
    assert no_database.request('GET', path).status_code == 401


# ------------------------------------------------------------------ expiry, scopes, owners

def test_expired_key_refused(env, user):
    k = env.generate_key(user, expires_in_days=1)
    env.sql("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", k['id'])
    expect_error(me(env, k['key']), 401, 'invalid_key')


def test_key_scopes_are_enforced(env, admin):
    narrow = env.generate_key(admin, scopes=['profiles:read'])['key']
    j = expect_error(env.server.call('GET', '/users', auth=narrow), 403, 'forbidden')
    assert j['details'] == {'required_scopes': ['admin']}
    wide = env.generate_key(admin, scopes=['admin'])['key']
    assert env.server.call('GET', '/users', auth=wide).status_code == 200


def test_keys_of_deactivated_owner_refused(env, user, admin):
    k = env.generate_key(user)['key']
    assert me(env, k).status_code == 200
    t0 = time.monotonic()
    assert admin.call('DELETE', '/users/%d' % user.id).status_code == 200
    assert after_revocation(env.server, k, t0) == [401] * 6


def test_key_generation_is_audited(env, user, admin):
    k = env.generate_key(user)
    user.call('POST', '/auth/api-keys/%s/rotate' % k['id'])
    user.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']})
    for event in ('key_generated', 'key_rotated', 'key_revoked'):
        r = admin.call('GET', '/admin/audit?event=%s&user_id=%d' % (event, user.id))
        events = r.json()['events']
        assert len(events) == 1, (event, events)
        assert k['id'] in str(events[0]['details']) or events[0]['details'] is None
        assert k['key'] not in r.text


# ------------------------------------------------------------------ static keys

def test_static_keys(env):
    admin_key, reader_key = STATIC_ADMIN[0], STATIC_READER[0]
    assert env.server.call('GET', '/users?limit=1', auth=admin_key).status_code == 200
    j = expect_error(env.server.call('GET', '/users', auth=reader_key), 403, 'forbidden')
    assert j['details'] == {'required_scopes': ['admin']}
    expect_error(me(env, admin_key + 'x'), 401, 'invalid_key')
    expect_error(me(env, admin_key.upper()), 401, 'invalid_key')


def test_static_reader_key_owns_no_keys(env, user):
    k = env.generate_key(user)['id']
    r = env.server.call('GET', '/auth/api-keys', auth=STATIC_READER[0])
    assert r.status_code == 200, r.text
    assert k not in {x['id'] for x in r.json()['keys']}
