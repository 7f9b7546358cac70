"""POST /auth/register: the account it makes, the password policy, uniqueness, closed
registration."""
import re
import secrets

import pytest

from profile_env import expect_error

PREFIXES = ['', '/api/v1']
TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')


def register(server, username, email, password):
    return server.call('POST', '/auth/register',
                       body={'username': username, 'email': email, 'password': password})


def fields_of(r):
    j = expect_error(r, 400, 'validation_failed')
    fields = j['details']['fields']
    for name, msgs in fields.items():
        assert isinstance(msgs, list) and msgs and all(isinstance(m, str) and m for m in msgs), j
    return fields


@pytest.mark.parametrize('prefix', PREFIXES)
def test_register_answers_the_user(env, prefix):
    name = env.unique('reg')
    r = env.server.call('POST', prefix + '/auth/register',
                        body={'username': name, 'email': name + '@example.com',
                              'password': 'Sturdy-Pass-92'})
    assert r.status_code == 201, r.text
    assert r.headers['Content-Type'].startswith('application/json')
    assert r.headers.get('API-Version') == '1'
    j = r.json()
    assert isinstance(j['id'], int) and j['id'] > 0
    assert j['username'] == name
    assert j['email'] == name + '@example.com'
    assert j['role'] == 'user'
    assert j['active'] is True
    assert TIMESTAMP.match(j['created_at']), j
    assert not any('password' in k or 'hash' in k for k in j), j
    assert 'Sturdy-Pass-92' not in r.text and 'argon2' not in r.text


def test_registered_user_can_log_in_and_is_stored_as_argon2id(env):
    name = env.unique('reg')
    r = register(env.server, name, name + '@example.com', 'Sturdy-Pass-93')
    assert r.status_code == 201, r.text
    r = env.server.call('POST', '/auth/login', body={'username': name, 'password': 'Sturdy-Pass-93'})
    assert r.status_code == 200, r.text
    (phc,), = env.sql('SELECT password_hash FROM users WHERE username = %s', name)
    assert phc.startswith('$argon2id$v=19$m=19456,t=2,p=1$'), phc
    assert 'Sturdy-Pass-93' not in phc


def test_seed_example_password_is_long_enough_in_tests(env):
    # ProfilePasswordMinLength 8 (as in the dev stack) lets the seed's 9-byte password pass.
    name = env.unique('seed')
    r = register(env.server, name, name + '@example.com', 'Admin123!')
    assert r.status_code == 201, r.text


@pytest.mark.parametrize('username', ['ab', 'x' * 33, 'bad name', 'semi;colon', 'ünïcode', 'a@b',
                                      ''])
def test_bad_username(env, username):
    fields = fields_of(register(env.server, username, env.unique('e') + '@example.com',
                                'Sturdy-Pass-94'))
    assert set(fields) == {'username'}, fields


@pytest.mark.parametrize('make', [
    lambda env: 'z' + secrets.token_hex(1),                      # 3 characters, the minimum
    lambda env: env.unique('A.b-c_d'),                           # every allowed punctuation
    lambda env: env.unique('l').ljust(32, 'x'),                  # 32 characters, the maximum
], ids=['3-chars', 'punctuation', '32-chars'])
def test_username_edges_accepted(env, make):
    r = register(env.server, make(env), env.unique('e') + '@example.com', 'Sturdy-Pass-95')
    assert r.status_code == 201, r.text


@pytest.mark.parametrize('email', ['not-an-email', 'a@', '@example.com', 'a b@example.com',
                                   'a@@example.com', ''])
def test_bad_email(env, email):
    fields = fields_of(register(env.server, env.unique('em'), email, 'Sturdy-Pass-96'))
    assert set(fields) == {'email'}, fields


def test_password_too_short(env):
    fields = fields_of(register(env.server, env.unique('pw'), env.unique('e') + '@example.com',
                                'Zq7#kT1'))
    assert set(fields) == {'password'}
    assert len(fields['password']) == 1, fields


def test_password_too_long(env):
    fields = fields_of(register(env.server, env.unique('pw'), env.unique('e') + '@example.com',
                                'Zq7#kT1x' * 32 + 'y'))             # 257 bytes
    assert set(fields) == {'password'}
    assert len(fields['password']) == 1, fields


