"""The pure part of the fake TikTok LIVE upstream (tiktok_live.py): the hand-written protobuf
encoder/decoder, push frames and ProtoMessageFetchResult builders, the scenario/room-id
mapping and each room's deterministic message stream with the events it should yield. No
sockets, no threads; written from the protocol facts (../shared/reference/tiktok-live-protocol.md).
The stream itself (PATTERN, gzip modes, resume) is described in tiktok_live.py's docstring.
"""
import gzip
import hashlib
import re
import time

CDN = 'https://p16-sign.tiktokcdn-us.com'
BASE_MS = 1767225600000                      # 2026-01-01T00:00:00Z: message create_time base
COOKIE = 'ttwid=abc; tt_csrf_token=def'
UA_DEFAULT = 'Mozilla/5.0'
SCENARIOS = ('normal', 'offline', 'golive', 'missing', 'adult', 'captcha', 'waf', 'garbage',
             'changed', 'nosigi', 'signlimit', 'signpaid', 'signunauth', 'signforbidden',
             'signempty', 'blockws', 'blockkey', 'dropper', 'ender', 'suspend', 'signerror',
             'wsdown', 'corrupt')
OUTCOME = {'offline': ('failed', 'not_live'), 'missing': ('failed', 'user_not_found'),
           'adult': ('failed', 'age_restricted'), 'captcha': ('failed', 'blocked'),
           'waf': ('failed', 'blocked'), 'garbage': ('failed', 'upstream_changed'),
           'changed': ('failed', 'upstream_changed'), 'signempty': ('failed', 'blocked'),
           'signpaid': ('failed', 'sign_server_unauthorized'),
           'signunauth': ('failed', 'sign_server_unauthorized'),
           'signforbidden': ('failed', 'sign_server_unauthorized'),
           'blockws': ('failed', 'blocked'), 'blockkey': ('failed', 'blocked'),
           'ender': ('ended', 'stream_ended'), 'suspend': ('ended', 'stream_ended'),
           'signerror': ('failed', 'network'), 'wsdown': ('failed', 'network'),
           'corrupt': ('failed', 'upstream_changed')}
WS_QUERY = {'compress': 'gzip', 'identity': 'audience', 'live_id': '12',
            'version_code': '180800', 'resp_content_type': 'protobuf', 'aid': '1988',
            'app_name': 'tiktok_web', 'device_platform': 'web_pc'}
CORRUPT_FRAME = b'\xff' * 12 + b'this is not a push frame \x00\x01'


# ---------------------------------------------------------------- protobuf, by hand

def _varint(v):
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while v > 0x7F:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def pv(n, v):
    """Field n as a varint."""
    return _varint(n << 3) + _varint(int(v))


