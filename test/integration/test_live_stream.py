"""Live streams end to end: POST /connect with the replay source, then /ws/comments/{id} through
httpd (mod_proxy_http upgrade=websocket) to a real profile-live on the test PostgreSQL.
Order and contiguous offsets, the recording's content, resume with since=, two clients, the
history endpoint against the stream, waiting subscribers, /disconnect, type filters, bad
parameters, identities forged straight at the sidecar and a slow reader (close 4008)."""
import os
import secrets
import time

import pytest

from live_client import (CLOSE_ENDED, CLOSE_POLICY, CLOSE_TOO_SLOW, WsClient, WsRefused,
                         check_contiguous, check_event, events_only, identity_headers,
                         iso_ms_epoch, key_headers, read_recording, recording, recording_lines,
                         same_content, slow_socket, statuses, upgrade_request, write_recording)
from profile_env import LIVE_KEY, REPO, wait_for

SPEED = 3          # mix300 lasts 1.5 s at ×1, 0.5 s at ×3


@pytest.fixture(scope='module')
def live(module_live_pair):
    return module_live_pair('lstream')


def new_id(prefix='st'):
    return '%s-%s' % (prefix, secrets.token_hex(5))


def drop_waiting(frames):
    """frames without the synthetic `waiting` status, which may only come first (a client can
    be quicker than the sidecar's claim)."""
    out = list(frames)
    while out and out[0].get('type') == 'status' and out[0].get('status') == 'waiting':
        out.pop(0)
    for f in out:
        assert not (f.get('type') == 'status' and f.get('status') == 'waiting'), \
            'a waiting status in the middle of the stream: %r' % f
    return out


def check_played(frames, sid, lines, end=('ended', 'recording_finished')):
    """frames are a whole replay of lines as session sid: offsets 1…N, the live status first,
    every recorded event once and in order with its content, the final status last."""
    for f in frames:
        check_event(f, sid)
    check_contiguous([f['offset'] for f in frames], 1)
    assert statuses(frames)[0] == ('live', None) and frames[0]['type'] == 'status', frames[:2]
    assert statuses(frames)[-1] == end and frames[-1]['type'] == 'status', frames[-2:]
    evs = events_only(frames)
    assert [e['id'] for e in evs] == [line['id'] for line in lines], \
        'streamed ids differ from the recording (%d streamed, %d recorded)' % (len(evs), len(lines))
    for e, line in zip(evs, lines):
        same_content(e, line)


@pytest.fixture(scope='module')
def played(env, live):
    """A mix300 session played to its end at ×3, and what a client (api_key in the query, as
    the seed's examples do) saw from offset 0."""
    sid = new_id('played')
    r = live.connect(env.unique('lv'), 'mix300', speed=SPEED, loop=False, session_id=sid)
    assert r.status_code == 202, (r.status_code, r.text)
    c = live.ws(sid, via_query=True, since=0)
    frames = c.read_to_close(30)
    return {'sid': sid, 'frames': frames, 'stream': drop_waiting(frames), 'close': c.close_code,
            'connect': r.json()}


def test_replay_streams_in_order_through_httpd(played):
    assert played['close'] == CLOSE_ENDED, 'close code %s after the final status' % played['close']
    frames = played['stream']
    lines = recording('mix300')
    check_played(frames, played['sid'], lines)
    # Each event is stamped when it is played, paced by the recording's gaps / speed.
    now = time.time()
    evs = events_only(frames)
    times = [iso_ms_epoch(e['time']) for e in evs]
    assert all(abs(t - now) < 120 for t in times), (times[0], now)
    assert times == sorted(times), 'event times go backwards'
    span = times[-1] - times[0]
    want = (len(lines) - 1) * 0.005 / SPEED
    assert want * 0.7 <= span <= want + 3, 'played in %.2f s, the recording at ×%d takes %.2f s' % (span, SPEED, want)


