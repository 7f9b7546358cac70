#!/usr/bin/python3
"""A fake TikTok LIVE upstream for the sidecar's tiktok source: live page + room API (www),
sign server (/webcast/fetch) and the webcast push WebSocket. Written from the protocol facts
(../shared/reference/tiktok-live-protocol.md) only; protobuf is encoded by hand below.

  tiktok_live.py --port P --ws-port Q [--host 127.0.0.1] [--sign-key KEY] [options]
      prints "fake TikTok LIVE listening on http://HOST:P ws://HOST:Q" (0 = any free port),
      exits 0 on SIGTERM/SIGINT (1: cannot listen). HTTP (www, sign, /_fake) on P, the push
      WebSocket on Q. Options (= /_fake/config keys): --heartbeat-ms 1000, --frame-interval 50
      (ms), --msgs-per-frame 3, --messages 48, --history 3, --golive-polls 1,
      --sign-limit-calls 1, --retry-after 2, --drop-after 12, --drops 1, --resend 4,
      --end-after 20, --enter-timeout-ms 5000, --strict (reject a WS with problems: HTTP 400).
  tiktok_live.py --write-corpus DIR      seed corpus (frames, fetch results) for the fuzzer
  tiktok_live.py --record FILE [--frames 1000]   push frames, each as 4-byte BE length + frame
In process: FakeTikTokLive(port=0, ws_port=0, **config).start() … .stop() (.url, .ws_url,
.expected(user), .log(user=None), .reset(), .configure(dict)).
Files: this one (state, sign, lifecycle, CLI), webcast_proto.py (protobuf, frames, the stream),
tiktok_live_http.py (pages, HTTP handler), tiktok_live_ws.py (the push WebSocket).

Scenario = the username's part before the first '_', lower case (else "normal"):
  normal    live (status 2); the stream below, then idle (the connection stays open)
  offline   page status 4 (with a roomId)     golive  status 4 for the first golive_polls
  missing   no SIGI_STATE; API statusCode 19881007          lookups (page or API), then 2
  adult     no SIGI_STATE; API statusCode 4003110
  captcha   page 200 captcha HTML; API 403 captcha HTML     waf  both 403 captcha HTML
  garbage   SIGI_STATE with broken JSON; API 200 truncated JSON
  changed   SIGI_STATE without LiveRoom; API {"statusCode":0,"data":{}}
  nosigi    no SIGI_STATE (not a captcha page); the API answers live
  signlimit 429 {"message":"rate limited","limit_label":"x"} + Retry-After: retry_after for
            the room's first sign_limit_calls sign calls, then as normal
  signunauth 401, signpaid 402, signforbidden 403, signerror 502 HTML, signempty 200 empty
  blockws   WS handshake: HTTP 200 + handshake-status: 415, handshake-msg: DEVICE_BLOCKED
  blockkey  the same with 417 / "illegal secret key";   wsdown  handshake answered 503
  dropper   a connection is cut (no close frame) once it sent drop_after messages, at most
            drops times per room
  ender / suspend  WebcastControlMessage action 3 / 4 after end_after messages
  corrupt   every message (at least 100) a corrupt WebcastChatMessage
Room ids encode the scenario ("73" + 2-digit index in SCENARIOS + 15 digits), so the sign and
WS sides need no lookup first. X-Api-Key must equal --sign-key when one is set (else 401).

The stream of a room (deterministic; /_fake/expected lists its events): message i follows
PATTERN[i % 16]: chat, member join, like, gift streak 1/3 2/3 3/3 (repeat_end 0,0,1: one
event), follow, viewers, chat, WebcastMysteryMessage (unknown), share, a corrupt (truncated)
WebcastChatMessage, member action 2 (no event), single gift, like, chat. A sign answer's fetch
result holds `history` messages from the resume point (is_history) and the connection sends
them again, so a de-duplicating client gets the same events either way. A connection resumes
at max(0, furthest message sent in the room - resend) (0 for the first). WS frames: msg frame
j of a connection is gzip with header compress_type=gzip (j % 4 == 0), gzip without the
header (j % 4 == 2) or plain (odd j); after the 3rd msg frame comes a non-protobuf binary
message, after the 6th a "msg" frame with a corrupt gzip payload; an im_enter_room_resp frame
answers the enter-room frame. Every fetch result has need_ack and the internal_ext of the
connection's sign fetch. Gift "diamonds" = diamond_count * repeat_count.

Control endpoints (JSON; times are epoch seconds, header names lower case):
  GET /_fake/expected?user=U → {"user","room_id","scenario","status":"live"|"ended"|"failed",
      "reason":null|"<error_reason>","end":null|{"action":3|4,"after":n},"messages":n,
      "counts":{"event","ignored","unknown","malformed","control"},"events":[the streamed
      schema without session_id/offset: {"type","id","time","user":{"id","username",
      "nickname","avatar_url"}|null, + type fields}]}
  GET /_fake/log → {"rooms": {U (or "room:<id>" if never looked up): ROOM}, "unmatched":
      [{"time","path",…}]};  GET /_fake/log?user=U → ROOM
      ROOM = {"user","room_id","scenario","polls","delivered","drops",
       "lookups":[{"time","kind":"page"|"api","status","live","headers"}],
       "sign_calls":[{"time","status","query","headers","api_key_ok","fetch":n|null}],
       "fetches":[{"n","time","cursor","internal_ext","user_agent","start"}],
       "connections":[{"n","time","path","query","headers","fetch","fresh","start",
         "rejected":null|{"status","msg"},"problems":[str],"frames_sent","messages_sent",
         "closed":null|{"time","by":"client"|"dropped","code"}}],
       "enter_room":[{"conn","time","first","room_id","live_id","identity",
         "enter_unique_id"}], "heartbeats":[{"conn","time","room_id","seq"}],
       "acks":[{"conn","time","log_id","known","ext_ok"}],
       "frames":[{"conn","time","seq_id","log_id","gzip":"header"|"magic"|null,"first",
         "count","acked"}], "problems":[str]}
      (room_id, enter_unique_id, log_id: decimal strings; live_id, seq: numbers)
  GET /_fake/config → the config; POST /_fake/config {key: value…} → the config (400 on an
      unknown key or bad value); POST /_fake/reset → {"ok":true}: forgets logs and counters,
      restores the start-up config.
Python 3.11 standard library + python3-websockets 10.4 (only to serve).
"""
import argparse
import asyncio
import http.server
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:                     # siblings import from any cwd
    sys.path.insert(0, HERE)

