"""Every way the tiktok source can fail, each from one of the fake TikTok LIVE's error modes
(test/fakes/tiktok_live.py) or an unreachable URL: the session ends failed with the reason
GET /sessions/{id} shows as error_reason (docs/tiktok-capture.md), its clients get the final
status and close 1000, and the sidecar carries on. Also the ones that recover: the room API
fallback when the live page has no SIGI_STATE, and a rate-limited sign server (the session
shows the reason while it waits, then goes live)."""
import pytest

from live_client import CLOSE_ENDED, events_only, statuses
from profile_env import (check_capture, closed_port_url, connect_tiktok, drop_waiting,
                         tiktok_user)


@pytest.fixture(scope='module')
def tt(module_tiktok_pair):
    return module_tiktok_pair('ttfail')


def expect_failure(pair, sid, reason, timeout=20, events=False):
    """The session ends failed with reason: its client sees the final status (then 1000),
    GET /sessions/{id} shows it with an error_detail; returns the session. events: the
    failure comes after the sign server's fetch result, whose messages may have been
    captured already."""
    c = pair.ws(sid, since=0)
    frames = drop_waiting(c.read_to_close(timeout))
    assert c.close_code == CLOSE_ENDED, c.close_code
    assert frames and frames[-1]['type'] == 'status', frames
    assert statuses(frames)[-1] == ('failed', reason), statuses(frames)
    if not events:
        assert statuses(frames) == [('failed', reason)], statuses(frames)
        assert not events_only(frames), 'events of a session that never went live: %s' % frames[:3]
    s = pair.wait_session(sid, lambda s: s['status'] == 'failed', 10)
    assert s['error_reason'] == reason, s
    assert s['error_detail'], s
    assert s['ended_at'] and s['owner'] is None, s
    assert pair.sidecar.running()
    assert pair.sidecar.health()['status'] == 'ok'
    return s


FAILURES = [
    ('missing', 'user_not_found'),       # no SIGI_STATE; the room API's statusCode 19881007
    ('offline', 'not_live'),             # status 4, no wait_until_live
    ('golive', 'not_live'),              # offline at the first look, no wait_until_live
    ('adult', 'age_restricted'),         # the room API's statusCode 4003110
    ('captcha', 'blocked'),              # a captcha page, then 403 from the room API
    ('waf', 'blocked'),                  # 403 pages from both
    ('signempty', 'blocked'),            # the sign server answers 200 with an empty body
    ('blockws', 'blocked'),              # the upgrade answered 200 + handshake-status 415
    ('blockkey', 'blocked'),             # … 417 "illegal secret key"
    ('signpaid', 'sign_server_unauthorized'),       # 402
    ('signunauth', 'sign_server_unauthorized'),     # 401
    ('signforbidden', 'sign_server_unauthorized'),  # 403
    ('garbage', 'upstream_changed'),     # lookup answers that do not parse
    ('changed', 'upstream_changed'),     # … that parse but lack the room
]


