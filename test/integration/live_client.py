"""Client side of the live-session tests: a synchronous WebSocket client (Debian's
python3-websockets 10.4 asyncio client driven from a background event loop), raw upgrade
requests, the signed identity httpd hands the sidecar, replay recordings, event checks and a
recording stand-in for the sidecar (to prove what never reaches it).

Nothing here starts servers; profile_env.py does (SidecarServer, LivePair).
"""
import asyncio
import base64
import calendar
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import threading
import time

import websockets
import websockets.exceptions

ISO_MS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
SESSION_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')
USER_FIELDS = {'id', 'username', 'nickname', 'avatar_url'}
EVENT_FIELDS = {'session_id', 'offset', 'type', 'id', 'time', 'user'}
TYPE_FIELDS = {
    'comment': {'text'},
    'like': {'count', 'total'},
    'gift': {'gift_id', 'gift_name', 'count', 'diamonds'},
    'join': set(), 'follow': set(), 'share': set(),
    'viewers': {'viewers'},
    'status': {'status', 'reason'},
}
# Close codes (docs/live-sessions.md).
CLOSE_ENDED, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_HISTORY, CLOSE_TOO_SLOW = 1000, 1001, 1008, 1011, 4008


def iso_ms_epoch(text):
    """Seconds since the epoch of 2026-11-24T10:00:00.123Z."""
    assert isinstance(text, str) and ISO_MS.match(text), 'not an ISO UTC time with ms: %r' % (text,)
    return calendar.timegm(time.strptime(text[:19], '%Y-%m-%dT%H:%M:%S')) + int(text[20:23]) / 1000.0


# ---------------------------------------------------------------- the event loop thread

_loop = None
_loop_lock = threading.Lock()


def _the_loop():
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            t = threading.Thread(target=_loop.run_forever, name='ws-client-loop', daemon=True)
            t.start()
        return _loop


def _run(coro, timeout):
    fut = asyncio.run_coroutine_threadsafe(coro, _the_loop())
    try:
        return fut.result(timeout)
    except BaseException:
        fut.cancel()
        raise


class WsRefused(Exception):
    """The server answered the upgrade with something else than 101."""

    def __init__(self, status, headers):
        super().__init__('upgrade refused with HTTP %d' % status)
        self.status = status
        self.headers = headers


class WsClosed(Exception):
    """The connection is closed; code/reason as the client saw them (1006: no close frame)."""

    def __init__(self, code, reason):
        super().__init__('closed with %s %r' % (code, reason))
        self.code = code
        self.reason = reason


