"""Rate limiting is exact under concurrency: 1,000 requests of one key fired at once over many
connections get exactly the burst, on the event MPM and on prefork with several children (one
shm table shared by every process). The Redis variant is in test_ratelimit_redis.py."""
import re

from profile_env import fire

# 100 per 60 s, burst 100: one token every T = 0.6 s. A run longer than T earns the tokens
# that came back meanwhile, which the timestamps bound (exact_bounds). 100 per 3600 s
# (T = 36 s) gives no token back during any run: exactly 100.
POLICIES = '''
<Location /api/v1/monitoring/ping>
    ProfileRateLimit exact 100 60 burst=100 by=key
</Location>
<Location /api/v1/health/live>
    ProfileRateLimit hour 100 3600 burst=100 by=key
</Location>
'''
FIRED = 1000
BURST = 100
PREFORK = ('StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nServerLimit 16\n'
           'MaxRequestWorkers 16\nMaxConnectionsPerChild 0\n')


def exact_bounds(results, emission_s):
    """(fewest, most) successes GCRA allows for these requests: the burst plus the emission
    intervals between the first and the last decision, which lie between the last request
    sent and the first answer received (fewest), and the first sent and the last received
    (most)."""
    first_sent = min(r[1] for r in results)
    last_sent = max(r[1] for r in results)
    first_done = min(r[2] for r in results)
    last_done = max(r[2] for r in results)
    lo = BURST + int(max(0.0, last_sent - first_done) // emission_s)
    hi = BURST + int((last_done - first_sent) // emission_s)
    return lo, hi


def check_run(results, emission_s):
    statuses = [r[0] for r in results]
    other = sorted(set(statuses) - {200, 429})
    assert not other, 'statuses other than 200/429: %s' % other
    ok = statuses.count(200)
    lo, hi = exact_bounds(results, emission_s)
    took = max(r[2] for r in results) - min(r[1] for r in results)
    assert lo <= ok <= hi, '%d successes of %d in %.2f s, expected %d..%d' % (ok, len(results), took, lo, hi)
    print('%d of %d allowed in %.2f s (bounds %d..%d)' % (ok, len(results), took, lo, hi))
    return ok


def run_exactness(env, servers):
    """Fires FIRED requests of one new key at each policy, the servers taking turns."""
    key = env.generate_key(env.new_user())['key']
    h = {'X-API-Key': key}
    hour = fire([(s.port, '/api/v1/health/live', h) for s in servers], FIRED)
    assert check_run(hour, 36.0) == BURST
    check_run(fire([(s.port, '/api/v1/monitoring/ping', h) for s in servers], FIRED), 0.6)


def test_exact_event(env, fresh):
    s = fresh('rl-exact-event', mpm='event', extra_conf=POLICIES)
    run_exactness(env, [s])


def test_exact_prefork_four_children(env, fresh):
    s = fresh('rl-exact-prefork', mpm='prefork', mpm_conf=PREFORK, extra_conf=POLICIES)
    assert len(s.child_pids()) >= 4, s.child_pids()
    run_exactness(env, [s])
    # The requests were spread over the children: the count was shared, not per process.
    pids = {re.search(r' pid=(\d+)', line).group(1) for line in s.access_log_lines()
            if '/api/v1/health/live' in line}
    assert len(pids) >= 4, pids


def test_exact_bounds_formula():
    """The bound itself: a run inside one interval allows exactly the burst; decisions 2.5
    intervals apart allow the burst plus 2."""
    emission = 0.6
    quick = [(200, 0.0, 0.01), (429, 0.005, 0.3)]
    assert exact_bounds(quick, emission) == (BURST, BURST)
    slow = [(200, 0.0, 0.001), (429, 2.5 * emission, 2.5 * emission + 0.001)]
    assert exact_bounds(slow, emission) == (BURST + 2, BURST + 2)