from tiktok_live_http import LIST_CAP, _hdrs, _Handler, _HTTPServer  # noqa: E402 - sys.path
from tiktok_live_ws import PushSocket  # noqa: E402
from webcast_proto import (BASE_MS, COOKIE, CORRUPT_FRAME, _h, ack_frame,  # noqa: E402
                           bad_gzip_frame, build_stream, enter_room_frame, expected_of,
                           fetch_result, heartbeat_frame, push_frame, pv, room_id_of,
                           scenario_of, scenario_of_room, stream_frames)

DEFAULTS = {'heartbeat_ms': 1000, 'frame_interval_ms': 50, 'msgs_per_frame': 3, 'messages': 48,
            'history': 3, 'golive_polls': 1, 'sign_limit_calls': 1, 'retry_after': 2,
            'drop_after': 12, 'drops': 1, 'resend': 4, 'end_after': 20,
            'enter_timeout_ms': 5000, 'strict': False, 'sign_key': ''}


# ---------------------------------------------------------------- shared state

class _Room:
    def __init__(self, user, room_id):
        self.user, self.room_id, self.scenario = user, room_id, scenario_of_room(room_id)
        self.polls = self.sign_count = self.delivered = self.drops = self.frame_count = 0
        self.lists = {k: [] for k in ('lookups', 'sign_calls', 'fetches', 'connections',
                                      'enter_room', 'heartbeats', 'acks', 'frames', 'problems')}
        self.ext = {}                            # fetch n -> internal_ext bytes

    def add(self, name, item):
        lst = self.lists[name]
        if len(lst) < LIST_CAP:
            lst.append(item)
        return item

    def json(self):
        d = {'user': self.user, 'room_id': self.room_id, 'scenario': self.scenario,
             'polls': self.polls, 'delivered': self.delivered, 'drops': self.drops}
        d.update(self.lists)
        return d


def _netloc(host, port):
    return '%s:%d' % ('[%s]' % host if ':' in host else host, port)



