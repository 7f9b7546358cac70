"""Self-test of the fake TikTok LIVE upstream (test/fakes/tiktok_live.py): runs it as a process,
reads its pages, API and sign answers, talks to its webcast WebSocket as a client would and
decodes what it sends with a tiny protobuf decoder of its own (field numbers from the protocol
facts), then checks --write-corpus and --record.

  /usr/bin/python3 -m pytest -q test/fakes/test_tiktok_live_fake.py
"""
import asyncio
import gzip
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pytest
import websockets
import websockets.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, 'tiktok_live.py')
KEY = 'test-sign-key'
UA = 'Mozilla/5.0 (X11; Linux x86_64) FakeTest/1.0'
SIGI = re.compile(r'<script id="SIGI_STATE" type="application/json">(.*?)</script>', re.S)


# ---------------------------------------------------------------- a tiny protobuf decoder

def fields(buf):
    """[(number, value)]: int for varints, bytes for length-delimited. ValueError otherwise."""
    out, i = [], 0

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            if i >= len(buf) or shift > 63:
                raise ValueError('varint')
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v
    while i < len(buf):
        key = varint()
        if key >> 3 == 0:
            raise ValueError('field 0')
        if key & 7 == 0:
            out.append((key >> 3, varint()))
        elif key & 7 == 2:
            n = varint()
            if i + n > len(buf):
                raise ValueError('truncated')
            out.append((key >> 3, bytes(buf[i:i + n])))
            i += n
        else:
            raise ValueError('wire type %d' % (key & 7))
    return out


def one(buf, n, default=None):
    vals = [v for k, v in fields(buf) if k == n]
    return vals[-1] if vals else default


def many(buf, n):
    return [v for k, v in fields(buf) if k == n]


def frame_of(data):
    f = fields(data)
    d = dict(f)
    headers = {one(h, 1).decode(): one(h, 2).decode() for k, h in f if k == 5}
    return {'seq_id': d.get(1), 'log_id': d.get(2, 0), 'headers': headers,
            'type': d.get(7, b'').decode(), 'payload': d.get(8, b'')}


def fetch_of(payload):
    if payload[:3] == b'\x1f\x8b\x08':
        payload = gzip.decompress(payload)
    msgs = [{'method': one(m, 1).decode(), 'payload': one(m, 2, b''), 'msg_id': one(m, 3),
             'history': one(m, 6, 0)} for m in many(payload, 1)]
    route = {one(e, 1).decode(): one(e, 2).decode() for e in many(payload, 7)}
    return {'messages': msgs, 'cursor': one(payload, 2, b'').decode(),
            'internal_ext': one(payload, 5, b''), 'route': route, 'heartbeat': one(payload, 8),
            'need_ack': one(payload, 9), 'push_server': one(payload, 10, b'').decode()}


def user_of(buf):
    thumb = one(buf, 9)
    return {'id': str(one(buf, 1)), 'username': one(buf, 38).decode().lower(),
            'nickname': one(buf, 3).decode(), 'avatar_url': many(thumb, 1)[0].decode()}


def event_of(m):
    """The event of one message (streamed schema without time), or a kind string."""
    method, p = m['method'], m['payload']
    try:
        common = one(p, 1)
        ev = {'id': str(one(common, 2))}
        if method == 'WebcastChatMessage':
            return dict(ev, type='comment', user=user_of(one(p, 2)), text=one(p, 3).decode())
        if method == 'WebcastMemberMessage':
            return dict(ev, type='join', user=user_of(one(p, 2))) if one(p, 10) == 1 else 'ignored'
        if method == 'WebcastLikeMessage':
            return dict(ev, type='like', user=user_of(one(p, 5)), count=one(p, 2), total=one(p, 3))
        if method == 'WebcastGiftMessage':
            if one(p, 9, 0) != 1:
                return 'ignored'
            g, rep = one(p, 15), one(p, 5)
            return dict(ev, type='gift', user=user_of(one(p, 7)), gift_id=one(g, 5),
                        gift_name=one(g, 16).decode(), count=rep, diamonds=one(g, 12) * rep)
        if method == 'WebcastSocialMessage':
            kind = {1: 'follow', 3: 'share'}.get(one(p, 4))
            return dict(ev, type=kind, user=user_of(one(p, 2))) if kind else 'ignored'
        if method == 'WebcastRoomUserSeqMessage':
            return dict(ev, type='viewers', user=None, viewers=one(p, 3))
        if method == 'WebcastControlMessage':
            return 'control:%d' % one(p, 2)
        return 'unknown'
    except (ValueError, TypeError, AttributeError):
        return 'malformed'


