"""Cache administration (scope cache:admin): GET /cache/stats (and /monitoring/cache/stats)
with its counters moving as requests go by, POST /cache/clear-expired, DELETE
/cache/profiles/{username}; readers are refused."""
import time

import pytest

from profile_env import (STATIC_ADMIN, STATIC_READER, cache_stats, check_scraped, expect_error,
                         get_profile, profile_conf, start_fake_tiktok, tiktok_name)

ADMIN = STATIC_ADMIN[0]
SETTINGS = {'ttl': 120, 'stale_ttl': 600, 'negative_ttl': 30, 'max_entries': 64,
            'max_memory_mb': 8}
LAYER_FIELDS = {'entries', 'capacity', 'memory_bytes', 'max_memory_bytes', 'evictions', 'expired'}
PG_FIELDS = {'entries', 'memory_bytes', 'expired'}
COUNTERS = ('hits', 'misses', 'stale', 'db_hits', 'coalesced', 'refreshes')


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok()
    yield f
    f.stop()


@pytest.fixture(scope='module')
def srv(fake, module_server):
    return module_server('padmin', extra_conf=profile_conf(fake, extra='''
        ProfileCacheTTL 120
        ProfileCacheStaleTTL 600
        ProfileCacheNegativeTTL 30
        ProfileCacheMaxEntries 64
        ProfileCacheMaxMemory 8
        ProfileScrapeBreaker 1000 60
    '''))


def is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_stats(st, layer='shm'):
    assert set(st) >= {'layers', 'upstream', 'tiers', 'settings', 'hit_ratio'} | set(COUNTERS), st
    assert set(st['layers']) == {layer, 'postgres'}, st['layers']
    assert set(st['layers'][layer]) >= LAYER_FIELDS, st['layers'][layer]
    assert set(st['layers']['postgres']) >= PG_FIELDS, st['layers']['postgres']
    for k in LAYER_FIELDS:
        assert is_count(st['layers'][layer][k]), (k, st['layers'][layer])
    for k in PG_FIELDS:
        assert is_count(st['layers']['postgres'][k]), (k, st['layers']['postgres'])
    for k in COUNTERS:
        assert is_count(st[k]), (k, st)
    assert isinstance(st['hit_ratio'], (int, float)) and 0 <= st['hit_ratio'] <= 1, st
    up = st['upstream']
    assert set(up) >= {'ok', 'failed', 'skipped', 'median_ms', 'breaker'}, up
    assert set(up['breaker']) >= {'state', 'consecutive_failures', 'open_until', 'in_flight'}, up
    assert up['breaker']['state'] in ('closed', 'open', 'half_open'), up
    assert set(st['tiers']) == {'live', 'scraper', 'generator', 'initials'}, st['tiers']
    assert all(is_count(v) for v in st['tiers'].values()), st['tiers']
    return st


def test_stats_shape_and_settings(env, srv):
    st = check_stats(cache_stats(srv))
    assert st['settings'] == SETTINGS, st['settings']
    shm = st['layers']['shm']
    assert shm['capacity'] == 64, shm
    assert 0 < shm['max_memory_bytes'] <= 8 * 1024 * 1024, shm


@pytest.mark.parametrize('path', ['/monitoring/cache/stats', '/api/v1/cache/stats'])
def test_stats_aliases(env, srv, path):
    check_stats(cache_stats(srv, path))


