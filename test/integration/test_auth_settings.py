"""What each authentication directive changes, on a server with non-default values."""
import os
import time

import pytest

from profile_env import expect_error, jwt_decode, jwt_hs, wait_for

BLOCKED = 'Correct-Horse-Battery'


@pytest.fixture(scope='module')
def tuned(env, module_server):
    blocklist = os.path.join(env.base, 'tuned-blocklist.txt')
    with open(blocklist, 'w') as f:
        f.write('# test list\n%s\n' % BLOCKED.lower())
    conf = '\n'.join([
        'ProfilePasswordMinLength 10',
        'ProfilePasswordBlocklist "%s"' % blocklist,
        'ProfileJWTIssuer https://issuer.test',
        'ProfileJWTAudience tuned-audience',
        'ProfileJWTLeeway 0',
        'ProfileAccessTokenLifetime 120',
        'ProfileRefreshTokenLifetime 600',
        'ProfileAPIKeyRotationGrace 2',
        'ProfileAuthRealm "tuned realm"',
    ])
    return module_server('tuned', extra_conf=conf)


def test_access_token_lifetime_issuer_audience(env, tuned, user):
    j = user.login(server=tuned)
    assert j['expires_in'] == 120
    claims = jwt_decode(j['access_token'])[1]
    assert claims['exp'] - claims['iat'] == 120
    assert claims['iss'] == 'https://issuer.test'
    assert claims['aud'] in ('tuned-audience', ['tuned-audience'])
    assert tuned.call('GET', '/auth/me', auth=('bearer', j['access_token'])).status_code == 200
    # Each server insists on its own issuer and audience, although the secret is the same.
    expect_error(env.server.call('GET', '/auth/me', auth=('bearer', j['access_token'])), 401,
                 'invalid_token')
    expect_error(tuned.call('GET', '/auth/me', auth=('bearer', user.login()['access_token'])), 401,
                 'invalid_token')


def test_refresh_token_lifetime(env, tuned, user):
    j = user.login(server=tuned)
    sid = jwt_decode(j['access_token'])[1]['sid']
    (seconds,), = env.sql('SELECT extract(epoch FROM expires_at - created_at) FROM auth_sessions '
                          'WHERE id = %s', sid)
    assert abs(float(seconds) - 600) < 5, seconds
    r = tuned.call('POST', '/auth/refresh', body={'refresh_token': j['refresh_token']})
    assert r.status_code == 200 and r.json()['expires_in'] == 120


def test_zero_leeway(env, tuned, user):
    claims = dict(jwt_decode(user.login(server=tuned)['access_token'])[1])
    claims['exp'] = int(time.time()) - 3
    token = jwt_hs(claims, env.jwt_secret)
    expect_error(tuned.call('GET', '/auth/me', auth=('bearer', token)), 401, 'invalid_token')
    claims['exp'] = int(time.time()) + 60
    claims['nbf'] = int(time.time()) + 5
    expect_error(tuned.call('GET', '/auth/me', auth=('bearer', jwt_hs(claims, env.jwt_secret))), 401,
                 'invalid_token')


def test_realm(env, tuned):
    r = tuned.request('GET', '/auth/me')
    assert r.headers.get('WWW-Authenticate') == 'Bearer realm="tuned realm"', r.headers
    r = tuned.request('GET', '/auth/me', headers={'Authorization': 'Bearer x.y.z'})
    assert r.headers['WWW-Authenticate'].startswith('Bearer realm="tuned realm", error="invalid_token"')


def test_minimum_length_and_blocklist(env, tuned):
    def reg(password):
        name = env.unique('ts')
        return tuned.call('POST', '/auth/register',
                          body={'username': name, 'email': name + '@example.com', 'password': password})
    j = expect_error(reg('Nine-ch-9'), 400, 'validation_failed')
    assert list(j['details']['fields']) == ['password']
    assert reg('Ten-chars-1').status_code == 201
    j = expect_error(reg(BLOCKED), 400, 'validation_failed')
    assert len(j['details']['fields']['password']) == 1
    # Only this server's list applies: the shipped one is not loaded there.
    assert reg('basketball').status_code == 201
    assert env.server.call('POST', '/auth/register',
                           body={'username': env.unique('ts'), 'email': env.unique('e') + '@example.com',
                                 'password': BLOCKED}).status_code == 201


def test_rotation_grace(env, tuned, user):
    k = env.generate_key(user)
    assert tuned.call('GET', '/auth/me', auth=k['key']).status_code == 200
    token = user.login(server=tuned)['access_token']
    t0 = time.monotonic()
    r = tuned.call('POST', '/auth/api-keys/%s/rotate' % k['id'], auth=('bearer', token))
    assert r.status_code == 200, r.text
    new = r.json()['key']
    assert tuned.call('GET', '/auth/me', auth=k['key']).status_code == 200    # within grace
    assert tuned.call('GET', '/auth/me', auth=new).status_code == 200
    # Past the 2 s grace (and a cached verdict of the old secret) it stops working.
    assert wait_for(lambda: tuned.call('GET', '/auth/me', auth=k['key']).status_code == 401, 5)
    assert time.monotonic() - t0 >= 1.5
    expect_error(tuned.call('GET', '/auth/me', auth=k['key']), 401, 'invalid_key')
    assert tuned.call('GET', '/auth/me', auth=new).status_code == 200