def test_history_matches_stream(live, played):
    sid, frames = played['sid'], played['stream']
    assert live.history(sid) == frames
    # Paged: next_since follows the last offset, has_more until the end.
    since, pages = 0, []
    while True:
        r = live.call('GET', '/sessions/%s/comments?since=%d&limit=64' % (sid, since))
        assert r.status_code == 200, r.text
        j = r.json()
        assert j['session_id'] == sid and j['last_offset'] == len(frames), j
        pages.append(j['events'])
        if j['events']:
            assert j['next_since'] == j['events'][-1]['offset'], j
        if not j['has_more']:
            break
        assert len(j['events']) == 64, j
        since = j['next_since']
    assert [e for p in pages for e in p] == frames
    assert len(pages) == (len(frames) + 63) // 64
    gifts = live.history(sid, types='gift,like')
    assert gifts == [f for f in frames if f['type'] in ('gift', 'like')]


def test_session_record_after_the_end(live, played):
    sid, frames = played['sid'], played['stream']
    s = live.session(sid)
    assert s['session_id'] == sid and s['status'] == 'ended', s
    assert s['last_offset'] == len(frames), s
    assert s['comment_count'] == sum(1 for f in frames if f['type'] == 'comment'), s
    assert s['event_count'] >= len(events_only(frames)), s
    assert s['owner'] is None and s['lease_until'] is None, s
    # A source that ended says why (docs/live-sessions.md): the recording finished.
    assert s['error_reason'] == 'recording_finished', s
    for k in ('created_at', 'started_at', 'ended_at', 'last_event_at'):
        iso_ms_epoch(s[k])
    assert s['websocket_url'] == '/ws/comments/' + sid, s
    assert s['options'] == {'recording': 'mix300', 'speed': SPEED, 'loop': False}, s
    assert live.call('GET', '/api/v1/sessions/' + sid).json()['session_id'] == sid


def test_late_subscriber_gets_history_then_close(live, played):
    sid, frames = played['sid'], played['stream']
    c = live.ws(sid, since=0)
    got = c.read_to_close(15)
    assert c.close_code == CLOSE_ENDED, c.close_code
    assert got == frames
    c = live.ws(sid, since=len(frames) - 5)
    got = c.read_to_close(15)
    assert (got, c.close_code) == (frames[-5:], CLOSE_ENDED)


def test_reconnect_with_since_gets_exactly_the_missed_events(env, live):
    lines = recording('paced600')                    # 6 s at ×1: 2 s at ×3
    sid = live.start('paced600', speed=3)
    c = live.ws(sid, since=0)
    c.read_to_offset(80, 15)
    c.close()
    first = drop_waiting(c.frames)
    last = first[-1]['offset']
    time.sleep(0.5)                                   # about 150 events go by meanwhile
    t_back = time.time()
    c2 = live.ws(sid, since=last)
    rest = c2.read_to_close(20)
    assert c2.close_code == CLOSE_ENDED, c2.close_code
    rest = drop_waiting(rest)
    assert rest[0]['offset'] == last + 1, (last, rest[:2])
    assert iso_ms_epoch(rest[0]['time']) < t_back, 'the first event after the resume was not a missed one'
    frames = first + rest
    check_played(frames, sid, lines)
    assert frames == live.history(sid)


def test_two_clients_see_the_same_sequence(env, live):
    sid = new_id('two')
    a = live.ws(sid)
    b = live.ws(sid, via_query=True)
    r = live.connect(env.unique('lv'), 'mix300', speed=SPEED, session_id=sid)
    assert r.status_code == 202, r.text
    fa = drop_waiting(a.read_to_close(20))
    fb = drop_waiting(b.read_to_close(20))
    assert (a.close_code, b.close_code) == (CLOSE_ENDED, CLOSE_ENDED)
    check_played(fa, sid, recording('mix300'))
    assert fa == fb


def test_waiting_then_events_once_connect_names_the_id(env, live):
    sid = new_id('wait')
    c = live.ws(sid)
    w = c.recv(5)
    check_event(w, sid)
    assert (w['type'], w['status'], w['offset'], w['reason']) == ('status', 'waiting', None, None), w
    with pytest.raises(TimeoutError):
        c.recv(0.7)                                   # nothing else while nobody captures it
    r = live.connect(env.unique('lv'), 'mix300', speed=SPEED, session_id=sid)
    assert r.status_code == 202, r.text
    frames = c.read_to_close(20)
    assert c.close_code == CLOSE_ENDED
    check_played(drop_waiting(frames), sid, recording('mix300'))


