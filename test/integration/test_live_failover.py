"""Sidecar failures and restarts, as clients see them: SIGKILL and a restart resume the
session where its last committed batch ended (no event lost or repeated, clients resume with
since=); a second sidecar on the same PostgreSQL claims a dead sidecar's session within the
lease; SIGTERM drains (close 1001 after the last frames, exit 0 within drain_timeout, leases
given back so another sidecar claims at once)."""
import signal
import time

import pytest

from live_client import (CLOSE_ENDED, CLOSE_GOING_AWAY, WsClient, check_contiguous, check_event,
                         events_only, key_headers, looped_ids, recording, statuses)
from profile_env import LIVE_KEY, wait_for

# Killing a proxied backend makes mod_proxy log its broken tunnels.
PROXY_ERRORS = r'\[proxy[\w]*:error\]'


def drop_waiting(frames):
    out = list(frames)
    while out and out[0].get('type') == 'status' and out[0].get('status') == 'waiting':
        out.pop(0)
    return out


def row(pair, sid):
    (r,) = pair.sql('SELECT status, owner, lease_until, last_offset, claims FROM live_sessions '
                    'WHERE id = %s', sid)
    return dict(zip(('status', 'owner', 'lease_until', 'last_offset', 'claims'), r))


def check_whole(pair, sid, frames):
    """frames (what clients got, in order) are every event of the session exactly once: offsets
    1…N and equal to the history endpoint's."""
    for f in frames:
        check_event(f, sid)
    check_contiguous([f['offset'] for f in frames], 1)
    assert frames == pair.history(sid), 'the stream differs from the persisted history'


@pytest.mark.allow_errors(PROXY_ERRORS)
def test_sigkill_and_restart_resume_without_loss(env, live_pair):
    p = live_pair('lkill')
    sc = p.sidecar
    lines = recording('paced600')                     # 6 s at ×1, 3 s at ×2
    sid = p.start('paced600', speed=2)
    c = p.ws(sid, since=0)
    c.read_to_offset(150, 15)
    sc.kill9()
    try:
        c.read_to_close(10)                           # the tunnel breaks with the sidecar
    except TimeoutError:
        raise AssertionError('the client stayed connected to a killed sidecar') from None
    assert c.close_code != CLOSE_ENDED, c.close_code
    first = drop_waiting(c.frames)
    last = first[-1]['offset']
    before = row(p, sid)
    assert before['status'] == 'live' and before['owner'] == sc.sidecar_id, before
    assert before['last_offset'] >= last, before

    sc.start()                                        # the same sidecar_id: claims it at once
    s = p.wait_session(sid, lambda s: s['last_offset'] > before['last_offset'], 5)
    assert s['owner'] == sc.sidecar_id and s['status'] == 'live', s
    c2 = p.ws(sid, since=last)
    c2.read_to_close(20)
    assert c2.close_code == CLOSE_ENDED, c2.close_code
    rest = drop_waiting(c2.frames)
    assert rest[0]['offset'] == last + 1, (last, rest[:2])
    frames = first + rest
    check_whole(p, sid, frames)
    # The source went on from the last committed line: every recorded event exactly once.
    assert [e['id'] for e in events_only(frames)] == [line['id'] for line in lines]
    assert statuses(frames) == [('live', None), ('live', None), ('ended', 'recording_finished')]
    assert row(p, sid)['claims'] == 2


