"""GET /profile/{username} through the avatar tiers against the fake TikTok: a scraped profile
(current and legacy page layouts, private and verified accounts), unknown users (404, cached
negatively), every kind of upstream failure answered by the generator tier (never a 5xx,
never slow), the initials tier, and the live tier in front of the scraper."""
import time
import xml.etree.ElementTree as ET

import pytest

from profile_env import (check_fallback, check_scraped, expect_error, expected_tiktok_user,
                         get_profile, iso_epoch, profile_conf, start_fake_tiktok, tiktok_name,
                         timed_profile)

PUBLIC = 'http://api.example.test'
TTL = 300
NEGATIVE_TTL = 60
LIVE_URL = 'https://cdn.example/live.jpg'


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok(slow=3)
    yield f
    f.stop()


def tiers_conf(fake, extra=''):
    # A breaker that never opens on failures: the failure cases below must each reach the fake.
    return profile_conf(fake, extra='''
        ProfileCacheTTL %d
        ProfileCacheNegativeTTL %d
        ProfileScrapeMaxPage 2M
        ProfileScrapeBreaker 1000 60
    ''' % (TTL, NEGATIVE_TTL) + extra)


@pytest.fixture(scope='module')
def srv(fake, module_server):
    return module_server('tiers', extra_conf=tiers_conf(fake, 'ProfilePublicURL %s' % PUBLIC))


@pytest.fixture(scope='module')
def initials_srv(fake, module_server):
    # No ProfilePublicURL: avatar URLs are root-relative.
    return module_server('tiers-initials',
                         extra_conf=tiers_conf(fake, 'ProfileAvatarTiers live scraper initials'))


def add_live(env, name):
    env.sql("INSERT INTO live_profiles (username, user_id, nickname, avatar_url, seen_at) "
            "VALUES (%s, '123', 'Live Nick', %s, now())", name, LIVE_URL)


def test_scraped_profile(env, fake, srv):
    name = tiktok_name(env, 'pf')
    t0 = time.time()
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    assert r.headers.get('Content-Type', '').startswith('application/json'), r.headers
    j = r.json()
    check_scraped(j, name)
    assert j['stale'] is False
    assert r.headers.get('X-Profile-Cache') == 'miss', r.headers
    assert fake.fetches(name) == 1, fake.fetches()
    fetched = iso_epoch(j['fetched_at'])
    assert t0 - 2 <= fetched <= time.time() + 2, 'fetched_at %s is not now' % j['fetched_at']
    assert abs(iso_epoch(j['expires_at']) - fetched - TTL) <= 1, \
        'a scraped profile is fresh for ProfileCacheTTL: %s' % j


@pytest.mark.parametrize('prefix,flag', [('private_', 'private'), ('verified_', 'verified')])
def test_account_flags(env, fake, srv, prefix, flag):
    name = tiktok_name(env, prefix)
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    j = r.json()
    check_scraped(j, name)
    assert j[flag] is True, j
    other = 'verified' if flag == 'private' else 'private'
    assert j[other] is False, j


def test_legacy_page_layout(env, fake, srv):
    name = tiktok_name(env, 'legacy_')
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    check_scraped(r.json(), name)
    assert fake.fetches(name) == 1


def test_unknown_user_is_404_and_cached(env, fake, srv):
    name = tiktok_name(env, 'missing_')
    j = expect_error(get_profile(srv, name), 404, 'not_found')
    assert j['path'] == '/profile/' + name, j
    expect_error(get_profile(srv, name), 404, 'not_found')
    expect_error(get_profile(srv, name.upper()), 404, 'not_found')
    assert fake.fetches(name) == 1, \
        'a not-found answer is cached for ProfileCacheNegativeTTL: %s' % fake.fetches()