def test_disconnect_ends_streams_with_the_final_status(env, live):
    sid = live.start('tick', speed=1, loop=True)
    a = live.ws(sid, since=0)
    b = live.ws(sid, since=0)
    a.read_to_offset(20, 10)
    b.read_to_offset(20, 10)
    r = live.disconnect(sid)
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.json()['session_id'] == sid
    for c in (a, b):
        c.read_to_close(10)
        assert c.close_code == CLOSE_ENDED, c.close_code
        frames = drop_waiting(c.frames)
        check_contiguous([f['offset'] for f in frames], 1)
        assert statuses(frames)[-1] == ('ended', 'disconnected') and frames[-1]['type'] == 'status', frames[-1]
    assert drop_waiting(a.frames) == drop_waiting(b.frames)
    s = live.wait_session(sid, lambda s: s['status'] == 'ended', 5)
    assert s['owner'] is None and s['ended_at'], s
    assert live.history(sid) == drop_waiting(a.frames)
    again = live.disconnect(sid)
    assert again.status_code == 200 and again.json()['status'] == 'ended', again.text


def test_types_filter(env, live):
    sid = new_id('types')
    c = live.ws(sid, types='comment,gift')
    r = live.connect(env.unique('lv'), 'mix300', speed=SPEED, session_id=sid)
    assert r.status_code == 202, r.text
    frames = drop_waiting(c.read_to_close(20))
    assert c.close_code == CLOSE_ENDED
    evs = events_only(frames)
    assert evs == [h for h in live.history(sid) if h['type'] in ('comment', 'gift')]
    assert {e['type'] for e in evs} == {'comment', 'gift'}


@pytest.mark.parametrize('query', [{'since': 'abc'}, {'since': '-1'}, {'types': 'comment,nope'},
                                   {'types': ''}])
def test_bad_parameters_are_refused(env, live, query):
    """Refused with 400 before the upgrade or closed with 1008 after it; never streamed."""
    sid = live.start('tick', speed=1, loop=True)
    live.wait_session(sid, lambda s: s['status'] == 'live', 5)
    try:
        c = live.ws(sid, **query)
    except WsRefused as e:
        assert e.status == 400, (query, e.status)
    else:
        frames = c.read_to_close(10)
        assert c.close_code == CLOSE_POLICY, (query, c.close_code, c.close_reason)
        assert frames == [], frames
    good = live.ws(sid, since=0, types='comment')      # the same session, good parameters
    good.read_to_offset(5, 10)
    good.close()
    assert live.disconnect(sid).status_code == 202


def test_forged_identity_straight_to_the_sidecar_is_refused(env, live):
    sc = live.sidecar
    sid = new_id('spoof')
    path = '/ws/comments/' + sid
    secret = env.live_secret
    now = int(time.time())
    clients = sc.health()['clients']
    cases = {
        'no identity': {},
        'no signature': {k: v for k, v in identity_headers(secret, sid).items() if k != 'X-Profile-Signature'},
        'signed with another secret': identity_headers(secrets.token_hex(32), sid),
        'a made-up signature': identity_headers(secret, sid, signature='0' * 64),
        'expired': identity_headers(secret, sid, t=now - 120),
        'from the future': identity_headers(secret, sid, t=now + 120),
        'signed for another session': identity_headers(secret, sid, signature=identity_headers(
            secret, 'other-session')['X-Profile-Signature']),
        'scopes changed after signing': dict(identity_headers(secret, sid, scopes='profiles:read'),
                                             **{'X-Profile-Scopes': 'comments:read'}),
        'without comments:read': identity_headers(secret, sid, scopes='profiles:read sessions:read'),
    }
    for what, headers in cases.items():
        status, _, _ = upgrade_request(sc.port, path, headers)
        assert status == 403, '%s: HTTP %d instead of 403' % (what, status)
    assert sc.health()['clients'] == clients
    # The same request, correctly signed, is served (so the refusals above are the identity's).
    c = WsClient(sc.ws_url(sid), headers=identity_headers(secret, sid, principal='key:direct'))
    w = c.recv(5)
    assert (w['type'], w['status'], w['session_id']) == ('status', 'waiting', sid), w
    c.close()


def test_default_recording_by_username(env, live):
    name = env.unique('rec')
    lines = recording_lines(name, 40, 5)
    write_recording(live.sidecar.replay_dir, name, lines)
    r = live.connect(name, speed=5)
    assert r.status_code == 202, r.text
    sid = r.json()['session_id']
    c = live.ws(sid, since=0)
    frames = drop_waiting(c.read_to_close(20))
    check_played(frames, sid, lines)