@pytest.mark.allow_errors(PROXY_ERRORS)
def test_second_sidecar_claims_a_dead_ones_session_within_the_lease(env, live_pair):
    LEASE, HEARTBEAT = 3, 1
    # httpd proxies to b, which follows a's capture through PostgreSQL until it owns it.
    p = live_pair('lfail', sidecars=2, start_sidecars=False, proxy_to=1, lease=LEASE, heartbeat=HEARTBEAT)
    a, b = p.sidecars
    a.start()
    lines = recording('tick')
    sid = p.start('tick', speed=1, loop=True)        # 100 events/s, looping
    p.wait_session(sid, lambda s: s['owner'] == a.sidecar_id and s['status'] == 'live', 5)
    b.start()
    c = p.ws(sid, since=0)
    c.read_to_offset(60, 10)
    assert p.session(sid)['owner'] == a.sidecar_id, 'b took a live lease away from a'
    a.kill9()
    t0 = time.monotonic()
    s = p.wait_session(sid, lambda s: s['owner'] == b.sidecar_id, LEASE + HEARTBEAT + 4)
    took = time.monotonic() - t0
    assert took <= LEASE + HEARTBEAT + 1.5, 'b claimed the session %.1f s after a died (lease %d s)' % (took, LEASE)
    # The client on b never notices beyond the pause: offsets go on from where a stopped.
    c.read_to_offset(s['last_offset'] + 100, 10)
    assert p.disconnect(sid).status_code == 202
    c.read_to_close(10)
    assert c.close_code == CLOSE_ENDED, c.close_code
    frames = drop_waiting(c.frames)
    check_whole(p, sid, frames)
    evs = events_only(frames)
    assert [e['id'] for e in evs] == looped_ids(lines, len(evs)), 'events lost or repeated across the failover'
    assert statuses(frames) == [('live', None), ('live', None), ('ended', 'disconnected')]
    assert row(p, sid)['status'] == 'ended' and row(p, sid)['owner'] is None


def test_sigterm_drains(env, live_pair, fresh):
    DRAIN = 4
    # b's lease is long: if a kept its lease, b could only claim the session after 30 s.
    p = live_pair('ldrain', sidecars=2, start_sidecars=False, drain_timeout=DRAIN, lease=30, heartbeat=1)
    a, b = p.sidecars
    a.start()
    lines = recording('tick')
    sid = p.start('tick', speed=1, loop=True)
    c1 = p.ws(sid, since=0)
    c2 = p.ws(sid, since=0)
    c1.read_to_offset(30, 10)
    c2.read_to_offset(30, 10)
    a.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    for c in (c1, c2):
        c.read_to_close(DRAIN + 2)
        assert c.close_code == CLOSE_GOING_AWAY, c.close_code
    code = a.wait_exit(DRAIN + 2)
    took = time.monotonic() - t0
    assert code == 0, 'exit status %s after SIGTERM:\n%s' % (code, a.log_tail())
    assert took <= DRAIN + 0.5, 'the drain took %.1f s (drain_timeout %d)' % (took, DRAIN)
    a.stop()
    after = row(p, sid)
    assert after['status'] in ('connecting', 'live'), after
    assert after['owner'] is None and after['lease_until'] is None, 'the lease was not given back: %s' % after
    assert p.sql('SELECT count(*) FROM live_sidecars WHERE id = %s', a.sidecar_id) == [(0,)]
    # Every committed event went out before the 1001.
    for c in (c1, c2):
        assert c.last_offset() == after['last_offset'], (c.last_offset(), after)
    assert drop_waiting(c1.frames) == drop_waiting(c2.frames)

    # Another sidecar claims the released session at once and the clients resume.
    h = fresh('ldrain-b', database=p.database, sidecar=b)
    b.start()
    p.wait_session(sid, lambda s: s['owner'] == b.sidecar_id, 3)
    last = c1.last_offset()
    c3 = WsClient(h.ws_url(sid, since=last), headers=key_headers(LIVE_KEY[0]))   # through b's httpd
    c3.read_to_offset(last + 50, 10)
    assert p.disconnect(sid).status_code == 202
    c3.read_to_close(10)
    assert c3.close_code == CLOSE_ENDED
    rest = drop_waiting(c3.frames)
    assert rest[0]['offset'] == last + 1, (last, rest[:2])
    frames = drop_waiting(c1.frames) + rest
    check_whole(p, sid, frames)
    evs = events_only(frames)
    assert [e['id'] for e in evs] == looped_ids(lines, len(evs)), 'events lost or repeated across the drain'
    assert statuses(frames) == [('live', None), ('live', None), ('ended', 'disconnected')]
    assert wait_for(lambda: p.sql('SELECT count(*) FROM live_sidecars WHERE id = %s', b.sidecar_id) == [(1,)], 2)
