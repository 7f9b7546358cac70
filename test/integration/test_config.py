"""Directive validation: a bad value fails `apache2 -t` with a message naming the directive."""
import pytest

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
]

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
    if name != 'ProfileEngine':         # httpd's own On/Off message for flags
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
