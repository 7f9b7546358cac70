"""The tiktok source end to end: POST /connect {"source":"tiktok"} on a real httpd + sidecar +
PostgreSQL whose sidecar reads the fake TikTok LIVE upstream (test/fakes/tiktok_live.py).
A full capture reaches a WebSocket client through httpd with the fake's content and users, in
order and once each; comment authors land in live_profiles and GET /profile shows the live
avatar; the fake sees the enter-room frame, heartbeats and acks; a dropped upstream is
redialled through a fresh sign call without duplicates or losses; a Control message ends the
session; corrupt frames and messages are skipped; wait_until_live waits for an offline user."""
import time

import pytest

from live_client import (CLOSE_ENDED, check_contiguous, check_event, events_only, iso_ms_epoch,
                         statuses)
from profile_env import (STATIC_READER, check_capture, connect_tiktok, drop_waiting,
                         get_profile, tiktok_user, wait_for)

HEARTBEAT_S = 1.0          # the fake's heartbeat_duration (1000 ms) and tiktok_heartbeat = 1


@pytest.fixture(scope='module')
def tt(module_tiktok_pair):
    return module_tiktok_pair('ttcap')


def read_expected(c, want, timeout=30):
    """Reads c until it has as many captured events as the fake expects; returns the frames
    without the leading `waiting` status."""
    n = len(want['events'])
    c.read_until(lambda f: len(events_only(drop_waiting(c.frames))) >= n, timeout)
    return drop_waiting(c.frames)


def end_capture(pair, sid, c):
    assert pair.disconnect(sid).status_code == 202
    c.read_to_close(15)
    assert c.close_code == CLOSE_ENDED, c.close_code
    return drop_waiting(c.frames)


@pytest.fixture(scope='module')
def captured(env, tt, tiktok_live):
    """A "normal" user captured until every event the fake sends has arrived and then for
    a few heartbeats more, then disconnected: what a client saw from offset 0, the session
    while it ran and what the fake observed."""
    user = tiktok_user(env, 'normal')
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    want = tiktok_live.expected(user)
    assert want['scenario'] == 'normal' and want['events'], want
    read_expected(c, want)
    time.sleep(3 * HEARTBEAT_S)             # heartbeats go on; a duplicate would show up
    running = tt.session(sid)
    frames = end_capture(tt, sid, c)
    return {'user': user, 'sid': sid, 'frames': frames, 'want': want, 'running': running,
            'room': tiktok_live.room(user)}


def test_full_capture_streams_the_fakes_events(captured):
    frames, sid = captured['frames'], captured['sid']
    for f in frames:
        check_event(f, sid)
    check_contiguous([f['offset'] for f in frames], 1)
    assert statuses(frames) == [('live', None), ('ended', 'disconnected')], statuses(frames)
    assert frames[0]['type'] == 'status' and frames[-1]['type'] == 'status'
    evs = events_only(frames)
    # The fake's events exactly (ids, times, users, type fields), in order, each once:
    # although its first fetch result repeats the stream's first messages as history.
    check_capture(evs, captured['want']['events'])
    types = {e['type'] for e in evs}
    assert types >= {'comment', 'like', 'gift', 'join', 'follow', 'share', 'viewers'}, types
    # The stream held gift streak updates, a member leaving, an unknown method and a corrupt
    # message (none of them an event), so fewer events than messages.
    counts = captured['want']['counts']
    assert counts['unknown'] and counts['malformed'] and counts['ignored'], counts
    assert len(evs) == counts['event'] < captured['want']['messages']


def test_history_and_session_record_match(tt, captured):
    frames, sid = captured['frames'], captured['sid']
    assert tt.history(sid) == frames
    s = tt.session(sid)
    assert s['source'] == 'tiktok' and s['username'] == captured['user'], s
    assert s['status'] == 'ended' and s['error_reason'] == 'disconnected', s
    assert s['last_offset'] == len(frames), s
    assert s['comment_count'] == sum(1 for f in frames if f['type'] == 'comment'), s
    iso_ms_epoch(s['started_at'])
    viewers = [e['viewers'] for e in events_only(frames) if e['type'] == 'viewers']
    assert s['viewers'] == viewers[-1], (s['viewers'], viewers)
    # While it ran (corrupt frames and messages, an unknown method) it was live, no error.
    running = captured['running']
    assert running['status'] == 'live' and running['error_reason'] is None, running


