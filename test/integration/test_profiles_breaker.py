"""Upstream hygiene: the circuit breaker opens after ProfileScrapeBreaker's consecutive
failures (or at once on a 429, for its Retry-After) and then answers from the fallback tier
without asking TikTok and without waiting; after the cooldown one trial fetch closes it
again. ProfileScrapeConcurrency caps the fetches in flight: a request over the cap is
answered from the fallback at once."""
import calendar
import threading
import time

import pytest

from profile_env import (cache_stats, check_fallback, check_scraped, get_profile, profile_conf,
                         start_fake_tiktok, tiktok_name, timed_profile)

PUBLIC = 'http://api.example.test'


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok(slow=3)
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def normal_fake(fake):
    fake.reset()
    yield
    fake.reset()


def conf(fake, breaker, extra=''):
    return profile_conf(fake, extra='''
        ProfileScrapeBreaker %s
        ProfilePublicURL %s
        ProfileCacheNegativeTTL 60
    ''' % (breaker, PUBLIC) + extra)


def epoch_of(v):
    """open_until as seconds since the epoch, whether an ISO time or a number."""
    if isinstance(v, str):
        return calendar.timegm(time.strptime(v[:19], '%Y-%m-%dT%H:%M:%S'))
    assert isinstance(v, (int, float)), v
    return v / 1e6 if v > 1e14 else v / 1e3 if v > 1e11 else v


def breaker(server):
    b = cache_stats(server)['upstream']['breaker']
    assert set(b) >= {'state', 'consecutive_failures', 'open_until', 'in_flight'}, b
    return b


def fallback(server, name, fake, fetched):
    """Requests name, expecting a generator answer; fetched: whether the fake saw it."""
    r, took = timed_profile(server, name)
    assert r.status_code == 200, r.text
    check_fallback(r.json(), name, 'generator', PUBLIC)
    assert fake.fetches(name) == (1 if fetched else 0), (name, fake.fetches())
    return took


def test_failures_open_the_breaker(env, fake, fresh):
    s = fresh('pbrk', extra_conf=conf(fake, '3 60'))
    fake.set_mode(force='error')
    for _ in range(3):
        fallback(s, tiktok_name(env, 'brk'), fake, fetched=True)
    b = breaker(s)
    assert b['state'] == 'open', b
    assert b['consecutive_failures'] >= 3, b
    assert b['open_until'] is not None, b
    assert epoch_of(b['open_until']) > time.time() + 30, 'cooldown 60 s: %s' % b
    for _ in range(2):
        took = fallback(s, tiktok_name(env, 'brk'), fake, fetched=False)
        assert took < 0.3, 'an open circuit answers at once (took %.2f s)' % took
    up = cache_stats(s)['upstream']
    assert up['failed'] == 3 and up['skipped'] >= 2, up
    assert up['breaker']['in_flight'] == 0, up


def test_throttle_opens_the_breaker_at_once(env, fake, fresh):
    # A threshold nobody reaches: only the 429 itself can open the circuit, for its
    # Retry-After (30 s), not the configured cooldown (600 s).
    s = fresh('pbrk429', extra_conf=conf(fake, '1000 600'))
    fallback(s, tiktok_name(env, 'throttle_'), fake, fetched=True)
    b = breaker(s)
    assert b['state'] == 'open', b
    left = epoch_of(b['open_until']) - time.time()
    assert 20 <= left <= 35, \
        'Retry-After: 30 should open the circuit ~30 s, not %.0f s: %s' % (left, b)
    took = fallback(s, tiktok_name(env, 'pf'), fake, fetched=False)
    assert took < 0.3, took


def test_half_open_trial_closes_the_breaker(env, fake, fresh):
    s = fresh('pbrkhalf', extra_conf=conf(fake, '2 2'))
    fake.set_mode(force='error')
    for _ in range(2):
        fallback(s, tiktok_name(env, 'half'), fake, fetched=True)
    assert breaker(s)['state'] == 'open'
    fallback(s, tiktok_name(env, 'half'), fake, fetched=False)
    time.sleep(2.5)
    fake.set_mode(force=None)
    name = tiktok_name(env, 'half')
    r = get_profile(s, name)
    assert r.status_code == 200, r.text
    check_scraped(r.json(), name)
    assert fake.fetches(name) == 1
    b = breaker(s)
    assert b['state'] == 'closed' and b['consecutive_failures'] == 0, b


def test_concurrency_cap(env, fake, fresh):
    s = fresh('pcap', extra_conf=conf(fake, '1000 60', 'ProfileScrapeConcurrency 1'))
    first, second = tiktok_name(env, 'slow_'), tiktok_name(env, 'slow_')
    out = {}

    def ask_first():
        out['first'] = timed_profile(s, first)
    t = threading.Thread(target=ask_first)
    t.start()
    try:
        # The only fetch slot is now held for the 1 s scrape timeout.
        assert fake.wait_fetches(first, 1, timeout=5) == 1, fake.fetches()
        took = fallback(s, second, fake, fetched=False)
        assert took < 0.5, 'over the cap: answered from the fallback at once (took %.2f s)' % took
    finally:
        t.join(10)
    r, took = out['first']
    assert r.status_code == 200, r.text
    check_fallback(r.json(), first, 'generator', PUBLIC)
    assert 0.8 <= took < 2.5, took
    assert cache_stats(s)['upstream']['skipped'] >= 1
