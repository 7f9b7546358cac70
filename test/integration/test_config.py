"""Directive validation: a bad value fails `apache2 -t` with a message naming the directive."""
import os

import pytest

from profile_env import openssl_keypair, sha256_hex

# (directive line, directive name)
INVALID = [
    ('ProfileEngine maybe', 'ProfileEngine'),
    ('ProfileDatabasePool x 10', 'ProfileDatabasePool'),
    ('ProfileDatabasePool 1 y', 'ProfileDatabasePool'),
    ('ProfileDatabasePool 5 2', 'ProfileDatabasePool'),
    ('ProfileDatabasePool 1 1025', 'ProfileDatabasePool'),
    ('ProfileDatabasePool 0 0', 'ProfileDatabasePool'),
    ('ProfileDatabasePool -1 5', 'ProfileDatabasePool'),
    ('ProfileDatabaseTimeout 0', 'ProfileDatabaseTimeout'),
    ('ProfileDatabaseTimeout abc', 'ProfileDatabaseTimeout'),
    ('ProfileDatabaseTimeout 301', 'ProfileDatabaseTimeout'),
    ('ProfileDatabaseTimeout 5s', 'ProfileDatabaseTimeout'),
    ('ProfileRedis http://127.0.0.1:6379', 'ProfileRedis'),
    ('ProfileRedis redis://127.0.0.1:notaport', 'ProfileRedis'),
    ('ProfileRedis redis://127.0.0.1:70000', 'ProfileRedis'),
    ('ProfileRedis redis://127.0.0.1:0', 'ProfileRedis'),
    ('ProfileRedis redis://', 'ProfileRedis'),
    ('ProfileRedis unix://relative/path', 'ProfileRedis'),
    ('ProfileSidecar not-a-url', 'ProfileSidecar'),
    ('ProfileSidecar ftp://127.0.0.1:9000', 'ProfileSidecar'),
    ('ProfileSidecar http://', 'ProfileSidecar'),
    ('ProfileSidecar http://127.0.0.1:99999', 'ProfileSidecar'),
    ('ProfileMaxBodySize 0', 'ProfileMaxBodySize'),
    ('ProfileMaxBodySize abc', 'ProfileMaxBodySize'),
    ('ProfileMaxBodySize 17M', 'ProfileMaxBodySize'),
    ('ProfileMaxBodySize 16777217', 'ProfileMaxBodySize'),
    ('ProfileMaxBodySize -5', 'ProfileMaxBodySize'),
    ('ProfileMaxBodySize 1X', 'ProfileMaxBodySize'),
    # Authentication
    ('ProfilePasswordMinLength 7', 'ProfilePasswordMinLength'),
    ('ProfilePasswordMinLength 257', 'ProfilePasswordMinLength'),
    ('ProfilePasswordMinLength twelve', 'ProfilePasswordMinLength'),
    ('ProfileRegistration maybe', 'ProfileRegistration'),
    ('ProfileRegistration On', 'ProfileRegistration'),
    ('ProfilePasswordHashing m=1023 t=2 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=4194305 t=2 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19456 t=0 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19456 t=65 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19456 t=2 p=0', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19456 t=2 p=17', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19456 m=19456 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashing m=19MiB t=2 p=1', 'ProfilePasswordHashing'),
    ('ProfilePasswordHashConcurrency 0', 'ProfilePasswordHashConcurrency'),
    ('ProfilePasswordHashConcurrency 65', 'ProfilePasswordHashConcurrency'),
    ('ProfilePasswordBlocklist /nonexistent/common-passwords.txt', 'ProfilePasswordBlocklist'),
    ('ProfilePasswordBlocklist /tmp', 'ProfilePasswordBlocklist'),
    ('ProfileJWTAlgorithm none', 'ProfileJWTAlgorithm'),
    ('ProfileJWTAlgorithm HS512', 'ProfileJWTAlgorithm'),
    ('ProfileJWTSecret 0123456789abcdef0123456789abcde', 'ProfileJWTSecret'),     # 31 bytes
    ('ProfileJWTSecretFile /nonexistent/jwt-secret', 'ProfileJWTSecretFile'),
    ('ProfileJWTSecretFile /tmp', 'ProfileJWTSecretFile'),
    ('ProfileJWTKeyFiles /nonexistent/a.pem /nonexistent/b.pem', 'ProfileJWTKeyFiles'),
    ('ProfileJWTIssuer "with \\"quote\\""', 'ProfileJWTIssuer'),
    ('ProfileJWTIssuer ' + 'i' * 257, 'ProfileJWTIssuer'),
    ('ProfileJWTAudience "a\\"b"', 'ProfileJWTAudience'),
    ('ProfileJWTLeeway -1', 'ProfileJWTLeeway'),
    ('ProfileJWTLeeway 301', 'ProfileJWTLeeway'),
    ('ProfileAccessTokenLifetime 59', 'ProfileAccessTokenLifetime'),
    ('ProfileAccessTokenLifetime 86401', 'ProfileAccessTokenLifetime'),
    ('ProfileAccessTokenLifetime 15m', 'ProfileAccessTokenLifetime'),
    ('ProfileRefreshTokenLifetime 299', 'ProfileRefreshTokenLifetime'),
    ('ProfileRefreshTokenLifetime 31536001', 'ProfileRefreshTokenLifetime'),
    ('ProfileLoginLockout 0 900 900', 'ProfileLoginLockout'),
    ('ProfileLoginLockout 1001 900 900', 'ProfileLoginLockout'),
    ('ProfileLoginLockout 5 0 900', 'ProfileLoginLockout'),
    ('ProfileLoginLockout 5 86401 900', 'ProfileLoginLockout'),
    ('ProfileLoginLockout 5 900 0', 'ProfileLoginLockout'),
    ('ProfileLoginLockout 5 900 x', 'ProfileLoginLockout'),
    ('ProfileAPIKeyRotationGrace -1', 'ProfileAPIKeyRotationGrace'),
    ('ProfileAPIKeyRotationGrace 2592001', 'ProfileAPIKeyRotationGrace'),
    ('ProfileAuthRealm ' + 'r' * 65, 'ProfileAuthRealm'),
    ('ProfileAuthRealm "a\\\\b"', 'ProfileAuthRealm'),
    ('ProfileAPIKey abc ops admin', 'ProfileAPIKey'),
    ('ProfileAPIKey %s ops admin' % ('g' * 64), 'ProfileAPIKey'),
    ('ProfileAPIKey %s "bad name" admin' % sha256_hex('k1'), 'ProfileAPIKey'),
    ('ProfileAPIKey %s ops root' % sha256_hex('k1'), 'ProfileAPIKey'),
    ('ProfileAPIKey %s ops' % sha256_hex('k1'), 'ProfileAPIKey'),
    ('ProfileAPIKey %s ops admin\nProfileAPIKey %s ops admin' % (sha256_hex('k1'), sha256_hex('k2')),
     'ProfileAPIKey'),
    ('ProfileAPIKey %s one admin\nProfileAPIKey %s two admin' % (sha256_hex('k1'), sha256_hex('k1')),
     'ProfileAPIKey'),
    # Rate limiting
    ('ProfileRateLimit default 0 60', 'ProfileRateLimit'),
    ('ProfileRateLimit default 1000001 60', 'ProfileRateLimit'),
    ('ProfileRateLimit default ten 60', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 0', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 86401', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 1m', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100', 'ProfileRateLimit'),
    ('ProfileRateLimit "bad name" 100 60', 'ProfileRateLimit'),
    ('ProfileRateLimit ' + 'n' * 33 + ' 100 60', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 burst=0', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 burst=1000001', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 burst=x', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 by=host', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 by=header:', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 by=header:Bad Name', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 per=key', 'ProfileRateLimit'),
    ('ProfileRateLimit default 100 60 extra', 'ProfileRateLimit'),
    ('ProfileRateLimitHeaders maybe', 'ProfileRateLimitHeaders'),
    ('ProfileRateLimitExempt role root', 'ProfileRateLimitExempt'),
    ('ProfileRateLimitExempt scope no:such', 'ProfileRateLimitExempt'),
    ('ProfileRateLimitExempt group admin', 'ProfileRateLimitExempt'),
    ('ProfileRateLimitExempt role', 'ProfileRateLimitExempt'),
    ('ProfileRateLimitExempt', 'ProfileRateLimitExempt'),
    ('ProfileRateLimitBackend memcached', 'ProfileRateLimitBackend'),
    ('ProfileRateLimitOnFailure maybe', 'ProfileRateLimitOnFailure'),
    ('ProfileRateLimitTableSize 1023', 'ProfileRateLimitTableSize'),
    ('ProfileRateLimitTableSize 16777217', 'ProfileRateLimitTableSize'),
    ('ProfileRateLimitTableSize 64K', 'ProfileRateLimitTableSize'),
    ('ProfileRedisTimeout 0', 'ProfileRedisTimeout'),
    ('ProfileRedisTimeout 10001', 'ProfileRedisTimeout'),
    ('ProfileRedisTimeout 50ms', 'ProfileRedisTimeout'),
    ('ProfileRedisPool 0', 'ProfileRedisPool'),
    ('ProfileRedisPool 257', 'ProfileRedisPool'),
    ('ProfileRedisPool many', 'ProfileRedisPool'),
    ('ProfileRateLimit same 1 60\nProfileRateLimit same 2 60', 'ProfileRateLimit'),
]

# On|Off directives: httpd itself refuses other values, in its own words.
FLAGS = ('ProfileEngine', 'ProfileRateLimitHeaders')

VALID = [
    'ProfileEngine Off',
    'ProfileEngine On',
    'ProfileDatabasePool 0 1',
    'ProfileDatabasePool 1024 1024',
    'ProfileDatabasePool 3 3',
    'ProfileDatabaseTimeout 1',
    'ProfileDatabaseTimeout 300',
    'ProfileRedis redis://127.0.0.1:6379/2',
    'ProfileRedis redis://localhost',
    'ProfileRedis redis://:secret@localhost:6380/0',
    'ProfileRedis unix:///run/redis/redis.sock?db=3',
    'ProfileSidecar http://127.0.0.1:9000',
    'ProfileSidecar http://sidecar.internal:9000/base/',
    'ProfileMaxBodySize 1',
    'ProfileMaxBodySize 512K',
    'ProfileMaxBodySize 16M',
    'ProfileMaxBodySize 16384K',
    '<Location /x>\n    ProfileMaxBodySize 1K\n    ProfileEngine Off\n</Location>',
    # Authentication
    'ProfilePasswordMinLength 8',
    'ProfilePasswordMinLength 256',
    'ProfileRegistration closed',
    'ProfileRegistration OPEN',
    'ProfilePasswordHashing m=19456 t=2 p=1',
    'ProfilePasswordHashing m=1024 t=1 p=1',
    'ProfilePasswordHashing M=65536 T=3 P=4',
    'ProfilePasswordHashing t=2 m=19456 p=1',
    'ProfilePasswordHashConcurrency 1',
    'ProfilePasswordHashConcurrency 64',
    'ProfileJWTAlgorithm HS256',
    'ProfileJWTSecret 0123456789abcdef0123456789abcdef',               # exactly 32 bytes
    'ProfileJWTIssuer https://auth.example.com/',
    'ProfileJWTAudience profile-api',
    'ProfileJWTLeeway 0',
    'ProfileJWTLeeway 300',
    'ProfileAccessTokenLifetime 60',
    'ProfileAccessTokenLifetime 86400',
    'ProfileRefreshTokenLifetime 300',
    'ProfileRefreshTokenLifetime 31536000',
    'ProfileLoginLockout 1 1 1',
    'ProfileLoginLockout 1000 86400 86400',
    'ProfileAPIKeyRotationGrace 0',
    'ProfileAPIKeyRotationGrace 2592000',
    'ProfileAuthRealm "Profile API"',
    'ProfileAPIKey %s svc profiles:read comments:read' % sha256_hex('k1'),
    'ProfileAPIKey %s svc profiles:read,comments:read' % sha256_hex('k1'),
    'ProfileAPIKey %s svc-2.x_y admin' % sha256_hex('k1').upper(),
    # Rate limiting
    'ProfileRateLimit default 100 60',
    'ProfileRateLimit default 100 60 by=key',
    'ProfileRateLimit a.b-c_D9 1 1 burst=1 by=ip',
    'ProfileRateLimit ' + 'n' * 32 + ' 1000000 86400 burst=1000000 by=user',
    'ProfileRateLimit tenant 10 60 by=header:X-Tenant burst=20',
    'ProfileRateLimit paths 5 60 by=route',
    'ProfileRateLimit default 100 60\nProfileRateLimit login-ip 5 60 by=ip',
    '<Location /auth/login>\n    ProfileRateLimit login-ip 5 60 by=ip\n    ProfileRateLimitHeaders Off\n'
    '    ProfileRateLimitExempt none\n</Location>',
    'ProfileRateLimitHeaders Off',
    'ProfileRateLimitHeaders on',
    'ProfileRateLimitExempt role admin',
    'ProfileRateLimitExempt role admin user',
    'ProfileRateLimitExempt scope cache:admin admin',
    'ProfileRateLimitExempt none',
    'ProfileRateLimitBackend shm',
    'ProfileRateLimitBackend redis\nProfileRedis redis://127.0.0.1:6379/0',
    'ProfileRateLimitOnFailure local',
    'ProfileRateLimitOnFailure open',
    'ProfileRateLimitOnFailure closed',
    'ProfileRateLimitTableSize 1024',
    'ProfileRateLimitTableSize 16777216',
    'ProfileRedisTimeout 1',
    'ProfileRedisTimeout 10000',
    'ProfileRedisPool 1',
    'ProfileRedisPool 256',
]


def test_base_config_is_valid(env):
    rc, out = env.apachectl_t('')
    assert rc == 0, out
    assert 'Syntax OK' in out


@pytest.mark.parametrize('line,name', INVALID, ids=[i[0] for i in INVALID])
def test_invalid_value_fails_configtest(env, line, name):
    rc, out = env.apachectl_t(line)
    assert rc != 0, out
    assert 'Syntax OK' not in out
    assert name in out, out
    if name not in FLAGS:               # httpd's own On/Off message for flags
        # The module's message: "<Directive>: <what it accepts>".
        assert name + ':' in out, out


@pytest.mark.parametrize('line', VALID)
def test_valid_value_passes_configtest(env, line):
    rc, out = env.apachectl_t(line)
    assert rc == 0, out


@pytest.mark.parametrize('line,name', [
    ('<Location /x>\n    ProfileDatabase "host=127.0.0.1"\n</Location>', 'ProfileDatabase'),
    ('<Location /x>\n    ProfileDatabasePool 1 2\n</Location>', 'ProfileDatabasePool'),
    ('<Location /x>\n    ProfileRedis redis://127.0.0.1\n</Location>', 'ProfileRedis'),
    ('<Location /x>\n    ProfileRateLimitBackend shm\n</Location>', 'ProfileRateLimitBackend'),
    ('<Location /x>\n    ProfileRateLimitOnFailure open\n</Location>', 'ProfileRateLimitOnFailure'),
    ('<Location /x>\n    ProfileRateLimitTableSize 2048\n</Location>', 'ProfileRateLimitTableSize'),
    ('<Location /x>\n    ProfileRedisTimeout 20\n</Location>', 'ProfileRedisTimeout'),
    ('<Location /x>\n    ProfileRedisPool 2\n</Location>', 'ProfileRedisPool'),
])
def test_server_only_directive_in_location_fails(env, line, name):
    rc, out = env.apachectl_t(line)
    assert rc != 0, out
    assert name in out and 'not allowed' in out, out


def test_pool_needs_two_arguments(env):
    rc, out = env.apachectl_t('ProfileDatabasePool 1')
    assert rc != 0, out
    assert 'ProfileDatabasePool' in out and 'two arguments' in out, out


def test_redis_password_not_echoed_on_error(env):
    rc, out = env.apachectl_t('ProfileRedis redis://:TopSecret99@127.0.0.1:notaport/0')
    assert rc != 0
    assert 'ProfileRedis' in out
    assert 'TopSecret99' not in out, out


def test_pool_message_names_the_range(env):
    rc, out = env.apachectl_t('ProfileDatabasePool 1 5000')
    assert rc != 0
    assert '1024' in out, out


def test_unparseable_database_string_fails_without_echoing_it(env):
    rc, out = env.apachectl_t('ProfileDatabase "host=127.0.0.1 password=TopSecret99 dbname"')
    assert rc != 0, out
    assert 'ProfileDatabase:' in out and 'libpq connection string' in out, out
    assert 'TopSecret99' not in out, out


@pytest.mark.parametrize('value', ['profile', 'postgresql://u@127.0.0.1/profile',
                                   'host=127.0.0.1 dbname=profile'])
def test_database_string_forms_pass(env, value):
    rc, out = env.apachectl_t('ProfileDatabase "%s"' % value)
    assert rc == 0, out


# ------------------------------------------------------------------ authentication files

@pytest.fixture(scope='module')
def auth_files(env):
    d = os.path.join(env.base, 'config-keys')
    rsa = openssl_keypair(os.path.join(d, 'rsa'), 'rsa')
    ec = openssl_keypair(os.path.join(d, 'ec'), 'ec')
    other = openssl_keypair(os.path.join(d, 'other'), 'rsa')
    small = os.path.join(d, 'rsa1024.pem')
    small_pub = os.path.join(d, 'rsa1024-public.pem')
    os.system('openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s 2>/dev/null && '
              'openssl pkey -in %s -pubout -out %s 2>/dev/null' % (small, small, small_pub))
    files = {}
    for name, content in (('short', 'x' * 31), ('short-nl', 'x' * 31 + '\n'), ('ok', 'y' * 32 + '\n'),
                          ('notpem', 'not a key\n')):
        files[name] = os.path.join(d, 'secret-' + name)
        with open(files[name], 'w') as f:
            f.write(content)
    return {'rsa': rsa, 'ec': ec, 'other': other, 'small': (small, small_pub), **files}


def test_jwt_secret_file(env, auth_files):
    rc, out = env.apachectl_t('ProfileJWTSecretFile "%s"' % auth_files['ok'])
    assert rc == 0, out
    for bad in ('short', 'short-nl'):
        rc, out = env.apachectl_t('ProfileJWTSecretFile "%s"' % auth_files[bad])
        assert rc != 0 and 'ProfileJWTSecretFile:' in out and '32' in out, out
        assert 'x' * 31 not in out


def test_jwt_secret_never_echoed(env):
    rc, out = env.apachectl_t('ProfileJWTSecret TopSecret99-short')
    assert rc != 0 and 'ProfileJWTSecret:' in out
    assert 'TopSecret99' not in out, out


def test_key_files_must_be_pem(env, auth_files):
    rc, out = env.apachectl_t('ProfileJWTAlgorithm RS256\nProfileJWTKeyFiles "%s" "%s"'
                              % (auth_files['notpem'], auth_files['rsa'][1]))
    assert rc != 0 and 'ProfileJWTKeyFiles:' in out, out


@pytest.mark.parametrize('case', ['rs256', 'es256'])
def test_key_files_valid(env, auth_files, case):
    alg, pair = ('RS256', auth_files['rsa']) if case == 'rs256' else ('ES256', auth_files['ec'])
    rc, out = env.apachectl_t('ProfileJWTAlgorithm %s\nProfileJWTKeyFiles "%s" "%s"' % ((alg,) + pair))
    assert rc == 0, out


# Settings no single directive can judge: checked at `apachectl -t` too.
@pytest.mark.parametrize('case,name', [
    ('rs256-without-keys', 'ProfileJWTAlgorithm'),
    ('es256-without-keys', 'ProfileJWTAlgorithm'),
    ('keys-without-algorithm', 'ProfileJWTKeyFiles'),
    ('keys-with-hs256', 'ProfileJWTKeyFiles'),
    ('rs256-with-ec-keys', 'ProfileJWTAlgorithm'),
    ('es256-with-rsa-keys', 'ProfileJWTAlgorithm'),
    ('mismatched-pair', 'ProfileJWTKeyFiles'),
    ('rsa-1024', 'ProfileJWTAlgorithm'),
])
def test_inconsistent_jwt_settings_fail_configtest(env, auth_files, case, name):
    rsa, ec, other, small = auth_files['rsa'], auth_files['ec'], auth_files['other'], auth_files['small']
    keys = lambda pair: 'ProfileJWTKeyFiles "%s" "%s"' % pair
    conf = {
        'rs256-without-keys': 'ProfileJWTAlgorithm RS256',
        'es256-without-keys': 'ProfileJWTAlgorithm ES256',
        'keys-without-algorithm': keys(rsa),
        'keys-with-hs256': 'ProfileJWTAlgorithm HS256\n' + keys(rsa),
        'rs256-with-ec-keys': 'ProfileJWTAlgorithm RS256\n' + keys(ec),
        'es256-with-rsa-keys': 'ProfileJWTAlgorithm ES256\n' + keys(rsa),
        'mismatched-pair': 'ProfileJWTAlgorithm RS256\n' + keys((rsa[0], other[1])),
        'rsa-1024': 'ProfileJWTAlgorithm RS256\n' + keys(small),
    }[case]
    rc, out = env.apachectl_t(conf)
    assert rc != 0, out
    assert 'Syntax OK' not in out and name in out, out


@pytest.fixture(scope='module')
def no_secret(env):
    """A server configuration without a JWT secret (not started)."""
    return env.httpd('config-nosecret', jwt_secret=None)


def test_hs256_named_without_secret_fails(env, no_secret):
    rc, out = no_secret.apachectl_t('ProfileJWTAlgorithm HS256')
    assert rc != 0 and 'ProfileJWTAlgorithm' in out and 'ProfileJWTSecret' in out, out


def test_no_signing_key_at_all_is_allowed(env, no_secret):
    # Without any key the server starts; logins answer 503 (see test_auth_login).
    rc, out = no_secret.apachectl_t('')
    assert rc == 0, out


@pytest.mark.parametrize('line,name', [
    ('<Location /x>\n    ProfileJWTSecret 0123456789abcdef0123456789abcdef\n</Location>', 'ProfileJWTSecret'),
    ('<Location /x>\n    ProfileRegistration open\n</Location>', 'ProfileRegistration'),
    ('<Location /x>\n    ProfileAPIKey %s x admin\n</Location>' % sha256_hex('k'), 'ProfileAPIKey'),
])
def test_auth_directives_are_server_only(env, line, name):
    rc, out = env.apachectl_t(line)
    assert rc != 0 and name in out and 'not allowed' in out, out


@pytest.mark.allow_errors(r'ProfileJWTAlgorithm RS256 needs ProfileJWTKeyFiles|AH00020: Configuration Failed')
def test_rs256_without_keys_refuses_to_start(env):
    s = env.httpd('config-rs256-nokeys', extra_conf='ProfileJWTAlgorithm RS256')
    with pytest.raises(RuntimeError) as e:
        s.start(timeout=10)
    s.stop()
    assert 'ProfileJWTAlgorithm RS256 needs ProfileJWTKeyFiles' in str(e.value) + s.error_log_text()


def test_redis_backend_needs_redis(env):
    rc, out = env.apachectl_t('ProfileRateLimitBackend redis')
    assert rc != 0, out
    assert 'ProfileRateLimitBackend redis needs ProfileRedis' in out, out