def test_comment_authors_reach_the_live_tier(tt, captured):
    comments = [e for e in events_only(captured['frames']) if e['type'] == 'comment']
    assert comments
    latest = {}
    for e in comments:                      # the latest sighting of each author wins
        latest[e['user']['username']] = e['user']
    rows = {r[0]: r for r in tt.sql(
        'SELECT username, user_id, nickname, avatar_url FROM live_profiles '
        'WHERE username = ANY(%s)', list(latest))}
    assert set(rows) == set(latest), 'live_profiles lacks %s' % sorted(set(latest) - set(rows))
    for name, u in latest.items():
        assert rows[name] == (name, u['id'], u['nickname'], u['avatar_url']), (rows[name], u)
    # GET /profile/{author} answers with the live tier's avatar (docs/profiles.md).
    for name, u in sorted(latest.items()):
        r = get_profile(tt.httpd, name, auth=STATIC_READER[0])
        assert r.status_code == 200, r.text
        j = r.json()
        a = j['avatar']
        assert a['source'] == 'live', (name, a)
        assert a['url'] == a['thumb'] == a['medium'] == a['large'] == u['avatar_url'], a
        assert j['nickname'] == u['nickname'], j


def test_the_fake_saw_a_well_behaved_client(captured):
    """One sign call and one WebSocket connection with the documented query, cookies, user
    agent and origin (the fake checks them and lists what was wrong in "problems")."""
    room = captured['room']
    assert room['problems'] == [], room['problems']
    assert len(room['sign_calls']) == 1, room['sign_calls']
    call = room['sign_calls'][0]
    assert call['status'] == 200 and call['api_key_ok'], call
    assert call['query']['room_id'] == room['room_id'] and call['query']['client_enter'] == 'true', call
    assert len(room['connections']) == 1, room['connections']
    conn = room['connections'][0]
    assert conn['fresh'] and conn['rejected'] is None and conn['problems'] == [], conn
    assert conn['headers']['user-agent'] == call['query']['user_agent'], conn
    assert conn['headers']['origin'] == 'https://www.tiktok.com', conn


def test_enter_room_heartbeats_and_acks_seen_by_the_fake(captured):
    room = captured['room']
    assert len(room['enter_room']) == 1, room['enter_room']
    enter = room['enter_room'][0]
    assert enter['first'] and str(enter['room_id']) == str(room['room_id']), enter
    assert str(enter['live_id']) == '12' and enter['identity'] == 'audience', enter
    # Heartbeats every HEARTBEAT_S while the capture ran, each naming the room.
    hbs = room['heartbeats']
    assert len(hbs) >= 2, 'heartbeats seen: %s' % hbs
    times = [h['time'] for h in hbs]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.5 * HEARTBEAT_S <= g <= 2 * HEARTBEAT_S for g in gaps), 'heartbeat gaps: %s' % gaps
    assert all(str(h['room_id']) == str(room['room_id']) for h in hbs), hbs
    assert hbs[0]['time'] - enter['time'] <= 2 * HEARTBEAT_S, (enter, hbs[0])
    # Every msg frame (each asks for an ack) was acked once, with its log id and the
    # connection's internal_ext echoed.
    frames = room['frames']
    assert frames and all(f['acked'] for f in frames), [f for f in frames if not f['acked']]
    acks = room['acks']
    assert all(a['known'] and a['ext_ok'] for a in acks), acks
    assert sorted(str(a['log_id']) for a in acks) == sorted(str(f['log_id']) for f in frames), acks
    # Gzip frames with and without the header, and plain ones, all decoded.
    assert {f['gzip'] for f in frames} == {'header', 'magic', None}, frames


def test_heartbeat_interval_from_the_config_when_the_fetch_names_none(env, tiktok_pair,
                                                                      tiktok_live):
    """A fetch result without heartbeat_duration: heartbeats every tiktok_heartbeat s."""
    p = tiktok_pair('tthb', tiktok_heartbeat=2)
    user = tiktok_user(env, 'normal')
    with tiktok_live.configured(heartbeat_ms=0):
        sid = connect_tiktok(p, user)
        c = p.ws(sid, since=0)
        read_expected(c, tiktok_live.expected(user))
        assert wait_for(lambda: len(tiktok_live.room(user)['heartbeats']) >= 3, 10), \
            tiktok_live.room(user)['heartbeats']
    end_capture(p, sid, c)
    times = [h['time'] for h in tiktok_live.room(user)['heartbeats']]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(1.5 <= g <= 3 for g in gaps), 'heartbeat gaps with tiktok_heartbeat = 2: %s' % gaps