class WsClient:
    """One WebSocket connection, used synchronously. Every text frame received is parsed and
    kept in .frames (in order). max_queue=None (the default) reads from the network as fast as
    frames arrive, whatever the test thread does, so a client is never slow by accident; a
    slow reader passes max_queue=1 and a small-buffer socket (slow_socket)."""

    def __init__(self, url, headers=None, sock=None, max_queue=None, read_limit=2 ** 16,
                 timeout=10):
        self.url = url
        self.frames = []
        self.close_code = None
        self.close_reason = None
        self._ws = _run(self._connect(url, headers, sock, max_queue, read_limit, timeout), timeout + 5)

    @staticmethod
    async def _connect(url, headers, sock, max_queue, read_limit, timeout):
        kw = dict(extra_headers=headers or {}, max_queue=max_queue, read_limit=read_limit,
                  open_timeout=timeout, ping_interval=None, close_timeout=3, compression=None,
                  max_size=2 ** 20)
        if sock is not None:
            kw['sock'] = sock
        try:
            return await websockets.connect(url, **kw)
        except websockets.exceptions.InvalidStatusCode as e:
            raise WsRefused(e.status_code, e.headers) from None

    def _closed(self):
        self.close_code = self._ws.close_code
        self.close_reason = self._ws.close_reason
        return WsClosed(self.close_code, self.close_reason)

    def recv(self, timeout=10):
        """The next frame (parsed JSON); WsClosed once the connection is closed and every frame
        before the close was read; TimeoutError when nothing came in time."""
        try:
            msg = _run(asyncio.wait_for(self._ws.recv(), timeout), timeout + 5)
        except websockets.exceptions.ConnectionClosed:
            raise self._closed() from None
        except asyncio.TimeoutError:
            raise TimeoutError('no frame within %.1f s on %s (last offset %s)'
                               % (timeout, self.url, self.last_offset())) from None
        assert isinstance(msg, str), 'a binary frame: %r' % (msg[:100],)
        frame = json.loads(msg)
        self.frames.append(frame)
        return frame

    def read(self, n, timeout=10):
        """The next n frames."""
        return [self.recv(timeout) for _ in range(n)]

    def read_until(self, predicate, timeout=15):
        """Frames up to and including the first one predicate(frame) accepts."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no matching frame within %.1f s on %s (last %s)'
                                   % (timeout, self.url, got[-1:] or None))
            f = self.recv(left)
            got.append(f)
            if predicate(f):
                return got

    def read_to_offset(self, offset, timeout=15):
        return self.read_until(lambda f: f.get('offset') is not None and f['offset'] >= offset, timeout)

    def read_to_close(self, timeout=30):
        """Every frame until the server closes; returns them (the close code is in
        .close_code). TimeoutError when the connection stays open."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('%s still open after %.1f s (last %s)' % (self.url, timeout, got[-1:] or None))
            try:
                got.append(self.recv(left))
            except WsClosed:
                return got

    def close(self, code=1000, timeout=10):
        """Closes from our side (waiting for the server's close frame)."""
        try:
            _run(self._ws.close(code), timeout)
        except (websockets.exceptions.ConnectionClosed, OSError):
            pass
        self.close_code = self._ws.close_code
        self.close_reason = self._ws.close_reason

    def abort(self):
        """Drops the TCP connection without a close frame (a client whose network went away)."""
        async def _abort(ws):
            ws.transport.abort()
        try:
            _run(_abort(self._ws), 5)
        except Exception:
            pass

    @property
    def open(self):
        return self._ws.open

    def offsets(self):
        return [f['offset'] for f in self.frames if f.get('offset') is not None]

    def last_offset(self):
        o = self.offsets()
        return o[-1] if o else None


