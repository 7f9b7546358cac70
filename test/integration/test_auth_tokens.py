"""Bearer access tokens: forged, altered and stale JWTs are all refused with 401 invalid_token
and an RFC 6750 challenge; the configured algorithm alone is accepted (HS256, RS256, ES256);
X-API-Key takes precedence over Authorization."""
import json
import os
import re
import secrets
import time

import pytest

from profile_env import (STATIC_ADMIN, after_revocation, b64url, b64url_decode, expect_error, jwt_decode, jwt_hs, jwt_rs256,
                         jwt_unsigned, openssl_keypair)

CHALLENGE_INVALID = re.compile(
    r'^Bearer realm="profile-api", error="invalid_token", error_description="[^"\\]+"$')


def me(server, token):
    return server.call('GET', '/auth/me', auth=('bearer', token))


def assert_invalid_token(r):
    j = expect_error(r, 401, 'invalid_token')
    assert CHALLENGE_INVALID.match(r.headers.get('WWW-Authenticate', '')), r.headers
    return j


@pytest.fixture
def claims(env, user):
    """The claims of a real access token of a fresh user, with a fresh jti."""
    c = dict(jwt_decode(user.access)[1])
    c['jti'] = secrets.token_hex(16)
    return c


def now():
    return int(time.time())


def with_(claims, **changes):
    c = dict(claims)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def test_self_signed_token_is_accepted(env, claims):
    # The control for every forgery below: the harness makes tokens the server accepts.
    r = me(env.server, jwt_hs(claims, env.jwt_secret))
    assert r.status_code == 200, r.text
    assert r.json()['auth']['kind'] == 'jwt'


def test_issued_token_is_accepted_at_both_paths(env, user):
    for prefix in ('', '/api/v1'):
        r = env.server.call('GET', prefix + '/auth/me', auth=user)
        assert r.status_code == 200, r.text


FORGERIES = {
    'alg-none': lambda c, s: jwt_unsigned(c, 'none'),
    'alg-None': lambda c, s: jwt_unsigned(c, 'None'),
    'alg-NONE': lambda c, s: jwt_unsigned(c, 'NONE'),
    'alg-none-with-signature': lambda c, s: jwt_unsigned(c, 'none') + b64url(b'x' * 32),
    'alg-missing': lambda c, s: jwt_hs(c, s, header={'typ': 'JWT'}),
    'HS384': lambda c, s: jwt_hs(c, s, 'HS384'),
    'HS512': lambda c, s: jwt_hs(c, s, 'HS512'),
    'HS256-labelled-RS256': lambda c, s: jwt_hs(c, s, header={'alg': 'RS256', 'typ': 'JWT'}),
    'HS256-labelled-ES256': lambda c, s: jwt_hs(c, s, header={'alg': 'ES256', 'typ': 'JWT'}),
    'other-secret': lambda c, s: jwt_hs(c, secrets.token_urlsafe(48)),
    'empty-secret': lambda c, s: jwt_hs(c, ''),
    'typ-not-JWT': lambda c, s: jwt_hs(c, s, header={'alg': 'HS256', 'typ': 'xyz'}),
    'tampered-role': lambda c, s: tamper(jwt_hs(c, s), role='admin', scope='admin'),
    'tampered-sub': lambda c, s: tamper(jwt_hs(c, s), sub='1'),
    'tampered-exp': lambda c, s: tamper(jwt_hs(with_(c, exp=now() - 3600), s), exp=now() + 3600),
    'signature-stripped': lambda c, s: jwt_hs(c, s).rsplit('.', 1)[0] + '.',
    'signature-truncated': lambda c, s: jwt_hs(c, s)[:-4],
    'expired': lambda c, s: jwt_hs(with_(c, iat=now() - 3600, nbf=now() - 3600, exp=now() - 120), s),
    'no-exp': lambda c, s: jwt_hs(with_(c, exp=None), s),
    'nbf-in-future': lambda c, s: jwt_hs(with_(c, nbf=now() + 120), s),
    'wrong-iss': lambda c, s: jwt_hs(with_(c, iss='someone-else'), s),
    'no-iss': lambda c, s: jwt_hs(with_(c, iss=None), s),
    'wrong-aud': lambda c, s: jwt_hs(with_(c, aud='other-api'), s),
    'wrong-aud-list': lambda c, s: jwt_hs(with_(c, aud=['other-api', 'more']), s),
    'no-aud': lambda c, s: jwt_hs(with_(c, aud=None), s),
    'no-sub': lambda c, s: jwt_hs(with_(c, sub=None), s),
    'no-jti': lambda c, s: jwt_hs(with_(c, jti=None), s),
    'huge-9KiB': lambda c, s: jwt_hs(with_(c, pad='x' * 9216), s),
    'garbage': lambda c, s: 'garbage',
    'three-dots': lambda c, s: '...',
    'two-parts': lambda c, s: jwt_hs(c, s).rsplit('.', 1)[0],
    'four-parts': lambda c, s: jwt_hs(c, s) + '.abc',
    'not-base64': lambda c, s: '!!!.@@@.###',
    'header-not-json': lambda c, s: b64url('{not json') + '.' + jwt_hs(c, s).split('.', 1)[1],
    'payload-not-object': lambda c, s: jwt_hs(['a', 'b'], s),
}