def test_password_of_256_bytes_accepted(env):
    r = register(env.server, env.unique('pw'), env.unique('e') + '@example.com', 'Zq7#kT1x' * 32)
    assert r.status_code == 201, r.text


def test_password_minimum_counts_characters(env):
    # NIST 800-63B counts code points: four two-byte characters are 4, not 8.
    fields = fields_of(register(env.server, env.unique('pw'), env.unique('e') + '@example.com', 'äöüß'))
    assert set(fields) == {'password'}
    r = register(env.server, env.unique('pw'), env.unique('e') + '@example.com', 'äöüßäöüß')
    assert r.status_code == 201, r.text


def test_password_maximum_counts_bytes(env):
    # 129 two-byte characters: 258 bytes, over the 256-byte maximum.
    fields = fields_of(register(env.server, env.unique('pw'), env.unique('e') + '@example.com', 'ä' * 129))
    assert set(fields) == {'password'}


@pytest.mark.parametrize('password', ['password', 'PASSWORD', 'Password', 'iloveyou'])
def test_common_password_refused(env, password):
    fields = fields_of(register(env.server, env.unique('pw'), env.unique('e') + '@example.com',
                                password))
    assert set(fields) == {'password'}
    assert len(fields['password']) == 1, fields


def test_password_containing_username_refused(env):
    name = env.unique('pw')
    fields = fields_of(register(env.server, name, env.unique('e') + '@example.com',
                                'Zq7-' + name.upper() + '-1'))
    assert set(fields) == {'password'}
    assert len(fields['password']) == 1, fields


def test_every_unmet_password_rule_listed(env):
    name = env.unique('p')
    # Too short and containing the username.
    password = name[:7]
    fields = fields_of(register(env.server, name[:7], env.unique('e') + '@example.com', password))
    assert len(fields['password']) == 2, fields


def test_all_bad_fields_reported_at_once(env):
    fields = fields_of(register(env.server, 'x', 'nope', 'short'))
    assert set(fields) == {'username', 'email', 'password'}, fields


def test_missing_fields_reported(env):
    fields = fields_of(env.server.call('POST', '/auth/register', body={}))
    assert set(fields) == {'username', 'email', 'password'}, fields


@pytest.mark.parametrize('body', [
    {'username': 123, 'email': 'n@example.com', 'password': 'Sturdy-Pass-97'},
    {'username': 'numbers', 'email': ['n@example.com'], 'password': 'Sturdy-Pass-97'},
    {'username': 'numbers', 'email': 'n@example.com', 'password': None},
])
def test_wrong_types_are_validation_errors(env, body):
    expect_error(env.server.call('POST', '/auth/register', body=body), 400, 'validation_failed')


def test_body_that_is_not_an_object(env):
    r = env.server.call('POST', '/auth/register', body=['a', 'b'])
    assert r.status_code == 400, r.text


def test_no_body(env):
    r = env.server.request('POST', '/auth/register')
    assert r.status_code == 400, r.text


def test_username_taken_case_insensitively(env):
    name = env.unique('dup')
    assert register(env.server, name, name + '@example.com', 'Sturdy-Pass-98').status_code == 201
    j = expect_error(register(env.server, name.upper(), 'other-' + name + '@example.com',
                              'Sturdy-Pass-98'), 409, 'conflict')
    assert j['details'] == {'field': 'username'}, j


def test_email_taken_case_insensitively(env):
    name = env.unique('dup')
    assert register(env.server, name, name + '@example.com', 'Sturdy-Pass-99').status_code == 201
    j = expect_error(register(env.server, name + 'b', name.upper() + '@EXAMPLE.COM',
                              'Sturdy-Pass-99'), 409, 'conflict')
    assert j['details'] == {'field': 'email'}, j


def test_registration_closed_by_default(env, fresh):
    s = fresh('closed', auth_conf=False)
    name = env.unique('cl')
    j = expect_error(register(s, name, name + '@example.com', 'Sturdy-Pass-90-x'), 403,
                     'registration_closed')
    assert j['path'] == '/auth/register'
    assert not env.sql('SELECT 1 FROM users WHERE username = %s', name)


def test_register_needs_post(env):
    r = env.server.request('GET', '/auth/register')
    expect_error(r, 405, 'method_not_allowed')
    assert 'POST' in r.headers['Allow']
