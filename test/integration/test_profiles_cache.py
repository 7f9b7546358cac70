"""The profile cache as a client sees it: hits without upstream fetches, X-Profile-Cache,
ETag / If-None-Match / Cache-Control, expiry with stale-while-revalidate (one background
refresh, stale answers at once), expiry without it, and LRU eviction at
ProfileCacheMaxEntries."""
import re
import time

import pytest

from profile_env import (PROFILE_ETAG, STATIC_ADMIN, cache_stats, check_scraped, get_profile, iso_epoch,
                         profile_conf, start_fake_tiktok, tiktok_name, timed_profile)

TTL = 300
MAX_AGE = re.compile(r'^private, max-age=(\d+)$')


@pytest.fixture(scope='module')
def fake():
    # delay_* pages take 1 s, so an answer that waited for the upstream is easy to tell.
    f = start_fake_tiktok(delay=1.0)
    yield f
    f.stop()


def conf(fake, extra=''):
    return profile_conf(fake, timeout=3, extra='ProfileScrapeBreaker 1000 60\n' + extra)


@pytest.fixture(scope='module')
def srv(fake, module_server):
    return module_server('pcache', extra_conf=conf(fake, 'ProfileCacheTTL %d' % TTL))


def max_age(r):
    m = MAX_AGE.match(r.headers.get('Cache-Control', ''))
    assert m, 'Cache-Control: %r' % r.headers.get('Cache-Control')
    return int(m.group(1))


def etag_of(r):
    tag = r.headers.get('ETag', '')
    assert PROFILE_ETAG.match(tag), 'ETag: %r' % tag
    return tag


def test_second_request_is_a_hit(env, fake, srv):
    name = tiktok_name(env, 'hit')
    miss = get_profile(srv, name)
    assert miss.status_code == 200, miss.text
    check_scraped(miss.json(), name)
    assert miss.headers.get('X-Profile-Cache') == 'miss', miss.headers
    assert 0 < max_age(miss) <= TTL, miss.headers
    tag = etag_of(miss)
    assert not PROFILE_ETAG.match(tag).group(2), 'a fresh answer has no -s suffix: %s' % tag

    hit = get_profile(srv, name)
    assert hit.status_code == 200, hit.text
    assert hit.headers.get('X-Profile-Cache') == 'hit', hit.headers
    assert hit.content == miss.content, 'a hit answers the very same body'
    assert etag_of(hit) == tag
    assert 0 < max_age(hit) <= TTL, hit.headers
    assert fake.fetches(name) == 1, fake.fetches()


def test_if_none_match(env, fake, srv):
    name = tiktok_name(env, 'inm')
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    tag = etag_of(r)
    nm = get_profile(srv, name, headers={'If-None-Match': tag})
    assert nm.status_code == 304, (nm.status_code, nm.text)
    assert nm.content == b'', nm.content
    assert nm.headers.get('ETag') == tag, nm.headers
    other = get_profile(srv, name, headers={'If-None-Match': '"0123456789abcdef"'})
    assert other.status_code == 200 and other.content == r.content, other.status_code
    many = get_profile(srv, name, headers={'If-None-Match': '"0123456789abcdef", ' + tag})
    assert many.status_code == 304, many.status_code
    assert fake.fetches(name) == 1