def slow_socket(port, rcvbuf=4096):
    """A connected loopback socket with a tiny receive buffer, for a client that stops reading
    (pass as WsClient(sock=…, max_queue=1, read_limit=4096))."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(('127.0.0.1', port))
    return s


def key_headers(key):
    return {'X-API-Key': key} if key else {}


# ---------------------------------------------------------------- raw upgrades

def upgrade_request(port, path, headers=None, method='GET', upgrade=True, timeout=10):
    """One request on a connection of its own, by default a WebSocket upgrade. Returns
    (status, headers with lower-case names, body bytes); after a 101 the body is b'' and the
    connection is dropped."""
    h = {'Host': '127.0.0.1:%d' % port}
    if upgrade:
        h.update({'Upgrade': 'websocket', 'Connection': 'Upgrade',
                  'Sec-WebSocket-Key': base64.b64encode(secrets.token_bytes(16)).decode(),
                  'Sec-WebSocket-Version': '13'})
    else:
        h['Connection'] = 'close'
    h.update(headers or {})
    req = '%s %s HTTP/1.1\r\n%s\r\n' % (method, path, ''.join('%s: %s\r\n' % kv for kv in h.items()))
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(req.encode())
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split(' ', 2)[1])
        out = {}
        for line in lines[1:]:
            k, _, v = line.partition(':')
            k = k.strip().lower()
            out[k] = out[k] + ', ' + v.strip() if k in out else v.strip()
        if status == 101:
            return status, out, b''
        length = out.get('content-length')
        if length is not None:
            while len(body) < int(length):
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        elif out.get('transfer-encoding', '').lower() != 'chunked':
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        return status, out, body


# ---------------------------------------------------------------- the signed identity

def sign_identity(secret, t, principal, scopes, session_id):
    """hex HMAC-SHA256(secret, "v1\\n" time "\\n" principal "\\n" scopes "\\n" session_id)."""
    if isinstance(secret, str):
        secret = secret.encode()
    msg = 'v1\n%d\n%s\n%s\n%s' % (t, principal, scopes, session_id)
    return hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()


def identity_headers(secret, session_id, principal='key:test', scopes='comments:read', t=None,
                     signature=None):
    """The four X-Profile-* headers of an upgrade, signed with secret (unless signature is
    given)."""
    t = int(time.time()) if t is None else t
    sig = signature if signature is not None else sign_identity(secret, t, principal, scopes, session_id)
    return {'X-Profile-Principal': principal, 'X-Profile-Scopes': scopes,
            'X-Profile-Time': str(t), 'X-Profile-Signature': sig}


# ---------------------------------------------------------------- replay recordings

REC_EPOCH = calendar.timegm((2026, 11, 24, 10, 0, 0))


def _iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(t))) + '.%03dZ' % int(round((t % 1) * 1000) % 1000)


def recording_lines(name, n, interval_ms=10, text_len=None, only_comments=False):
    """n deterministic events of a recording called name (the streamed schema without
    session_id and offset), interval_ms apart: every type but status, unicode nicknames.
    text_len pads comment texts to that many characters."""
    out = []
    for i in range(n):
        k = i % 10
        kind = 'comment' if only_comments or k < 5 else \
            ('like', 'gift', 'join', 'viewers', 'follow' if (i // 10) % 2 else 'share')[k - 5]
        ev = {'type': kind, 'id': '%s-%05d' % (name, i), 'time': _iso(REC_EPOCH + i * interval_ms / 1000.0)}
        if kind == 'viewers':
            ev['user'] = None
            ev['viewers'] = 1000 + i
        else:
            u = i % 13
            ev['user'] = {'id': '68%08d' % u, 'username': 'viewer_%d' % u,
                          'nickname': 'Viewer %d \u2728' % u,
                          'avatar_url': 'https://p16-sign.example.com/avatar/%d.jpeg' % u}
        if kind == 'comment':
            text = 'message %d of %s' % (i, name)
            if text_len:
                text = (text + ' ' + 'x' * text_len)[:text_len]
            ev['text'] = text
        elif kind == 'like':
            ev['count'] = 1 + i % 5
            ev['total'] = 100 + i
        elif kind == 'gift':
            ev['gift_id'] = 5655
            ev['gift_name'] = 'Rose'
            ev['count'] = 1 + i % 3
            ev['diamonds'] = 1 + i % 3
        out.append(ev)
    return out


def write_recording(directory, name, lines):
    path = os.path.join(directory, name + '.ndjson')
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        for ev in lines:
            f.write(json.dumps(ev, ensure_ascii=False, separators=(',', ':')) + '\n')
    os.replace(path + '.tmp', path)
    return path


def read_recording(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


# The recordings every test session writes into its replay_dir (name: (n, interval_ms, kw)).
RECORDINGS = {
    'mix300': (300, 5, {}),                     # 1.5 s at ×1
    'paced600': (600, 10, {}),                  # 6 s at ×1
    'tick': (200, 10, {}),                      # 2 s at ×1, for looping sessions
    'big': (500, 1, {'text_len': 2000, 'only_comments': True}),   # 1000 events/s of ~2.3 KB
}


def recording(name):
    """The lines of one of RECORDINGS."""
    n, interval, kw = RECORDINGS[name]
    return recording_lines(name, n, interval, **kw)


def looped_ids(lines, count):
    """The first count upstream ids a looping replay of lines emits: the ids, then id-1, id-2 …"""
    out = []
    loop = 0
    while len(out) < count:
        for ev in lines:
            out.append(ev['id'] if loop == 0 else '%s-%d' % (ev['id'], loop))
            if len(out) == count:
                break
        loop += 1
    return out


# ---------------------------------------------------------------- event checks

def check_event(ev, session_id):
    """ev has the documented frame for its type; returns ev."""
    assert isinstance(ev, dict), ev
    missing = EVENT_FIELDS - set(ev)
    assert not missing, 'event lacks %s: %r' % (sorted(missing), ev)
    assert ev['session_id'] == session_id, ev
    assert ev['type'] in TYPE_FIELDS, ev
    assert set(ev) == EVENT_FIELDS | TYPE_FIELDS[ev['type']], \
        'fields of a %s event: %s' % (ev['type'], sorted(ev))
    iso_ms_epoch(ev['time'])
    if ev['type'] == 'status' and ev['status'] == 'waiting':
        assert ev['offset'] is None, ev
    else:
        assert isinstance(ev['offset'], int) and ev['offset'] > 0, ev
    if ev['type'] in ('status', 'viewers'):
        assert ev['user'] is None, ev
    else:
        assert isinstance(ev['user'], dict) and set(ev['user']) == USER_FIELDS, ev
    if ev['type'] == 'status':
        assert ev['id'] is None, ev
    return ev


def check_contiguous(offsets, first=1):
    """offsets are first, first+1, … with no gap and no duplicate."""
    assert offsets, 'no events'
    want = list(range(first, first + len(offsets)))
    if offsets != want:
        for i, (a, b) in enumerate(zip(offsets, want)):
            if a != b:
                raise AssertionError('offsets not contiguous at position %d: %r (expected %d)'
                                     % (i, offsets[max(0, i - 3):i + 4], b))
        raise AssertionError('offsets %r… not contiguous' % offsets[:10])


def events_only(frames):
    """Frames without status events (the captured events themselves)."""
    return [f for f in frames if f.get('type') != 'status']


def statuses(frames):
    return [(f['status'], f['reason']) for f in frames if f.get('type') == 'status']


def same_content(frame, line):
    """A streamed event carries everything its recording line said (its time is the replay's)."""
    for k, v in line.items():
        if k == 'time':
            continue
        assert frame.get(k) == v, '%s: streamed %r, recorded %r (event %s)' % (k, frame.get(k), v, line['id'])
    assert frame['type'] == line['type'], (frame, line)


def is_final(frame):
    return frame.get('type') == 'status' and frame.get('status') in ('ended', 'failed')


# ---------------------------------------------------------------- a sidecar stand-in

def _ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()


def _ws_frame(text):
    data = text.encode()
    n = len(data)
    if n < 126:
        head = bytes([0x81, n])
    elif n < 65536:
        head = bytes([0x81, 126]) + n.to_bytes(2, 'big')
    else:
        head = bytes([0x81, 127]) + n.to_bytes(8, 'big')
    return head + data


class RecordingBackend:
    """A loopback listener standing in for the sidecar behind httpd: it records the request
    head of every connection (method, path, headers with lower-case names, in .requests),
    accepts WebSocket upgrades (101, then one `waiting` status frame) and holds them open
    until the client goes; GET /health answers 200. .open counts upgraded connections still
    open."""

    def __init__(self):
        self.requests = []
        self.open = 0
        self._lock = threading.Lock()
        self._conns = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        upgraded = False
        try:
            c.settimeout(30)
            data = b''
            while b'\r\n\r\n' not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head = data.split(b'\r\n\r\n', 1)[0].decode('latin-1').split('\r\n')
            method, target = head[0].split(' ')[:2]
            headers = []
            for line in head[1:]:
                k, _, v = line.partition(':')
                headers.append((k.strip().lower(), v.strip()))
            req = {'method': method, 'path': target, 'headers': headers, 'time': time.time()}
            with self._lock:
                self.requests.append(req)
            hd = dict(headers)
            if 'websocket' in hd.get('upgrade', '').lower():
                c.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n'
                           % _ws_accept(hd.get('sec-websocket-key', ''))).encode())
                upgraded = True
                with self._lock:
                    self.open += 1
                sid = target.split('?')[0].rsplit('/', 1)[-1]
                c.sendall(_ws_frame(json.dumps({
                    'type': 'status', 'session_id': sid, 'offset': None, 'id': None,
                    'time': _iso(time.time()), 'user': None, 'status': 'waiting', 'reason': None})))
                c.settimeout(None)
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    if chunk[0] & 0x0f == 0x8:         # a close frame: answer it and go
                        c.sendall(bytes([0x88, 2]) + (1000).to_bytes(2, 'big'))
                        break
            else:
                body = b'{"status":"ok"}' if target == '/health' else b'{"error":"not_found"}'
                c.sendall(b'HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n'
                          b'Connection: close\r\n\r\n%s' % (200 if target == '/health' else 404, len(body), body))
        except OSError:
            pass
        finally:
            if upgraded:
                with self._lock:
                    self.open -= 1
            try:
                c.close()
            except OSError:
                pass

    def ws_requests(self):
        """The recorded requests other than health checks."""
        with self._lock:
            return [r for r in self.requests if r['path'] != '/health']

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