class FakeTikTokLive(PushSocket):
    """The fake in threads of the calling process (HTTP threads + an asyncio loop for WS)."""

    def __init__(self, host='127.0.0.1', port=0, ws_port=0, **config):
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError('unknown config %s' % sorted(unknown))
        self.host, self.requested_port, self.requested_ws_port = host, port, ws_port
        self.defaults = dict(DEFAULTS, **config)
        self.cfg = dict(self.defaults)
        self.lock = threading.Lock()
        self.rooms, self.users, self.unmatched, self.streams = {}, {}, [], {}
        self._httpd = self._loop = self._ws_server = None
        self._threads = []

    # ------------------------------------------------------------ lifecycle

    def start(self):
        import websockets          # only needed to serve (the corpus options run without it)
        import websockets.exceptions
        logging.getLogger('websockets').setLevel(logging.CRITICAL)
        self._closed = websockets.exceptions.ConnectionClosed
        fake = self

        class Protocol(websockets.WebSocketServerProtocol):
            async def process_request(self, path, headers):
                r, c, _ = fake._ws_open(path, headers)
                if isinstance(c, tuple):
                    return (http.HTTPStatus(c[0]),) + c[1:]
                self.fake_state = (r, c)
                return None
        self._httpd = _HTTPServer((self.host, self.requested_port), _Handler)
        self._httpd.fake = self
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        err = []

        async def serve():
            try:
                self._ws_server = await websockets.serve(
                    self._ws_handler, self.host, self.requested_ws_port,
                    create_protocol=Protocol, compression=None,
                    ping_interval=None, max_size=1 << 20)
            except Exception as e:      # noqa: BLE001 - reported by start()
                err.append(e)
            ready.set()

        def run_loop():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            if not err:
                self._loop.run_forever()
        for target in (self._httpd.serve_forever, run_loop):
            t = threading.Thread(target=target, daemon=True, name='fake-tiktok-live')
            t.start()
            self._threads.append(t)
        ready.wait(10)
        if err:
            self.stop()
            raise err[0]
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._loop:
            async def close():
                if self._ws_server:
                    self._ws_server.close()
                    await asyncio.wait_for(self._ws_server.wait_closed(), 5)
            try:
                asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            except Exception:           # noqa: BLE001 - best effort at shutdown
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
        for t in self._threads:
            t.join(10)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def ws_port(self):
        return self._ws_server.sockets[0].getsockname()[1]

    @property
    def url(self):
        return 'http://' + _netloc(self.host, self.port)

    @property
    def ws_url(self):
        return 'ws://' + _netloc(self.host, self.ws_port)

    # ------------------------------------------------------------ state (call with the lock)

    def room(self, user=None, room_id=None):
        if user is not None:
            room_id = room_id_of(user)
            self.users[room_id] = user.lower()
        r = self.rooms.get(room_id)
        if r is None:
            r = self.rooms[room_id] = _Room(self.users.get(room_id), room_id)
        elif r.user is None and room_id in self.users:
            r.user = self.users[room_id]
        return r

    def stream(self, room):
        key = (room.room_id, self.cfg['messages'], self.cfg['end_after'])
        if key not in self.streams:
            if len(self.streams) > 256:
                self.streams.clear()
            self.streams[key] = build_stream(room.room_id, room.scenario, self.cfg)
        return self.streams[key]

    def reset(self):
        with self.lock:
            self.rooms.clear()
            self.unmatched.clear()
            self.streams.clear()
            self.cfg = dict(self.defaults)

    def configure(self, changes):
        with self.lock:
            for k, v in changes.items():
                if k not in DEFAULTS:
                    raise ValueError('unknown key %r' % k)
                want = type(DEFAULTS[k])
                if want is int and (isinstance(v, bool) or not isinstance(v, int)
                                    or not 0 <= v <= 10 ** 7):
                    raise ValueError('%s must be an integer 0..10000000' % k)
                if want is not int and not isinstance(v, want):
                    raise ValueError('%s must be a %s' % (k, want.__name__))
            self.cfg.update(changes)
            self.streams.clear()
            return dict(self.cfg)

    def expected(self, user):
        with self.lock:
            r = self.room(user)
            return expected_of(r.user, r.room_id, r.scenario, self.stream(r))

    def log(self, user=None):
        with self.lock:
            if user is not None:
                out = self.room(user).json()
            else:
                out = {'rooms': {(r.user or 'room:' + r.room_id): r.json()
                                 for r in self.rooms.values()}, 'unmatched': self.unmatched}
            return json.loads(json.dumps(out))        # a deep copy, taken under the lock

    # ------------------------------------------------------------ www and sign

    def lookup(self, kind, user, headers):
        """(live) after counting the poll."""
        with self.lock:
            r = self.room(user)
            r.polls += 1
            live = r.scenario not in ('offline', 'golive') or (
                r.scenario == 'golive' and r.polls > self.cfg['golive_polls'])
            rec = r.add('lookups', {'time': time.time(), 'kind': kind, 'status': None,
                                    'live': live, 'headers': _hdrs(headers)})
            return r.scenario, live, rec

    def sign(self, query, headers):
        """(status, headers, content type, body)."""
        rid = query.get('room_id', '')
        with self.lock:
            if not re.fullmatch(r'\d{1,20}', rid):
                self.unmatched.append({'time': time.time(), 'path': '/webcast/fetch',
                                       'query': query})
                return 400, [], 'application/json', json.dumps({'message': 'room_id required'})
            r = self.room(room_id=rid)
            r.sign_count += 1
            key_ok = not self.cfg['sign_key'] or headers.get('x-api-key') == self.cfg['sign_key']
            rec = r.add('sign_calls', {'time': time.time(), 'status': None, 'query': query,
                                       'headers': _hdrs(headers), 'api_key_ok': key_ok,
                                       'fetch': None})
            for k, want in (('client', None), ('user_agent', None), ('client_enter', 'true')):
                if not query.get(k) or (want and query[k] != want):
                    r.add('problems', 'sign: query %s=%r' % (k, query.get(k)))
            j = 'application/json'
            sc = r.scenario
            if not key_ok or sc == 'signunauth':
                ans = 401, [], j, json.dumps({'code': 401, 'message': 'Invalid API key'})
            elif sc == 'signlimit' and r.sign_count <= self.cfg['sign_limit_calls']:
                ans = (429, [('Retry-After', str(self.cfg['retry_after']))], j,
                       json.dumps({'message': 'rate limited', 'limit_label': 'x'}))
            elif sc == 'signpaid':
                ans = 402, [], j, json.dumps({'code': 402, 'message': 'requires a paid plan'})
            elif sc == 'signforbidden':
                ans = 403, [], j, json.dumps({'code': 403, 'message': 'forbidden'})
            elif sc == 'signerror':
                ans = 502, [], 'text/html', '<html><body>502 Bad Gateway</body></html>'
            elif sc == 'signempty':
                ans = 200, [], 'application/x-protobuf', b''
            else:
                ans = self._fetch(r, query, rec)
            rec['status'] = ans[0]
            return ans

    def _fetch(self, r, query, rec):
        n = len(r.ext) + 1
        now = int(time.time() * 1000)
        start = max(0, r.delivered - self.cfg['resend']) if r.delivered else 0
        ext = ('internal_src:dim|wss_push_room_id:%s|wss_push_did:7%d|first_req_ms:%d|'
               'fetch_time:%d|seq:%d|wss_info:0-%d-0-0|wrds_v:%d'
               % (r.room_id, _h('did', r.room_id) % 10 ** 17, now - 1, now, n, now,
                  7300000000000000000 + n)).encode()
        cursor = 't-%d_r-1_d-1_u-1_fh-%s_n-%d' % (now, r.room_id, n)
        r.ext[n] = ext
        msgs = self.stream(r)[start:start + self.cfg['history']]
        body = fetch_result(msgs, cursor, ext, now, history=True,
                            route={'cursor': cursor, 'internal_ext': ext.decode()},
                            heartbeat_ms=self.cfg['heartbeat_ms'], first=True,
                            push_server=self.ws_url + '/webcast/im/push/v2/')
        r.add('fetches', {'n': n, 'time': time.time(), 'cursor': cursor, 'start': start,
                          'internal_ext': ext.decode(), 'user_agent': query.get('user_agent')})
        rec['fetch'] = n
        return 200, [('X-Set-TT-Cookie', COOKIE)], 'application/x-protobuf', body