@pytest.mark.parametrize('prefix', ['captcha_', 'broken_', 'huge_', 'error_', 'slow_'])
def test_upstream_failure_falls_back_to_generator(env, fake, srv, prefix):
    name = tiktok_name(env, prefix)
    r, took = timed_profile(srv, name)
    assert r.status_code == 200, \
        'an upstream failure is never an error: %d %s' % (r.status_code, r.text)
    j = r.json()
    check_fallback(j, name, 'generator', PUBLIC)
    assert j['stale'] is False
    assert fake.fetches(name) == 1, fake.fetches()
    if prefix == 'slow_':
        # The page takes 3 s; ProfileScrapeTimeout 1 ends the wait.
        assert 0.8 <= took < 2.5, 'took %.2f s, expected about the 1 s scrape timeout' % took
    else:
        assert took < 2.0, 'took %.2f s' % took
    assert abs(iso_epoch(j['expires_at']) - iso_epoch(j['fetched_at']) - NEGATIVE_TTL) <= 1, \
        'an answer made without the scraper is cached for ProfileCacheNegativeTTL only: %s' % j
    # Cached (negatively): the same answer without asking the upstream again.
    r2 = get_profile(srv, name)
    assert r2.status_code == 200 and r2.json() == j, r2.text
    assert fake.fetches(name) == 1, fake.fetches()


def test_throttled_upstream_falls_back(env, fake, fresh):
    # Its own server: a 429 opens the circuit breaker for everything that follows.
    s = fresh('tiers-429', extra_conf=tiers_conf(fake, 'ProfilePublicURL %s' % PUBLIC))
    name = tiktok_name(env, 'throttle_')
    r, took = timed_profile(s, name)
    assert r.status_code == 200, r.text
    check_fallback(r.json(), name, 'generator', PUBLIC)
    assert took < 2.0, took
    assert fake.fetches(name) == 1


@pytest.mark.parametrize('prefix', ['captcha_', 'error_'])
def test_initials_tier(env, fake, initials_srv, prefix):
    name = tiktok_name(env, prefix)
    r = get_profile(initials_srv, name)
    assert r.status_code == 200, r.text
    check_fallback(r.json(), name, 'initials', '')
    assert fake.fetches(name) == 1


def test_initials_server_still_scrapes(env, fake, initials_srv):
    name = tiktok_name(env, 'pf')
    r = get_profile(initials_srv, name)
    assert r.status_code == 200, r.text
    check_scraped(r.json(), name)


def test_fallback_avatar_urls_are_served(env, fake, srv):
    name = tiktok_name(env, 'captcha_')
    j = get_profile(srv, name).json()
    for size, key in ((1080, 'url'), (100, 'thumb'), (720, 'medium')):
        path = j['avatar'][key][len(PUBLIC):]
        r = srv.get(path)                      # public: no credentials
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers.get('Content-Type', '').startswith('image/svg+xml'), r.headers
        root = ET.fromstring(r.content)
        assert root.tag.split('}')[-1] == 'svg', root.tag
        assert root.get('width') == str(size), (path, root.attrib)


def test_live_tier_in_front_of_scraper(env, fake, srv):
    name = tiktok_name(env, 'live')
    add_live(env, name)
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['avatar'] == {'url': LIVE_URL, 'source': 'live', 'thumb': LIVE_URL,
                           'medium': LIVE_URL, 'large': LIVE_URL}, j['avatar']
    # The scraper still ran: its numbers are in the answer.
    assert j['stats'] == expected_tiktok_user(name)['stats'], j
    assert fake.fetches(name) == 1


def test_live_tier_without_scraper(env, fake, srv):
    name = tiktok_name(env, 'captcha_')
    add_live(env, name)
    r = get_profile(srv, name)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['avatar'] == {'url': LIVE_URL, 'source': 'live', 'thumb': LIVE_URL,
                           'medium': LIVE_URL, 'large': LIVE_URL}, j['avatar']
    assert j['nickname'] == 'Live Nick', j
    assert j['username'] == name, j
    assert all(v is None for v in j['stats'].values()), j['stats']
    assert fake.fetches(name) == 1
