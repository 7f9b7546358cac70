"""The push WebSocket side of the fake TikTok LIVE upstream (tiktok_live.py): the handshake
checks and rejections, the sender (message frames, corrupt frames, drops) and the reader
(enter-room, heartbeats, acks). A mixin of FakeTikTokLive: it uses self.lock, self.cfg,
self.room(), self.stream() and self._closed (set by start()).
"""
import asyncio
import os
import re
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:                     # siblings import from any cwd
    sys.path.insert(0, HERE)

from tiktok_live_http import _hdrs  # noqa: E402 - after the sys.path line
from webcast_proto import (COOKIE, CORRUPT_FRAME, WS_QUERY, _num, _val,  # noqa: E402
                           bad_gzip_frame, msg_frame, pb, pb_dict, pb_fields, push_frame, pv)


class PushSocket:
    """_ws_open answers the handshake (websockets' process_request); _ws_handler serves it."""

    def _ws_open(self, path, headers):
        """(room, connection record, fetch n) or (None, rejection, None)."""
        u = urllib.parse.urlsplit(path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        rid = q.get('room_id', '')
        with self.lock:
            if u.path.rstrip('/') != '/webcast/im/push/v2' or not re.fullmatch(r'\d{1,20}', rid):
                self.unmatched.append({'time': time.time(), 'path': path})
                return None, (400, [], b'bad request\n'), None
            r = self.room(room_id=rid)
            fetch = next((f for f in reversed(r.lists['fetches'])
                          if f['cursor'] == q.get('cursor')), None)
            c = r.add('connections', {
                'n': len(r.lists['connections']) + 1, 'time': time.time(), 'path': path,
                'query': q, 'headers': _hdrs(headers), 'fetch': fetch and fetch['n'],
                'fresh': bool(fetch) and fetch['n'] == len(r.ext) and not any(
                    x['fetch'] == fetch['n'] for x in r.lists['connections']),
                'start': fetch['start'] if fetch else max(0, r.delivered - self.cfg['resend']),
                'rejected': None, 'problems': [], 'frames_sent': 0, 'messages_sent': 0,
                'closed': None})
            p = c['problems']
            p += ['query %s=%r' % (k, q.get(k)) for k, v in WS_QUERY.items() if q.get(k) != v]
            if not fetch:
                p.append('cursor %r is from no sign fetch of this room' % q.get('cursor'))
            elif not c['fresh']:
                p.append('cursor of fetch %d redialled (not the latest fetch)' % fetch['n'])
            if fetch and q.get('internal_ext') != fetch['internal_ext']:
                p.append('internal_ext route param differs from the fetch')
            cookie = headers.get('cookie') or ''
            jar = [x.strip() for x in cookie.split(';')]
            p += ['cookie lacks ' + x for x in COOKIE.split('; ') if x not in jar]
            ua = headers.get('user-agent')
            if not ua or (fetch and ua != fetch['user_agent']):
                p.append('user-agent %r differs from the sign call' % ua)
            if headers.get('origin') != 'https://www.tiktok.com':
                p.append('origin %r' % headers.get('origin'))
            r.lists['problems'] += ['conn %d: %s' % (c['n'], x) for x in p]
            block = {'blockws': ('415', 'DEVICE_BLOCKED'),
                     'blockkey': ('417', 'illegal secret key')}.get(r.scenario)
            if r.scenario == 'wsdown':
                c['rejected'] = {'status': 503, 'msg': 'Service Unavailable'}
                return r, (503, [], b'Service Unavailable\n'), None
            if block or (self.cfg['strict'] and p):
                c['rejected'] = {'status': block[0], 'msg': block[1]} if block else {
                    'status': 400, 'msg': '; '.join(p)}
                if block:
                    return r, (200, [('handshake-status', block[0]), ('handshake-msg', block[1]),
                                     ('Content-Type', 'text/plain')], b''), None
                return r, (400, [], ('; '.join(p) + '\n').encode()), None
            return r, c, fetch

    async def _ws_handler(self, ws):
        r, c = getattr(ws, 'fake_state', (None, None))
        if r is None:
            return
        with self.lock:
            ext = r.ext.get(c['fetch'], b'')
        entered = asyncio.Event()
        sent = {}                                     # log_id -> frame record
        reader = asyncio.ensure_future(self._ws_reader(ws, r, c, ext, entered, sent))
        how = 'client'
        try:
            how = await self._ws_sender(ws, r, c, ext, entered, sent, reader)
            await reader
        except Exception as e:                        # noqa: BLE001 - any way it ends
            if not isinstance(e, self._closed):
                import traceback
                traceback.print_exc()
        finally:
            reader.cancel()
            if reader.done() and not reader.cancelled():
                reader.exception()                    # retrieved: no "never retrieved" noise
            with self.lock:
                c['closed'] = {'time': time.time(), 'by': how, 'code': ws.close_code}

    async def _ws_sender(self, ws, r, c, ext, entered, sent, reader):
        cfg = self.cfg
        waiter = asyncio.ensure_future(entered.wait())
        done, _ = await asyncio.wait({waiter, reader}, timeout=cfg['enter_timeout_ms'] / 1000,
                                     return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if reader in done:
            return 'client'
        if not entered.is_set():
            with self.lock:
                c['problems'].append('no im_enter_room within %d ms' % cfg['enter_timeout_ms'])
                r.add('problems', 'conn %d: no im_enter_room' % c['n'])
        with self.lock:
            msgs = self.stream(r)
        pos, j, on_conn = c['start'], 0, 0
        cut = r.scenario == 'dropper' and r.drops < cfg['drops']
        while pos < len(msgs):
            n = max(1, cfg['msgs_per_frame'])
            if cut:
                n = max(1, min(n, cfg['drop_after'] - on_conn))
            with self.lock:
                r.frame_count += 1
                log_id = 7200000000000000000 + int(r.room_id) % 10 ** 9 * 10 ** 9 + r.frame_count
            frame, mode, batch = msg_frame(msgs[pos:pos + n], j, log_id,
                                           int(time.time() * 1000), ext)
            await ws.send(frame)
            with self.lock:
                pos += len(batch)
                on_conn += len(batch)
                r.delivered = max(r.delivered, pos)
                c['frames_sent'] += 1
                c['messages_sent'] += len(batch)
                sent[log_id] = r.add('frames', {
                    'conn': c['n'], 'time': time.time(), 'seq_id': j + 1, 'log_id': str(log_id),
                    'gzip': mode, 'first': batch[0].index, 'count': len(batch), 'acked': False})
            j += 1
            if j == 3:
                await ws.send(CORRUPT_FRAME)
            elif j == 6:
                await ws.send(bad_gzip_frame(log_id + 500000000))
            if cut and on_conn >= cfg['drop_after']:
                await asyncio.sleep(0.3)
                with self.lock:
                    r.drops += 1
                ws.transport.abort()
                return 'dropped'
            await asyncio.sleep(cfg['frame_interval_ms'] / 1000)
        return 'client'

    async def _ws_reader(self, ws, r, c, ext, entered, sent):
        first = True
        async for data in ws:
            now = time.time()
            try:
                if isinstance(data, str):
                    raise ValueError('a text message')
                f = pb_dict(data)
                kind = f.get(7, b'').decode('utf-8', 'replace')
                body = f.get(8, b'')
                wires = {num: (w, v) for num, w, v in pb_fields(body)} if kind in (
                    'im_enter_room', 'hb') else {}
                d = {num: v for num, (_, v) in wires.items()}
            except ValueError as e:
                with self.lock:
                    r.add('problems', 'conn %d: undecodable client frame: %s' % (c['n'], e))
                continue
            with self.lock:
                for num, (w, _) in wires.items():
                    if num in ((1, 4, 8) if kind == 'im_enter_room' else (1, 2)) and w != 0:
                        r.add('problems', 'conn %d: %s field %d has wire type %d, not a varint'
                              % (c['n'], kind, num, w))
                if kind == 'im_enter_room':
                    rec = r.add('enter_room', {
                        'conn': c['n'], 'time': now, 'first': first, 'room_id': _num(d.get(1)),
                        'live_id': _val(d.get(4)), 'identity': _num(d.get(5)),
                        'enter_unique_id': _num(d.get(8))})
                    for k, want in (('room_id', r.room_id), ('live_id', 12),
                                    ('identity', 'audience'), ('first', True)):
                        if rec[k] != want:
                            r.add('problems', 'conn %d: enter_room %s=%r' % (c['n'], k, rec[k]))
                elif kind == 'hb':
                    rec = r.add('heartbeats', {'conn': c['n'], 'time': now,
                                               'room_id': _num(d.get(1)), 'seq': _val(d.get(2))})
                    if rec['room_id'] != r.room_id:
                        r.add('problems', 'conn %d: heartbeat room_id %r'
                              % (c['n'], rec['room_id']))
                elif kind == 'ack':
                    log_id = f.get(2, 0)
                    rec = r.add('acks', {'conn': c['n'], 'time': now, 'log_id': str(log_id),
                                         'known': log_id in sent, 'ext_ok': body == ext})
                    if log_id in sent:
                        sent[log_id]['acked'] = True
                    if not rec['known'] or not rec['ext_ok']:
                        r.add('problems', 'conn %d: ack %s known=%s ext_ok=%s'
                              % (c['n'], log_id, rec['known'], rec['ext_ok']))
                else:
                    r.add('problems', 'conn %d: client frame payload_type %r' % (c['n'], kind))
            if kind == 'im_enter_room' and not entered.is_set():
                entered.set()
                await ws.send(push_frame(1, 0, 'im_enter_room_resp', pv(1, 0) + pb(2, 'ok')))
            first = False