def pb(n, data):
    """Field n length-delimited (bytes, or str as UTF-8)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    return _varint(n << 3 | 2) + _varint(len(data)) + data


def pm(n, *parts):
    """Field n holding the message made of parts."""
    return pb(n, b''.join(parts))


def pb_fields(buf):
    """[(number, wire, value)]: int for varint/fixed, bytes for length-delimited.
    ValueError when buf is not protobuf."""
    out, i, n = [], 0, len(buf)

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            if i >= n or shift > 63:
                raise ValueError('bad varint')
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < n:
        key = varint()
        num, wire = key >> 3, key & 7
        if num == 0:
            raise ValueError('field number 0')
        if wire == 0:
            val = varint()
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if i + size > n:
                raise ValueError('truncated')
            val, i = int.from_bytes(buf[i:i + size], 'little'), i + size
        elif wire == 2:
            size = varint()
            if i + size > n:
                raise ValueError('truncated')
            val, i = bytes(buf[i:i + size]), i + size
        else:
            raise ValueError('wire type %d' % wire)
        out.append((num, wire, val))
    return out


def pb_dict(buf):
    """{number: last value} (repeated fields: the last one)."""
    return {num: val for num, _, val in pb_fields(buf)}


def _num(v):
    """A varint field, or one sent as decimal text, as decimal text."""
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    return None if v is None else str(v)


def _val(v):
    """A field for the JSON log: int as is, bytes as text."""
    return v.decode('utf-8', 'replace') if isinstance(v, bytes) else v


def push_frame(seq_id, log_id, payload_type, payload, headers=()):
    return b''.join([pv(1, seq_id), pv(2, log_id), pv(3, 5), pv(4, 8)]
                    + [pm(5, pb(1, k), pb(2, v)) for k, v in headers]
                    + [pb(6, 'pb'), pb(7, payload_type), pb(8, payload)])


def enter_room_frame(room_id, enter_id='1'):
    """What a client sends first (for the self-test and the corpus)."""
    return push_frame(0, 0, 'im_enter_room', b''.join(
        [pv(1, int(room_id)), pv(4, 12), pb(5, 'audience'), pv(8, int(enter_id))]))


def heartbeat_frame(room_id, seq):
    return push_frame(0, 0, 'hb', pv(1, int(room_id)) + pv(2, seq))


def ack_frame(log_id, internal_ext):
    return push_frame(0, log_id, 'ack', internal_ext)


def fetch_result(msgs, cursor, internal_ext, now_ms, history=False, route=None,
                 heartbeat_ms=0, push_server='', first=False):
    """ProtoMessageFetchResult of msgs (Msg list)."""
    parts = [pm(1, pb(1, m.method), pb(2, m.payload), pv(3, m.msg_id), pv(4, 0),
                pv(5, m.index), pv(6, 1 if history else 0)) for m in msgs]
    parts += [pb(2, cursor), pv(3, 1000), pv(4, now_ms), pb(5, internal_ext), pv(6, 1)]
    parts += [pm(7, pb(1, k), pb(2, v)) for k, v in (route or {}).items()]
    if heartbeat_ms:
        parts.append(pv(8, heartbeat_ms))
    parts.append(pv(9, 1))
    if push_server:
        parts.append(pb(10, push_server))
    if first:
        parts.append(pv(11, 1))
    return b''.join(parts)


# ---------------------------------------------------------------- rooms and their streams

def _h(*parts):
    return int.from_bytes(hashlib.sha256('|'.join(map(str, parts)).encode()).digest()[:8], 'big')


def scenario_of(user):
    head = user.lower().split('_', 1)[0]
    return head if head in SCENARIOS else 'normal'


def room_id_of(user):
    code = SCENARIOS.index(scenario_of(user))
    return '73%02d%015d' % (code, _h('room', user.lower()) % 10 ** 15)


def scenario_of_room(room_id):
    if re.fullmatch(r'73\d{17}', room_id) and int(room_id[2:4]) < len(SCENARIOS):
        return SCENARIOS[int(room_id[2:4])]
    return 'normal'


def iso_ms(ms):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000)) + '.%03dZ' % (ms % 1000)


_HANDLES = [('mia', 'Mia 🌸'), ('Luna.Star', 'Luna ✨'), ('kenji_vibes', 'けんじ 🌙'),
            ('ana.daily', 'Ana 💜'), ('Ahmed_Music', 'Ahmed 🎧'), ('zoe', 'Zoë "Z" <b>'),
            ('leo.travel', 'Leo'), ('Ines_World', 'Inês \\o/')]
_GIFTS = [(5655, 'Rose', 1), (5269, 'TikTok', 1), (6064, 'GG', 1), (5879, 'Doughnut', 30),
          (6104, 'Cap', 99)]
_TEXTS = ['hello from the fake 👋', 'trop bien 😍', 'quote " backslash \\ slash / <tag> & done',
          'xin chào từ Hà Nội 🇻🇳', 'lol 😂😂😂', 'ünïcödé ✓ 中文']
PATTERN = ('chat', 'join', 'like', 'streak1', 'streak2', 'streak3', 'follow', 'viewers', 'chat',
           'mystery', 'share', 'corrupt', 'leave', 'gift', 'like', 'chat')


class Msg:
    __slots__ = ('index', 'method', 'msg_id', 'payload', 'kind', 'event')

    def __init__(self, index, method, msg_id, payload, kind, event):
        self.index, self.method, self.msg_id = index, method, msg_id
        self.payload, self.kind, self.event = payload, kind, event


def _viewer(room_id, k):
    handle, nick = _HANDLES[(_h('h', room_id) + k) % len(_HANDLES)]
    display = '%s%d' % (handle, _h('n', room_id, k) % 1000)
    uid = 7000000000000000000 + _h('uid', room_id, k) % 10 ** 18
    pic = hashlib.sha256(b'pic%d' % uid).hexdigest()[:32]
    path = '%s/tos-useast5-avt-0068-tx/%s~c5_100x100' % (CDN, pic)
    proto = b''.join([pv(1, uid), pb(3, nick),
                      pm(9, pb(1, path + '.jpeg'), pb(1, path + '.webp'), pb(2, pic)),
                      pm(10, pb(1, path.replace('100x100', '720x720') + '.jpeg')),
                      pv(12, 0), pm(22, pv(1, k * 7), pv(2, k * 1001)), pb(38, display),
                      pb(46, 'MS4wLjABAAAA' + pic), pm(68, pv(1, 1))])
    user = {'id': str(uid), 'username': display.lower(), 'nickname': nick,
            'avatar_url': path + '.jpeg'}
    return proto, user


def build_stream(room_id, scenario, cfg):
    """The room's messages in order (deterministic)."""
    n = int(cfg['messages'])
    end = None
    if scenario in ('ender', 'suspend'):
        n = min(n, int(cfg['end_after']))
        end = 3 if scenario == 'ender' else 4
    if scenario == 'corrupt':
        n = max(n, 100)
    rh = _h('msgs', room_id)
    likes = 1000 + rh % 5000
    out = []

    def common(method, msg_id, ms):
        return pm(1, pb(1, method), pv(2, msg_id), pv(3, int(room_id)), pv(4, ms),
                  pm(8, pb(1, 'pm_mt_key'), pb(2, '{0:user} says')))
    for i in range(n + (1 if end else 0)):
        msg_id = 7100000000000000000 + (int(room_id) % 10 ** 12) * 10 ** 6 + i
        ms = BASE_MS + rh % 10 ** 8 + i * 137
        kind = PATTERN[i % len(PATTERN)] if i < n else 'control'
        if scenario == 'corrupt':
            kind = 'corrupt'
        streak = i - (i % len(PATTERN)) + 3         # the streak's first message
        upb, user = _viewer(room_id, streak if kind.startswith('streak') else i)
        ev = {'type': None, 'id': str(msg_id), 'time': iso_ms(ms), 'user': user}
        method, body, tag = 'WebcastChatMessage', b'', 'event'
        if kind == 'chat':
            text = _TEXTS[(i + rh) % len(_TEXTS)]
            body = pm(2, upb) + pb(3, text) + pb(14, 'en')
            ev.update(type='comment', text=text)
        elif kind in ('join', 'leave'):
            method = 'WebcastMemberMessage'
            body = pm(2, upb) + pv(3, 100 + i) + pv(10, 1 if kind == 'join' else 2)
            ev['type'] = 'join'
        elif kind == 'like':
            count = 1 + (rh + i) % 15
            likes += count
            method, body = 'WebcastLikeMessage', pv(2, count) + pv(3, likes) + pm(5, upb)
            ev.update(type='like', count=count, total=likes)
        elif kind.startswith('streak') or kind == 'gift':
            gid, gname, dia = _GIFTS[(rh + i // len(PATTERN) + (kind == 'gift')) % len(_GIFTS)]
            rep = int(kind[-1]) if kind != 'gift' else 1
            last = kind in ('streak3', 'gift')
            method = 'WebcastGiftMessage'
            body = b''.join([pv(2, gid), pv(4, 1), pv(5, rep), pv(6, rep), pm(7, upb),
                             pv(9, 1 if last else 0),
                             pm(15, pb(1, 'gift'), pv(5, gid), pv(11, 1), pv(12, dia),
                                pb(16, gname))])
            ev.update(type='gift', gift_id=gid, gift_name=gname, count=rep, diamonds=dia * rep)
            tag = 'event' if last else 'ignored'
        elif kind in ('follow', 'share'):
            method = 'WebcastSocialMessage'
            body = pm(2, upb) + pv(3, 0 if kind == 'follow' else 1) + pv(4, 1 if kind == 'follow'
                                                                          else 3)
            ev['type'] = kind
        elif kind == 'viewers':
            method, body = 'WebcastRoomUserSeqMessage', pv(3, 500 + (rh + i) % 20000)
            ev.update(type='viewers', user=None, viewers=500 + (rh + i) % 20000)
        elif kind == 'mystery':
            method, body, tag = 'WebcastMysteryMessage', pm(2, upb) + pb(3, 'who knows'), 'unknown'
        elif kind == 'corrupt':
            tag = 'malformed'
        else:
            method, body, tag = 'WebcastControlMessage', pv(2, end) + pb(3, 'ended'), 'control'
        if kind == 'corrupt':
            payload = b'\x0a\x64\x0a\x12' + b'WebcastChat'      # field 1 claims 100 bytes
        else:
            payload = common(method, msg_id, ms) + body
        if kind == 'leave':
            tag = 'ignored'
        out.append(Msg(i, method, msg_id, payload, tag, ev if tag == 'event' else None))
    return out


def stream_frames(msgs, room_id, cfg, now_ms, internal_ext, first_frame=0, log_base=None):
    """[(frame bytes, gzip mode, msgs)] as a connection sends them (no corrupt frames)."""
    mpf = max(1, int(cfg['msgs_per_frame']))
    if log_base is None:
        log_base = 7200000000000000000 + int(room_id) % 10 ** 9 * 10 ** 9
    out = []
    for j, k in enumerate(range(0, len(msgs), mpf), first_frame):
        out.append(msg_frame(msgs[k:k + mpf], j, log_base + j, now_ms, internal_ext))
    return out


def msg_frame(batch, j, log_id, now_ms, internal_ext):
    fr = fetch_result(batch, 't-%d_r-1_d-1_u-1_h-%d' % (now_ms, j), internal_ext, now_ms)
    mode = None if j % 2 else ('header' if j % 4 == 0 else 'magic')
    headers = [('im-cursor', 'c%d' % j)]
    if mode:
        fr = gzip.compress(fr, mtime=0)
        if mode == 'header':
            headers.append(('compress_type', 'gzip'))
    return push_frame(j + 1, log_id, 'msg', fr, headers), mode, batch


def bad_gzip_frame(log_id):
    return push_frame(0, log_id, 'msg', b'\x1f\x8b\x08\x00' + b'\x00' * 6 + b'\xde\xad\xbe\xef',
                      [('compress_type', 'gzip')])


# ---------------------------------------------------------------- what a client should see

def expected_of(user, room_id, scenario, msgs):
    """The /_fake/expected answer for a room whose stream is msgs."""
    status, reason = OUTCOME.get(scenario, ('live', None))
    counts = {k: sum(1 for m in msgs if m.kind == k)
              for k in ('event', 'ignored', 'unknown', 'malformed', 'control')}
    end = None
    if scenario in ('ender', 'suspend'):
        end = {'action': 3 if scenario == 'ender' else 4, 'after': len(msgs) - 1}
    return {'user': user, 'room_id': room_id, 'scenario': scenario,
            'status': status, 'reason': reason, 'end': end, 'messages': len(msgs),
            'counts': counts, 'events': [m.event for m in msgs if m.event]}
