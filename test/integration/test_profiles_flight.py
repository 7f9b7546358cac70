"""Single flight: 100 concurrent requests for one uncached profile, spread over several child
processes, make exactly one upstream fetch and all get the same profile."""
import json
import re

import pytest

from profile_env import (STATIC_READER, cache_stats, concurrent_gets, expected_tiktok_user,
                         profile_conf, start_fake_tiktok, tiktok_name, wait_for)

PREFORK = ('StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nServerLimit 64\n'
           'MaxRequestWorkers 64\nMaxConnectionsPerChild 0\n')
N = 100
PID = re.compile(r' pid=(\d+) ')


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok(delay=1.0)
    yield f
    f.stop()


@pytest.mark.parametrize('mpm', ['prefork', 'event'])
def test_one_fetch_for_a_crowd(env, fake, fresh, mpm):
    # ProfileScrapeTimeout 3 leaves the 1 s page plenty of time.
    s = fresh('pflight-' + mpm, mpm=mpm, mpm_conf=PREFORK if mpm == 'prefork' else None,
              extra_conf=profile_conf(fake, timeout=3, extra='ProfileScrapeBreaker 1000 60'))
    name = tiktok_name(env, 'delay_')
    path = '/profile/' + name
    results = concurrent_gets([s.port], path, N, {'X-API-Key': STATIC_READER[0]})

    bad = [(st, body[:200]) for st, _, body in results if st != 200]
    assert not bad, '%d of %d requests failed: %s' % (len(bad), N, bad[:5])
    ids = {json.loads(body)['user_id'] for _, _, body in results}
    assert ids == {expected_tiktok_user(name)['user_id']}, ids
    assert fake.fetches(name) == 1, 'single flight: %d upstream fetches' % fake.fetches(name)
    assert cache_stats(s)['upstream']['ok'] == 1

    if mpm == 'prefork':
        def logged():
            return [line for line in s.access_log_lines() if '"GET %s ' % path in line]
        wait_for(lambda: len(logged()) >= N, 10)
        pids = {m.group(1) for m in (PID.search(line) for line in logged()) if m}
        assert len(pids) >= 3, 'the answers came from %d processes only: %s' % (len(pids), pids)