def test_dropped_upstream_reconnects_through_a_fresh_sign_call(env, tt, tiktok_live):
    """The fake cuts the connection (no close frame) after 12 messages; the next connection
    re-sends the last 4 and its sign answer repeats messages as history: the client gets
    every event once."""
    user = tiktok_user(env, 'dropper')
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    want = tiktok_live.expected(user)
    read_expected(c, want)
    time.sleep(0.5)
    frames = end_capture(tt, sid, c)
    check_contiguous([f['offset'] for f in frames], 1)
    check_capture(events_only(frames), want['events'])
    # The session stayed live across the drop: one live status, no failure.
    assert statuses(frames) == [('live', None), ('ended', 'disconnected')], statuses(frames)
    room = tiktok_live.room(user)
    assert room['drops'] == 1, room
    assert len(room['sign_calls']) == 2, room['sign_calls']
    assert len(room['connections']) == 2, room['connections']
    assert [x['fetch'] for x in room['connections']] == [1, 2], room['connections']
    assert all(x['fresh'] for x in room['connections']), room['connections']
    assert len(room['enter_room']) == 2, room['enter_room']
    assert room['problems'] == [], room['problems']
    # Redialled soon (a short backoff, tiktok_backoff_min_ms = 100).
    gap = room['connections'][1]['time'] - room['connections'][0]['closed']['time']
    assert gap <= 5, gap


@pytest.mark.parametrize('scenario', ['ender', 'suspend'])
def test_control_message_ends_the_session(env, tt, tiktok_live, scenario):
    user = tiktok_user(env, scenario)
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    frames = drop_waiting(c.read_to_close(30))
    assert c.close_code == CLOSE_ENDED, c.close_code
    want = tiktok_live.expected(user)
    assert (want['status'], want['reason']) == ('ended', 'stream_ended'), want
    assert frames[-1]['type'] == 'status', frames[-1]
    assert statuses(frames) == [('live', None), ('ended', 'stream_ended')], statuses(frames)
    check_capture(events_only(frames), want['events'])
    s = tt.wait_session(sid, lambda s: s['status'] == 'ended', 10)
    assert s['error_reason'] == 'stream_ended' and s['ended_at'], s
    assert s['owner'] is None, s
    assert tt.history(sid) == frames


def test_corrupt_frames_and_messages_do_not_end_the_session(env, tt, tiktok_live):
    """The fake sends a non-protobuf frame after its 3rd msg frame, a msg frame with a corrupt
    gzip payload after the 6th, and a truncated chat message and an unknown method among the
    messages: the events after all of them still arrive and the session stays live."""
    user = tiktok_user(env, 'normal')
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    want = tiktok_live.expected(user)
    frames = read_expected(c, want)
    check_capture(events_only(frames), want['events'])
    room = tiktok_live.room(user)
    assert len(room['frames']) > 6, 'the corrupt frames come after the 3rd and the 6th'
    assert len(room['connections']) == 1, 'the connection was redialled: %s' % room['connections']
    s = tt.session(sid)
    assert s['status'] == 'live' and s['error_reason'] is None, s
    assert tt.sidecar.running()
    end_capture(tt, sid, c)


def test_wait_until_live_waits_for_an_offline_user(env, tt, tiktok_live):
    """A "golive" user is offline at the first look; with wait_until_live the session waits
    (looking again every tiktok_live_poll = 30 s, the minimum) instead of failing with
    not_live, then captures."""
    user = tiktok_user(env, 'golive')
    sid = connect_tiktok(tt, user, options={'wait_until_live': True})
    t0 = time.monotonic()
    c = tt.ws(sid, since=0)
    time.sleep(3)
    s = tt.session(sid)
    assert s['status'] == 'connecting', s
    assert s['error_reason'] in (None, 'not_live'), s
    assert s['options'] == {'wait_until_live': True}, s
    s = tt.wait_session(sid, lambda s: s['status'] == 'live', 60)
    waited = time.monotonic() - t0
    assert 25 <= waited <= 50, 'live after %.1f s, with a look every 30 s' % waited
    want = tiktok_live.expected(user)
    frames = read_expected(c, want)
    check_capture(events_only(frames), want['events'])
    room = tiktok_live.room(user)
    first_live = next(x['time'] for x in room['lookups'] if x['live'])
    assert first_live - room['lookups'][0]['time'] >= 29, room['lookups']
    end_capture(tt, sid, c)
    assert wait_for(lambda: tt.session(sid)['status'] == 'ended', 10)