# ---------------------------------------------------------------- corpus, record, main

def write_corpus(directory, cfg):
    os.makedirs(directory, exist_ok=True)
    files = {}
    now, ext = BASE_MS, b'internal_src:dim|wss_push_room_id:1|seq:1'
    for user in ('corpus', 'ender_corpus', 'suspend_corpus'):
        rid = room_id_of(user)
        msgs = build_stream(rid, scenario_of(user), cfg)
        cur = 't-%d_r-1' % now
        files['fetch_%s.bin' % scenario_of(user)] = fetch_result(
            msgs[:5], cur, ext, now, history=True, route={'cursor': cur, 'internal_ext': 'x'},
            heartbeat_ms=10000, push_server='wss://webcast.tiktok.com/webcast/im/push/v2/',
            first=True)
        for frame, mode, batch in stream_frames(msgs, rid, cfg, now, ext):
            files['frame_%s_%s_%03d.bin' % (scenario_of(user), mode or 'plain',
                                            batch[0].index)] = frame
        for m in msgs:
            files.setdefault('message_%s_%s.bin' % (m.method, m.kind), m.payload)
        files['enter_room_%s.bin' % scenario_of(user)] = enter_room_frame(rid, 42)
        files['heartbeat_%s.bin' % scenario_of(user)] = heartbeat_frame(rid, 7)
    files['frame_corrupt.bin'] = CORRUPT_FRAME
    files['frame_bad_gzip.bin'] = bad_gzip_frame(1)
    files['frame_enter_room_resp.bin'] = push_frame(1, 0, 'im_enter_room_resp', pv(1, 0))
    files['ack.bin'] = ack_frame(7200000000000000001, ext)
    for name, data in files.items():
        with open(os.path.join(directory, name), 'wb') as f:
            f.write(data)
    return len(files)