def test_shipped_demo_recording_streams(env, live):
    demo = os.path.join(REPO, 'sidecar', 'replay', 'demo.ndjson')
    assert os.path.isfile(demo), 'the shipped sample sidecar/replay/demo.ndjson is missing'
    lines = read_recording(demo)
    assert len(lines) >= 2000, 'demo.ndjson holds %d events' % len(lines)
    assert {ev['type'] for ev in lines} >= {'comment', 'like', 'gift', 'join', 'viewers'}
    # What the dev stack's example does, sped up: {"username":"demo","source":"replay"}.
    r = live.connect('demo', options={'speed': 200})
    assert r.status_code == 202, r.text
    sid = r.json()['session_id']
    c = live.ws(sid, since=0)
    frames = drop_waiting(c.read_until(lambda f: len(events_only(c.frames)) >= 40, 20))
    evs = events_only(frames)
    assert [e['id'] for e in evs[:40]] == [ev['id'] for ev in lines[:40]]
    for e, line in zip(evs[:40], lines):
        check_event(e, sid)
        same_content(e, line)
    assert live.disconnect(sid).status_code == 202
    c.read_to_close(10)
    assert c.close_code == CLOSE_ENDED


def test_missing_recording_fails_the_session(env, live):
    sid = new_id('norec')
    c = live.ws(sid)
    r = live.connect(env.unique('lv'), 'no-such-recording', session_id=sid)
    assert r.status_code == 202, r.text
    frames = drop_waiting(c.read_to_close(15))
    assert c.close_code == CLOSE_ENDED
    assert frames and statuses(frames)[-1] == ('failed', 'recording_not_found'), frames
    s = live.wait_session(sid, lambda s: s['status'] == 'failed', 5)
    assert s['error_reason'] == 'recording_not_found' and s['error_detail'], s
    assert s['ended_at'] and s['owner'] is None, s


def test_monitoring_detailed_probes_the_sidecar(live):
    r = live.httpd.get('/monitoring/detailed')
    assert r.status_code == 200, r.text
    assert r.json()['components']['sidecar']['status'] == 'healthy', r.json()['components']


def test_slow_reader_is_cut_with_4008_while_others_continue(env, live_pair):
    p = live_pair('lslow', client_queue=512, client_send_buffer=4096)
    sid = p.start('big', speed=3, loop=True)          # ~1000 events/s of ~2.3 KB
    p.wait_session(sid, lambda s: s['status'] == 'live', 10)
    fast = p.ws(sid)
    slow = WsClient(p.ws_url(sid), headers=key_headers(LIVE_KEY[0]), sock=slow_socket(p.httpd.port),
                    max_queue=1, read_limit=4096)
    # From here on the slow client reads nothing (its socket buffer is 4 KiB). httpd's send
    # buffer towards it (autotuned up to a few MiB) fills first, then the sidecar sees it lag
    # more than client_queue events and cuts it: its client count drops.
    assert wait_for(lambda: p.sidecar.health()['clients'] == 2, 5), p.sidecar.health()
    start = drop_waiting(fast.read_until(lambda f: f.get('offset') is not None, 10))[0]['offset']
    assert wait_for(lambda: p.sidecar.health()['clients'] == 1, 30, 0.1), \
        'the slow reader was not cut: %s' % p.sidecar.health()
    assert fast.recv(5)['offset'] > start, 'the other client was cut instead'
    got = drop_waiting(slow.read_to_close(20))
    assert slow.close_code == CLOSE_TOO_SLOW, 'the slow reader was closed with %s' % slow.close_code
    offs = [g['offset'] for g in got]
    check_contiguous(offs, offs[0])
    # The other client goes on past the cut, then ends normally.
    fast.read_to_offset(offs[-1] + 300, 15)
    assert p.disconnect(sid).status_code == 202
    fast.read_to_close(10)
    assert fast.close_code == CLOSE_ENDED
    frames = drop_waiting(fast.frames)
    check_contiguous([f['offset'] for f in frames], frames[0]['offset'])
    assert statuses(frames)[-1] == ('ended', 'disconnected')
