"""The Redis cache layer (ProfileRedis): the same hit/miss/delete/stats behaviour as shared
memory, reported as layer "redis"; two servers sharing one Redis see each other's entries
and fetch a profile only once between them, also when asked at the same moment."""
import json

import pytest

from profile_env import (STATIC_ADMIN, STATIC_READER, cache_stats, check_scraped,
                         concurrent_gets, expected_tiktok_user, get_profile, profile_conf,
                         start_fake_tiktok, tiktok_name)


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok(delay=1.0)
    yield f
    f.stop()


@pytest.fixture(scope='module')
def redis(env):
    r = env.redis('profile-cache-redis')
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope='module')
def pair(fake, redis, module_server):
    conf = profile_conf(fake, timeout=3, extra='''
        ProfileCacheTTL 300
        ProfileScrapeBreaker 1000 60
    ''')
    return [module_server('predis-%s' % n, redis_url=redis.url(), extra_conf=conf) for n in 'ab']


def test_hit_on_the_other_server(env, fake, pair):
    a, b = pair
    name = tiktok_name(env, 'rd')
    first = get_profile(a, name)
    assert (first.status_code, first.headers.get('X-Profile-Cache')) == (200, 'miss'), first.headers
    check_scraped(first.json(), name)
    second = get_profile(b, name)
    assert second.status_code == 200, second.text
    assert second.headers.get('X-Profile-Cache') == 'hit', \
        'server b should find a\'s entry in Redis: %s' % second.headers
    assert second.content == first.content
    assert second.headers.get('ETag') == first.headers.get('ETag')
    assert fake.fetches(name) == 1


def test_stats_name_the_redis_layer(env, fake, pair):
    a, _ = pair
    get_profile(a, tiktok_name(env, 'rd'))
    st = cache_stats(a)
    assert set(st['layers']) == {'redis', 'postgres'}, st['layers']
    layer = st['layers']['redis']
    assert layer['entries'] >= 1, layer
    assert {'entries', 'capacity', 'memory_bytes', 'max_memory_bytes', 'evictions',
            'expired'} <= set(layer), layer


def test_delete_reaches_every_server(env, fake, pair):
    a, b = pair
    name = tiktok_name(env, 'rd')
    assert get_profile(a, name).status_code == 200
    r = b.call('DELETE', '/cache/profiles/' + name, auth=STATIC_ADMIN[0])
    assert r.status_code == 200, r.text
    assert r.json() == {'username': name, 'removed': {'redis': 1, 'postgres': 1}}, r.json()
    again = get_profile(a, name)
    assert (again.status_code, again.headers.get('X-Profile-Cache')) == (200, 'miss'), again.headers
    assert fake.fetches(name) == 2, fake.fetches(name)


def test_single_flight_across_servers(env, fake, pair):
    name = tiktok_name(env, 'delay_')
    results = concurrent_gets([a.port for a in pair], '/profile/' + name, 40,
                              {'X-API-Key': STATIC_READER[0]})
    bad = [(st, body[:200]) for st, _, body in results if st != 200]
    assert not bad, bad[:5]
    ids = {json.loads(body)['user_id'] for _, _, body in results}
    assert ids == {expected_tiktok_user(name)['user_id']}, ids
    assert fake.fetches(name) == 1, 'one fetch for both servers: %d' % fake.fetches(name)