@pytest.mark.parametrize('scenario,reason', FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_reason(env, tt, tiktok_live, scenario, reason):
    user = tiktok_user(env, scenario)
    want = tiktok_live.expected(user)
    assert want['scenario'] == scenario, want
    if scenario != 'golive':
        assert (want['status'], want['reason']) == ('failed', reason), want
    sid = connect_tiktok(tt, user)
    s = expect_failure(tt, sid, reason, events=scenario in ('blockws', 'blockkey'))
    room = tiktok_live.room(user)
    if scenario == 'blockws':
        assert 'DEVICE_BLOCKED' in s['error_detail'] or '415' in s['error_detail'], s
    if scenario == 'blockkey':
        assert '417' in s['error_detail'] or 'illegal' in s['error_detail'], s
    if scenario in ('blockws', 'blockkey'):
        assert room['connections'] and all(c['rejected'] for c in room['connections']), room
    if scenario.startswith('sign'):
        assert room['sign_calls'], room
        assert not room['connections'], 'dialled after a failed sign call: %s' % room['connections']
    if scenario in ('missing', 'offline', 'golive', 'adult', 'captcha', 'waf', 'garbage', 'changed'):
        assert room['lookups'] and not room['sign_calls'], room
    # Final answers are not retried for ever: a handful of lookups or sign calls at most.
    assert len(room['lookups']) <= 8 and len(room['sign_calls']) <= 4, room


def test_wrong_sign_key_is_unauthorized(env, tiktok_pair, tiktok_live):
    p = tiktok_pair('ttbadkey', sign_api_key_file=tiktok_live.bad_key_file)
    user = tiktok_user(env, 'normal')
    sid = connect_tiktok(p, user)
    s = expect_failure(p, sid, 'sign_server_unauthorized')
    with open(tiktok_live.bad_key_file) as f:
        assert f.read() not in s['error_detail'], 'the key shows in error_detail'
    room = tiktok_live.room(user)
    assert room['sign_calls'] and not any(c['api_key_ok'] for c in room['sign_calls']), room
    assert [c['status'] for c in room['sign_calls']] == [401] * len(room['sign_calls']), room
    assert not room['connections'], room


@pytest.mark.parametrize('which', ['www', 'sign', 'push'])
def test_unreachable_upstream_is_network(env, tiktok_pair, tiktok_live, which):
    """A URL on a closed port: the live page and the room API, the sign server, or the push
    server (tiktok_push_url overrides the fetch result's): tiktok_reconnect_attempts (3)
    attempts, then failed "network"."""
    url = closed_port_url()
    key = {'www': 'tiktok_www_url', 'sign': 'sign_url', 'push': 'tiktok_push_url'}[which]
    if which == 'push':
        url = url.replace('http://', 'ws://') + '/webcast/im/push/v2/'
    p = tiktok_pair('ttnet' + which, **{key: url})
    user = tiktok_user(env, 'normal')
    sid = connect_tiktok(p, user)
    expect_failure(p, sid, 'network', timeout=30, events=which == 'push')
    room = tiktok_live.room(user)
    if which == 'www':
        assert not room['lookups'], room
    elif which == 'sign':
        assert len(room['lookups']) == 3 and not room['sign_calls'], room
    else:
        assert len(room['sign_calls']) == 3 and not room['connections'], room


def test_room_api_fallback_without_sigi_state(env, tt, tiktok_live):
    user = tiktok_user(env, 'nosigi')
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    want = tiktok_live.expected(user)
    c.read_until(lambda f: len(events_only(drop_waiting(c.frames))) >= len(want['events']), 30)
    check_capture(events_only(drop_waiting(c.frames)), want['events'])
    assert tt.session(sid)['status'] == 'live'
    room = tiktok_live.room(user)
    assert [x['kind'] for x in room['lookups']] == ['page', 'api'], room['lookups']
    assert tt.disconnect(sid).status_code == 202
    c.read_to_close(15)
    assert c.close_code == CLOSE_ENDED


def test_rate_limited_sign_server_waits_then_goes_live(env, tt, tiktok_live):
    """429 with Retry-After: 2 for the first sign call: the session shows
    sign_server_rate_limited (still connecting, the retry time in error_detail) while it
    waits, then goes live and captures everything."""
    user = tiktok_user(env, 'signlimit')
    sid = connect_tiktok(tt, user)
    c = tt.ws(sid, since=0)
    waiting = tt.wait_session(sid, lambda s: s['error_reason'] == 'sign_server_rate_limited', 10)
    assert waiting['status'] == 'connecting', waiting
    assert waiting['error_detail'] and '2' in waiting['error_detail'], waiting
    live = tt.wait_session(sid, lambda s: s['status'] == 'live', 30)
    assert live['error_reason'] is None and live['error_detail'] is None, live
    want = tiktok_live.expected(user)
    c.read_until(lambda f: len(events_only(drop_waiting(c.frames))) >= len(want['events']), 30)
    frames = drop_waiting(c.frames)
    check_capture(events_only(frames), want['events'])
    assert statuses(frames) == [('live', None)], statuses(frames)
    room = tiktok_live.room(user)
    assert [x['status'] for x in room['sign_calls']] == [429, 200], room['sign_calls']
    gap = room['sign_calls'][1]['time'] - room['sign_calls'][0]['time']
    assert 1.8 <= gap <= 6, 'the second sign call %.2f s after a 429 with Retry-After: 2' % gap
    assert tt.disconnect(sid).status_code == 202
    c.read_to_close(15)
    assert c.close_code == CLOSE_ENDED