def strip_time(events):
    return [{k: v for k, v in e.items() if k != 'time'} for e in events]


# ---------------------------------------------------------------- the fake process

@pytest.fixture(scope='module')
def fake():
    proc = subprocess.Popen([sys.executable, FAKE, '--port', '0', '--ws-port', '0',
                             '--sign-key', KEY, '--frame-interval', '5', '--heartbeat-ms', '500',
                             '--enter-timeout-ms', '2000'],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.match(r'fake TikTok LIVE listening on (http://\S+) (ws://\S+)$', line.strip())
    assert m, line
    yield {'http': m.group(1), 'ws': m.group(2)}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


@pytest.fixture(autouse=True)
def reset(fake):
    assert call(fake, '/_fake/reset', data=b'')[0] == 200


def call(fake, path, headers=None, data=None):
    req = urllib.request.Request(fake['http'] + path, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def jcall(fake, path, **kw):
    status, _, body = call(fake, path, **kw)
    assert status == 200, (path, status, body)
    return json.loads(body)


def page_user(fake, user):
    status, _, body = call(fake, '/@%s/live' % user, {'User-Agent': UA})
    m = SIGI.search(body.decode())
    return status, body.decode(), m and m.group(1)


def api(fake, user):
    return call(fake, '/api-live/user/room/?uniqueId=%s&sourceType=54' % user)


def sign(fake, room_id, key=KEY):
    q = urllib.parse.urlencode({'client': 'ttlive-c', 'room_id': room_id, 'user_agent': UA,
                                'client_enter': 'true'})
    return call(fake, '/webcast/fetch?' + q, {'X-Api-Key': key} if key else {})


# ---------------------------------------------------------------- www

def test_live_page_and_api(fake):
    exp = jcall(fake, '/_fake/expected?user=alice')
    status, html, state = page_user(fake, 'alice')
    assert status == 200 and state and '\\u002F' in state and '/' not in state
    user = json.loads(state)['LiveRoom']['liveRoomUserInfo']['user']
    assert (user['roomId'], user['status'], user['uniqueId']) == (exp['room_id'], 2, 'alice')
    assert user['avatarThumb'].startswith('https://')
    status, _, body = api(fake, 'alice')
    data = json.loads(body)
    assert status == 200 and data['statusCode'] == 0
    assert (data['data']['user']['roomId'], data['data']['user']['status']) == (exp['room_id'], 2)
    log = jcall(fake, '/_fake/log?user=alice')
    assert [x['kind'] for x in log['lookups']] == ['page', 'api']
    assert log['lookups'][0]['headers']['user-agent'] == UA and log['problems'] == []


@pytest.mark.parametrize('user,page,api_status,api_code', [
    ('offline_bob', 4, 200, 0), ('missing_bob', None, 200, 19881007),
    ('adult_bob', None, 200, 4003110), ('captcha_bob', 'captcha', 403, None),
    ('garbage_bob', 'broken', 200, 'broken'), ('nosigi_bob', None, 200, 0),
    ('changed_bob', 'nolive', 200, 0)])
def test_lookup_scenarios(fake, user, page, api_status, api_code):
    status, html, state = page_user(fake, user)
    assert status == 200
    if page is None or page == 'captcha':
        assert state is None
        assert ('captcha' in html) == (page == 'captcha')
    elif page == 'broken':
        with pytest.raises(ValueError):
            json.loads(state)
    elif page == 'nolive':
        assert 'LiveRoom' not in json.loads(state)
    else:
        assert json.loads(state)['LiveRoom']['liveRoomUserInfo']['user']['status'] == page
    status, _, body = api(fake, user)
    assert status == api_status
    if api_code == 'broken':
        with pytest.raises(ValueError):
            json.loads(body)
    elif api_code is not None:
        assert json.loads(body)['statusCode'] == api_code
    if user == 'nosigi_bob':
        assert json.loads(body)['data']['user']['status'] == 2


def test_golive_goes_live_after_polls(fake):
    assert json.loads(page_user(fake, 'golive_x')[2])['LiveRoom']['liveRoomUserInfo']['user'][
        'status'] == 4
    assert json.loads(page_user(fake, 'golive_x')[2])['LiveRoom']['liveRoomUserInfo']['user'][
        'status'] == 2
    assert jcall(fake, '/_fake/log?user=golive_x')['polls'] == 2


# ---------------------------------------------------------------- sign

def test_sign_errors(fake):
    room = lambda u: jcall(fake, '/_fake/expected?user=' + u)['room_id']  # noqa: E731
    assert sign(fake, room('alice'), key=None)[0] == 401
    assert sign(fake, room('alice'), key='wrong')[0] == 401
    status, headers, body = sign(fake, room('signlimit_a'))
    assert status == 429 and headers['Retry-After'] == '2'
    assert json.loads(body) == {'message': 'rate limited', 'limit_label': 'x'}
    assert sign(fake, room('signlimit_a'))[0] == 200
    assert sign(fake, room('signpaid_a'))[0] == 402
    assert sign(fake, room('signunauth_a'))[0] == 401
    assert sign(fake, room('signforbidden_a'))[0] == 403
    assert sign(fake, room('signerror_a'))[0] == 502
    status, _, body = sign(fake, room('signempty_a'))
    assert (status, body) == (200, b'')
    calls = jcall(fake, '/_fake/log?user=signlimit_a')['sign_calls']
    assert [c['status'] for c in calls] == [429, 200] and calls[1]['fetch'] == 1


def test_sign_fetch_result(fake):
    exp = jcall(fake, '/_fake/expected?user=alice')
    status, headers, body = sign(fake, exp['room_id'])
    assert status == 200 and headers['X-Set-TT-Cookie'] == 'ttwid=abc; tt_csrf_token=def'
    fr = fetch_of(body)
    assert fr['push_server'] == fake['ws'] + '/webcast/im/push/v2/'
    assert fr['heartbeat'] == 500 and fr['need_ack'] == 1
    assert fr['route'] == {'cursor': fr['cursor'], 'internal_ext': fr['internal_ext'].decode()}
    assert len(fr['messages']) == 3 and all(m['history'] == 1 for m in fr['messages'])
    evs = [event_of(m) for m in fr['messages']]
    assert strip_time([e for e in evs if isinstance(e, dict)]) == strip_time(exp['events'][:3])


# ---------------------------------------------------------------- the webcast WebSocket

def ws_url(fake, room_id, fr):
    q = dict(fr['route'], room_id=room_id, compress='gzip', identity='audience', live_id='12',
             version_code='180800', resp_content_type='protobuf', aid='1988',
             app_name='tiktok_web', device_platform='web_pc')
    return fr['push_server'] + '?' + urllib.parse.urlencode(q)


async def session(fake, user, want=None, stop_on_control=True, quiet=0.6):
    """Sign, connect, enter, ack and heartbeat; returns (events or kinds seen, how it ended)."""
    exp = jcall(fake, '/_fake/expected?user=' + user)
    status, _, body = sign(fake, exp['room_id'])
    assert status == 200
    fr = fetch_of(body)
    seen = [event_of(m) for m in fr['messages']]
    async with websockets.connect(ws_url(fake, exp['room_id'], fr), user_agent_header=UA,
                                  origin='https://www.tiktok.com', compression=None,
                                  extra_headers={'Cookie': 'ttwid=abc; tt_csrf_token=def'}) as ws:
        await ws.send(_enter(exp['room_id']))
        await ws.send(_hb(exp['room_id'], 1))
        how = 'quiet'
        try:
            while want is None or len([e for e in seen if isinstance(e, dict)]) < want:
                data = await asyncio.wait_for(ws.recv(), quiet)
                try:
                    f = frame_of(data)
                except ValueError:
                    seen.append('corrupt_frame')
                    continue
                if f['type'] != 'msg':
                    seen.append('frame:' + f['type'])
                    continue
                try:
                    fr2 = fetch_of(f['payload'])
                except (ValueError, OSError, EOFError, zlib.error):
                    seen.append('corrupt_frame')
                    continue
                assert f['headers'].get('compress_type') in (None, 'gzip')
                if fr2['need_ack']:
                    await ws.send(_ack(f['log_id'], fr2['internal_ext']))
                seen += [event_of(m) for m in fr2['messages']]
                if stop_on_control and any(str(e).startswith('control') for e in seen):
                    how = 'control'
                    break
        except asyncio.TimeoutError:
            pass
        except websockets.exceptions.ConnectionClosedError as e:
            how = 'dropped:%s' % e.code
        if how != 'dropped:1006':
            await ws.send(_hb(exp['room_id'], 2))
    return seen, how


def _enter(room_id):
    payload = bytes(_pb_varint(1, int(room_id)) + _pb_varint(4, 12) + _pb_bytes(5, b'audience')
                    + _pb_varint(8, 99))
    return _pb_bytes(7, b'im_enter_room') + _pb_bytes(8, payload)


def _hb(room_id, seq):
    return _pb_bytes(7, b'hb') + _pb_bytes(8, _pb_varint(1, int(room_id)) + _pb_varint(2, seq))


def _ack(log_id, ext):
    return _pb_varint(2, log_id) + _pb_bytes(7, b'ack') + _pb_bytes(8, ext)


def _uvarint(v):
    out = bytearray()
    while v > 0x7F:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    return bytes(out + bytes([v]))


def _pb_varint(n, v):
    return _uvarint(n << 3) + _uvarint(v)


def _pb_bytes(n, b):
    return _uvarint(n << 3 | 2) + _uvarint(len(b)) + b


def dedup(seen):
    out, ids = [], set()
    for e in seen:
        if isinstance(e, dict) and e['id'] not in ids:
            ids.add(e['id'])
            out.append(e)
    return out


def test_ws_stream_every_kind(fake):
    exp = jcall(fake, '/_fake/expected?user=alice')
    seen, how = asyncio.run(session(fake, 'alice'))
    assert how == 'quiet'
    assert strip_time(dedup(seen)) == strip_time(exp['events'])
    assert len(exp['events']) == exp['counts']['event'] == 33
    kinds = {e['type'] for e in exp['events']}
    assert kinds == {'comment', 'join', 'like', 'gift', 'follow', 'share', 'viewers'}
    for k in ('unknown', 'malformed', 'ignored', 'corrupt_frame', 'frame:im_enter_room_resp'):
        assert k in seen, k
    # The fake notes the close a moment after the client's close frame.
    for _ in range(50):
        log = jcall(fake, '/_fake/log?user=alice')
        if log['connections'] and log['connections'][0]['closed']:
            break
        time.sleep(0.1)
    assert log['problems'] == [], log['problems']
    (conn,) = log['connections']
    assert conn['fresh'] and conn['fetch'] == 1 and conn['start'] == 0 and conn['problems'] == []
    assert conn['closed'] and conn['closed']['by'] == 'client'
    assert conn['headers']['cookie'] == 'ttwid=abc; tt_csrf_token=def'
    (enter,) = log['enter_room']
    assert enter == dict(enter, room_id=exp['room_id'], live_id=12, identity='audience',
                         enter_unique_id='99', first=True)
    assert [h['seq'] for h in log['heartbeats']] == [1, 2]
    assert len(log['acks']) == len(log['frames']) == conn['frames_sent'] == 16
    assert all(a['known'] and a['ext_ok'] for a in log['acks'])
    assert all(f['acked'] for f in log['frames'])
    assert {f['gzip'] for f in log['frames']} == {'header', 'magic', None}
    whole = jcall(fake, '/_fake/log')
    assert 'alice' in whole['rooms'] and whole['unmatched'] == []


def test_ws_handshake_rejected_like_tiktok(fake):
    exp = jcall(fake, '/_fake/expected?user=blockws_c')
    room, fr = exp['room_id'], fetch_of(sign(fake, exp['room_id'])[2])

    async def dial():
        async with websockets.connect(ws_url(fake, room, fr)):
            pass
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        asyncio.run(dial())
    assert e.value.status_code == 200
    assert e.value.headers['handshake-status'] == '415'
    assert e.value.headers['handshake-msg'] == 'DEVICE_BLOCKED'
    (conn,) = jcall(fake, '/_fake/log?user=blockws_c')['connections']
    assert conn['rejected'] == {'status': '415', 'msg': 'DEVICE_BLOCKED'}
    exp = jcall(fake, '/_fake/expected?user=wsdown_c')
    room, fr = exp['room_id'], fetch_of(sign(fake, exp['room_id'])[2])
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        asyncio.run(dial())
    assert e.value.status_code == 503


def test_ws_problems_are_recorded(fake):
    exp = jcall(fake, '/_fake/expected?user=alice')
    fr = fetch_of(sign(fake, exp['room_id'])[2])

    async def bad():
        async with websockets.connect(ws_url(fake, exp['room_id'], fr).replace(
                'identity=audience', 'identity=anchor')) as ws:
            await ws.send(_hb(exp['room_id'], 1))
            await asyncio.sleep(0.3)
    asyncio.run(bad())
    probs = ' | '.join(jcall(fake, '/_fake/log?user=alice')['problems'])
    for s in ('identity', 'cookie lacks ttwid=abc', 'origin', 'user-agent'):
        assert s in probs, probs


def test_dropper_resends_after_a_new_fetch(fake):
    exp = jcall(fake, '/_fake/expected?user=dropper_d')
    first, how = asyncio.run(session(fake, 'dropper_d'))
    assert how == 'dropped:1006'
    second, how = asyncio.run(session(fake, 'dropper_d'))
    assert how == 'quiet'
    assert strip_time(dedup(first + second)) == strip_time(exp['events'])
    ids1 = {e['id'] for e in first if isinstance(e, dict)}
    assert ids1 & {e['id'] for e in second if isinstance(e, dict)}       # re-sent ones
    log = jcall(fake, '/_fake/log?user=dropper_d')
    c1, c2 = log['connections']
    assert (c1['closed']['by'], c1['messages_sent'], log['drops']) == ('dropped', 12, 1)
    assert c2['start'] == 12 - 4 and c2['fetch'] == 2 and c2['fresh']
    assert log['problems'] == []


def test_ender_and_suspend(fake):
    for user, action in (('ender_e', 3), ('suspend_s', 4)):
        exp = jcall(fake, '/_fake/expected?user=' + user)
        assert (exp['status'], exp['reason'], exp['end']['action']) == ('ended', 'stream_ended',
                                                                        action)
        seen, how = asyncio.run(session(fake, user))
        assert how == 'control' and seen[-1] == 'control:%d' % action
        assert strip_time(dedup(seen)) == strip_time(exp['events'])


def test_corrupt_scenario(fake):
    exp = jcall(fake, '/_fake/expected?user=corrupt_z')
    assert (exp['status'], exp['reason'], exp['events']) == ('failed', 'upstream_changed', [])
    assert exp['counts']['malformed'] == exp['messages'] == 100
    seen, _ = asyncio.run(session(fake, 'corrupt_z', quiet=0.4))
    assert set(seen) == {'malformed', 'corrupt_frame', 'frame:im_enter_room_resp'}


def test_config_and_reset(fake):
    cfg = jcall(fake, '/_fake/config', data=json.dumps({'messages': 16}).encode())
    assert cfg['messages'] == 16 and cfg['heartbeat_ms'] == 500
    assert len(jcall(fake, '/_fake/expected?user=alice')['events']) == 11
    assert call(fake, '/_fake/config', data=b'{"nope": 1}')[0] == 400
    jcall(fake, '/_fake/reset', data=b'')
    assert jcall(fake, '/_fake/config')['messages'] == 48
    assert jcall(fake, '/_fake/log')['rooms'] == {}


# ---------------------------------------------------------------- corpus and record

def test_write_corpus(tmp_path):
    out = subprocess.run([sys.executable, FAKE, '--write-corpus', str(tmp_path / 'c')],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = os.listdir(tmp_path / 'c')
    frames = [n for n in names if re.match(r'frame_[a-z]+_(header|magic|plain)_', n)]
    assert {n.split('_')[2] for n in frames} == {'header', 'magic', 'plain'}
    for n in frames:
        f = frame_of((tmp_path / 'c' / n).read_bytes())
        assert f['type'] == 'msg' and fetch_of(f['payload'])['messages']
    assert 'frame_corrupt.bin' in names and 'fetch_normal.bin' in names
    assert fetch_of((tmp_path / 'c' / 'fetch_normal.bin').read_bytes())['push_server']


def test_record(tmp_path):
    path = tmp_path / 'frames.bin'
    out = subprocess.run([sys.executable, FAKE, '--record', str(path), '--frames', '20'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data, n, i = path.read_bytes(), 0, 0
    while i < len(data):
        (size,) = struct.unpack('>I', data[i:i + 4])
        f = frame_of(data[i + 4:i + 4 + size])
        assert f['type'] == 'msg' and len(fetch_of(f['payload'])['messages']) == 3
        i, n = i + 4 + size, n + 1
    assert n == 20


def test_port_in_use(fake):
    port = int(fake['http'].rsplit(':', 1)[1])
    out = subprocess.run([sys.executable, FAKE, '--port', str(port), '--ws-port', '0'],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and 'cannot listen' in out.stderr
    with socket.create_connection(('127.0.0.1', port), timeout=5):
        pass