def test_stale_while_revalidate(env, fake, fresh):
    s = fresh('pstale', extra_conf=conf(fake, 'ProfileCacheTTL 1\nProfileCacheStaleTTL 60'))
    name = tiktok_name(env, 'delay_')
    first = get_profile(s, name)
    assert (first.status_code, first.headers.get('X-Profile-Cache')) == (200, 'miss'), first.headers
    check_scraped(first.json(), name)
    tag = etag_of(first)
    time.sleep(1.5)

    stale, took = timed_profile(s, name)
    assert stale.status_code == 200, stale.text
    assert took < 0.5, 'a stale answer must not wait for the refresh (took %.2f s)' % took
    j = stale.json()
    assert j['stale'] is True, j
    assert stale.headers.get('X-Profile-Cache') == 'stale', stale.headers
    assert stale.headers.get('ETag') == tag[:-1] + '-s"', (tag, stale.headers.get('ETag'))
    assert max_age(stale) == 0, stale.headers
    assert {k: v for k, v in j.items() if k != 'stale'} == \
        {k: v for k, v in first.json().items() if k != 'stale'}

    # Exactly one background refresh, however many stale answers go out meanwhile (the
    # refresh takes 1 s at the fake).
    assert fake.wait_fetches(name, 2, timeout=5) == 2, 'no background refresh: %s' % fake.fetches()
    for _ in range(20):
        r, took = timed_profile(s, name)
        assert r.status_code == 200 and took < 0.5, (r.status_code, took)
    assert fake.fetches(name) == 2, 'more than one refresh: %d fetches' % fake.fetches(name)

    # Once the refresh is in, the answer is fresh again.
    deadline = time.monotonic() + 5
    while True:
        r = get_profile(s, name)
        if not r.json()['stale'] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    j = r.json()
    assert j['stale'] is False, 'still stale 5 s after the refresh began: %s' % j
    assert r.headers.get('X-Profile-Cache') == 'hit', r.headers
    assert iso_epoch(j['fetched_at']) > iso_epoch(first.json()['fetched_at']), (first.json(), j)
    time.sleep(0.3)
    assert fake.fetches(name) == 2, fake.fetches(name)

    # The refresh gave its single-flight lease back: a miss right after a delete fetches at
    # once (1 s at the fake) instead of waiting for the lease to run out.
    d = s.call('DELETE', '/cache/profiles/' + name, auth=STATIC_ADMIN[0])
    assert d.status_code == 200, d.text
    r, took = timed_profile(s, name)
    assert r.status_code == 200 and took < 2.5, (r.status_code, took)
    assert r.headers.get('X-Profile-Cache') == 'miss', r.headers
    assert fake.fetches(name) == 3, fake.fetches(name)


def test_no_stale_answers_with_stale_ttl_zero(env, fake, fresh):
    s = fresh('pnostale', extra_conf=conf(fake, 'ProfileCacheTTL 1\nProfileCacheStaleTTL 0'))
    name = tiktok_name(env, 'ns')
    first = get_profile(s, name)
    assert (first.status_code, first.headers.get('X-Profile-Cache')) == (200, 'miss'), first.headers
    time.sleep(1.5)
    r = get_profile(s, name)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['stale'] is False, j
    assert r.headers.get('X-Profile-Cache') == 'miss', r.headers
    assert fake.fetches(name) == 2, 'refetched before answering: %s' % fake.fetches(name)
    check_scraped(j, name)
    assert iso_epoch(j['fetched_at']) > iso_epoch(first.json()['fetched_at']), (first.json(), j)


def test_lru_eviction(env, fake, fresh):
    s = fresh('plru', extra_conf=conf(fake, 'ProfileCacheTTL 300\nProfileCacheMaxEntries 16'))
    names = [tiktok_name(env, 'lru') for _ in range(20)]
    for n in names:
        r = get_profile(s, n)
        assert r.status_code == 200 and r.headers.get('X-Profile-Cache') == 'miss', (n, r.headers)
    layer = cache_stats(s)['layers']['shm']
    assert layer['capacity'] == 16, layer
    assert layer['entries'] <= 16, layer
    assert layer['evictions'] >= 4, layer
    # The most recent names are still cached; the first one was evicted (PostgreSQL may still
    # answer it, which is a miss of the shared layer all the same).
    last = get_profile(s, names[-1])
    assert last.headers.get('X-Profile-Cache') == 'hit', last.headers
    first = get_profile(s, names[0])
    assert first.status_code == 200, first.text
    assert first.headers.get('X-Profile-Cache') == 'miss', first.headers
    check_scraped(first.json(), names[0])