def write_record(path, frames, cfg):
    cfg = dict(cfg, messages=frames * max(1, int(cfg['msgs_per_frame'])))
    rid = room_id_of('bench')
    msgs = build_stream(rid, 'normal', cfg)
    n = 0
    with open(path, 'wb') as f:
        for frame, _, _ in stream_frames(msgs, rid, cfg, BASE_MS, b'internal_src:dim|seq:1'):
            f.write(struct.pack('>I', len(frame)) + frame)
            n += 1
    return n


def _loopback(host):
    try:
        infos = socket.getaddrinfo(host, None)
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
    except (socket.gaierror, ValueError):
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description='Fake TikTok LIVE upstream (www, sign, webcast WS).')
    ap.add_argument('--port', type=int, help='HTTP port (www, sign, /_fake); 0 = any')
    ap.add_argument('--ws-port', type=int, help='push WebSocket port; 0 = any')
    ap.add_argument('--host', default='127.0.0.1', help='a loopback address')
    ap.add_argument('--write-corpus', metavar='DIR', help='write a seed corpus and exit')
    ap.add_argument('--record', metavar='FILE', help='write length-prefixed frames and exit')
    ap.add_argument('--frames', type=int, default=1000, help='frames for --record')
    for k, v in DEFAULTS.items():
        flag = '--frame-interval' if k == 'frame_interval_ms' else '--' + k.replace('_', '-')
        if isinstance(v, bool):
            ap.add_argument(flag, dest=k, action='store_true')
        else:
            ap.add_argument(flag, dest=k, type=type(v), default=v)
    args = ap.parse_args(argv)
    cfg = {k: getattr(args, k) for k in DEFAULTS}
    if args.write_corpus:
        print('tiktok_live: wrote %d files into %s' % (write_corpus(args.write_corpus, cfg),
                                                      args.write_corpus))
        return 0
    if args.record:
        n = write_record(args.record, args.frames, cfg)
        print('tiktok_live: wrote %d frames into %s' % (n, args.record))
        return 0
    if args.port is None or args.ws_port is None:
        ap.error('--port and --ws-port are required (or --write-corpus / --record)')
    if not _loopback(args.host):
        ap.error('--host must be a loopback address')
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        fake = FakeTikTokLive(args.host, args.port, args.ws_port, **cfg).start()
    except OSError as e:
        print('tiktok_live: cannot listen: %s' % e, file=sys.stderr)
        return 1
    print('fake TikTok LIVE listening on %s %s' % (fake.url, fake.ws_url), flush=True)
    while not done.wait(1):
        pass
    fake.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