def tamper(token, **changes):
    """token with its payload changed but its signature kept."""
    h, p, sig = token.split('.')
    claims = json.loads(b64url_decode(p))
    claims.update(changes)
    return h + '.' + b64url(json.dumps(claims, separators=(',', ':'))) + '.' + sig


@pytest.mark.parametrize('name', sorted(FORGERIES))
def test_forged_token_refused(env, claims, name):
    assert_invalid_token(me(env.server, FORGERIES[name](claims, env.jwt_secret)))


def test_expiry_within_leeway_accepted(env, claims):
    r = me(env.server, jwt_hs(with_(claims, exp=now() - 10), env.jwt_secret))
    assert r.status_code == 200, r.text


def test_nbf_within_leeway_accepted(env, claims):
    r = me(env.server, jwt_hs(with_(claims, nbf=now() + 10), env.jwt_secret))
    assert r.status_code == 200, r.text


def test_token_just_under_8KiB_accepted(env, claims):
    token = jwt_hs(with_(claims, pad=''), env.jwt_secret)
    token = jwt_hs(with_(claims, pad='x' * ((8100 - len(token)) * 3 // 4)), env.jwt_secret)
    assert 8000 < len(token) <= 8192
    r = me(env.server, token)
    assert r.status_code == 200, r.text


def test_revoked_jti_refused(env, user):
    token = user.access
    assert me(env.server, token).status_code == 200
    t0 = time.monotonic()
    r = user.call('POST', '/auth/logout')
    assert r.status_code == 200, r.text
    assert after_revocation(env.server, ('bearer', token), t0) == [401] * 6
    assert_invalid_token(me(env.server, token))


def test_error_description_names_the_problem(env, claims):
    r = me(env.server, jwt_hs(with_(claims, exp=now() - 3600), env.jwt_secret))
    assert_invalid_token(r)
    assert 'expired' in r.headers['WWW-Authenticate'].lower()
    assert 'expired' in r.json()['message'].lower()


# ------------------------------------------------------------------ challenges and precedence

def test_no_credentials_challenge(env):
    for path in ('/auth/me', '/api/v1/auth/me', '/auth/api-keys', '/users', '/admin/audit'):
        r = env.server.request('GET', path)
        expect_error(r, 401, 'unauthorized')
        assert r.headers.get('WWW-Authenticate') == 'Bearer realm="profile-api"', (path, r.headers)


@pytest.mark.parametrize('value', ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'bearer', 'Token abc'])
def test_other_authorization_forms(env, value):
    r = env.server.request('GET', '/auth/me', headers={'Authorization': value})
    assert r.status_code == 401, r.text
    assert r.json()['error'] in ('unauthorized', 'invalid_token'), r.text
    assert r.headers.get('WWW-Authenticate', '').startswith('Bearer realm="profile-api"'), r.headers


def test_lower_case_bearer_scheme_accepted(env, user):
    # RFC 9110: the scheme is case-insensitive.
    r = env.server.request('GET', '/auth/me', headers={'Authorization': 'bearer ' + user.bearer()})
    assert r.status_code == 200, r.text


def test_bad_api_key_challenge(env):
    r = env.server.request('GET', '/auth/me', headers={'X-API-Key': 'no-such-key'})
    expect_error(r, 401, 'invalid_key')
    assert r.headers.get('WWW-Authenticate', '').startswith('Bearer realm="profile-api"'), r.headers


def test_api_key_takes_precedence_over_bearer(env, user):
    r = env.server.request('GET', '/auth/me', headers={'X-API-Key': STATIC_ADMIN[0],
                                                       'Authorization': 'Bearer garbage'})
    assert r.status_code == 200, r.text
    assert r.json()['auth']['kind'] == 'static_key'
    r = env.server.request('GET', '/auth/me', headers={'X-API-Key': 'not-a-key',
                                                       'Authorization': 'Bearer ' + user.bearer()})
    expect_error(r, 401, 'invalid_key')


def test_missing_scope_is_403_with_required_scopes(env, user):
    for path in ('/users', '/api/v1/users', '/admin/audit'):
        j = expect_error(user.call('GET', path), 403, 'forbidden')
        assert j['details'] == {'required_scopes': ['admin']}, j


# ------------------------------------------------------------------ RS256 and ES256

@pytest.fixture(scope='module')
def rsa(env, module_server):
    priv, pub = openssl_keypair(os.path.join(env.base, 'jwt-rsa'), 'rsa')
    s = module_server('rs256', jwt_secret=None,
                      extra_conf='ProfileJWTAlgorithm RS256\nProfileJWTKeyFiles "%s" "%s"' % (priv, pub))
    return s, priv, pub


@pytest.fixture(scope='module')
def ec(env, module_server):
    priv, pub = openssl_keypair(os.path.join(env.base, 'jwt-ec'), 'ec')
    s = module_server('es256', jwt_secret=None,
                      extra_conf='ProfileJWTAlgorithm ES256\nProfileJWTKeyFiles "%s" "%s"' % (priv, pub))
    return s, priv, pub


def test_rs256_login_and_use(env, rsa, user):
    s = rsa[0]
    j = user.login(server=s)
    header, _ = jwt_decode(j['access_token'])
    assert header['alg'] == 'RS256', header
    assert me(s, j['access_token']).status_code == 200
    # The HS256 server does not take it, nor the RS256 server the HS256 one.
    assert_invalid_token(me(env.server, j['access_token']))
    assert_invalid_token(me(s, user.login()['access_token']))


def test_rs256_self_signed_accepted(env, rsa, claims):
    s, priv, _ = rsa
    r = me(s, jwt_rs256(claims, priv))
    assert r.status_code == 200, r.text


def test_hs256_signed_with_the_rs256_public_key_refused(env, rsa, claims):
    s, _, pub = rsa
    with open(pub, 'rb') as f:
        pem = f.read()
    for key in (pem, pem.strip()):
        assert_invalid_token(me(s, jwt_hs(claims, key)))
        assert_invalid_token(me(s, jwt_hs(claims, key, header={'alg': 'HS256'})))


@pytest.mark.parametrize('name', ['alg-none', 'HS512', 'expired', 'wrong-aud', 'tampered-role'])
def test_rs256_server_refuses(env, rsa, claims, name):
    s, priv, _ = rsa
    if name == 'tampered-role':
        token = tamper(jwt_rs256(claims, priv), role='admin')
    elif name == 'expired':
        token = jwt_rs256(with_(claims, exp=now() - 120), priv)
    elif name == 'wrong-aud':
        token = jwt_rs256(with_(claims, aud='other'), priv)
    else:
        token = FORGERIES[name](claims, env.jwt_secret)
    assert_invalid_token(me(s, token))


def test_rs256_token_of_another_key_refused(env, rsa, claims):
    other, _ = openssl_keypair(os.path.join(env.base, 'jwt-rsa-other'), 'rsa')
    assert_invalid_token(me(rsa[0], jwt_rs256(claims, other)))


def test_es256_login_and_use(env, ec, user):
    s, _, pub = ec
    j = user.login(server=s)
    header, _ = jwt_decode(j['access_token'])
    assert header['alg'] == 'ES256', header
    assert me(s, j['access_token']).status_code == 200
    c = dict(jwt_decode(j['access_token'])[1])
    with open(pub, 'rb') as f:
        assert_invalid_token(me(s, jwt_hs(c, f.read())))
    assert_invalid_token(me(s, jwt_hs(c, env.jwt_secret)))
    assert_invalid_token(me(s, jwt_unsigned(c)))