def test_counters_follow_a_miss_and_a_hit(env, fake, srv):
    name = tiktok_name(env, 'cnt')
    s0 = cache_stats(srv)
    assert get_profile(srv, name).headers.get('X-Profile-Cache') == 'miss'
    s1 = cache_stats(srv)
    assert s1['misses'] == s0['misses'] + 1, (s0, s1)
    assert s1['hits'] == s0['hits'], (s0, s1)
    assert s1['upstream']['ok'] == s0['upstream']['ok'] + 1, (s0['upstream'], s1['upstream'])
    assert isinstance(s1['upstream']['median_ms'], (int, float)), s1['upstream']
    assert s1['tiers']['scraper'] >= s0['tiers']['scraper'] + 1, (s0['tiers'], s1['tiers'])
    assert s1['layers']['shm']['entries'] >= s0['layers']['shm']['entries'] + 1, s1['layers']
    assert s1['layers']['shm']['memory_bytes'] > s0['layers']['shm']['memory_bytes'], s1['layers']

    assert get_profile(srv, name).headers.get('X-Profile-Cache') == 'hit'
    s2 = cache_stats(srv)
    assert s2['hits'] == s1['hits'] + 1, (s1, s2)
    assert s2['misses'] == s1['misses'], (s1, s2)
    assert s2['upstream']['ok'] == s1['upstream']['ok'], 'a hit fetched upstream'
    total = s2['hits'] + s2['stale'] + s2['misses']
    assert abs(s2['hit_ratio'] - (s2['hits'] + s2['stale']) / total) < 0.01, s2
    assert fake.fetches(name) == 1


@pytest.mark.parametrize('method,path', [
    ('GET', '/cache/stats'), ('GET', '/monitoring/cache/stats'),
    ('POST', '/cache/clear-expired'), ('DELETE', '/cache/profiles/somebody'),
])
def test_readers_are_refused(env, srv, method, path):
    expect_error(srv.call(method, path, auth=STATIC_READER[0]), 403, 'forbidden')
    r = srv.call(method, path)
    assert r.status_code == 401, r.text


def test_delete_one_profile(env, fake, srv):
    name = tiktok_name(env, 'del')
    assert get_profile(srv, name).status_code == 200
    assert get_profile(srv, name).headers.get('X-Profile-Cache') == 'hit'
    r = srv.call('DELETE', '/cache/profiles/' + name.upper(), auth=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {'username': name, 'removed': {'shm': 1, 'postgres': 1}}, r.json()
    again = get_profile(srv, name)
    assert (again.status_code, again.headers.get('X-Profile-Cache')) == (200, 'miss'), again.headers
    check_scraped(again.json(), name)
    assert fake.fetches(name) == 2, 'deleted everywhere, so fetched again: %s' % fake.fetches(name)


def test_delete_unknown_profile(env, srv):
    name = tiktok_name(env, 'nodel')
    r = srv.call('DELETE', '/cache/profiles/' + name, auth=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {'username': name, 'removed': {'shm': 0, 'postgres': 0}}, r.json()


def test_delete_invalid_name(env, srv):
    r = srv.call('DELETE', '/cache/profiles/bad-name', auth=ADMIN)
    expect_error(r, 400, 'invalid_username')


def test_clear_expired(env, fake, fresh):
    s = fresh('pclear', extra_conf=profile_conf(fake, extra='''
        ProfileCacheTTL 1
        ProfileCacheStaleTTL 600
    '''))
    names = [tiktok_name(env, 'clr') for _ in range(2)]
    for n in names:
        assert get_profile(s, n).status_code == 200
    time.sleep(1.5)
    before = cache_stats(s)['layers']
    assert before['shm']['expired'] >= 2, before
    assert before['postgres']['expired'] >= 2, before
    r = s.call('POST', '/cache/clear-expired', auth=ADMIN)
    assert r.status_code == 200, r.text
    removed = r.json()['removed']
    assert set(removed) == {'shm', 'postgres'}, r.json()
    assert removed['shm'] >= 2 and removed['postgres'] >= 2, r.json()
    # (Not PostgreSQL's count: rows of other tests' servers may expire meanwhile.)
    after = cache_stats(s)['layers']
    assert after['shm']['expired'] == 0, after
    # Gone, not stale: the next answer is fetched again.
    again = get_profile(s, names[0])
    assert again.headers.get('X-Profile-Cache') == 'miss', again.headers
    assert again.json()['stale'] is False
    assert fake.fetches(names[0]) == 2, fake.fetches()
