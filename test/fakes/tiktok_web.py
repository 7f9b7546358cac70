#!/usr/bin/python3
"""A fake TikTok web server: profile pages (GET /@<name>) for the scraper tier.

The scenario is chosen by the name's prefix, so a test picks the upstream's behaviour by
picking a username:

  (any other name)  a realistic profile page with __UNIVERSAL_DATA_FOR_REHYDRATION__
  private_*         the same with "privateAccount": true
  verified_*        the same with "verified": true
  missing_*         webapp.user-detail statusCode 10221 "user not exist" (HTTP 200)
  legacy_*          only the old <script id="SIGI_STATE"> layout
  captcha_*         a verification page without either script (HTTP 200)
  slow_*            a normal page after SLOW seconds (default 3)
  delay_*           a normal page after DELAY seconds (default 0.5)
  huge_*            a normal page padded to 3 MiB (streamed, with Content-Length)
  broken_*          the script tag with truncated JSON
  throttle_*        HTTP 429 with Retry-After: 30
  error_*           HTTP 500

Control endpoints: GET /__fake/fetches ({"<name>": count}: every GET /@name, failed ones
too), POST /__fake/reset (counts and mode), POST /__fake/mode {"force": null|"captcha"|
"throttle"|"error"|"slow", "slow": s, "delay": s} (force: every name answers that scenario).

In process: FakeTikTok().start() ... .stop(). Standalone (the dev stack):
  python3 test/fakes/tiktok_web.py --port 8090 [--host 127.0.0.1]
Standard library only; the numbers in a page are a pure function of the name, so tests can
compute what the module must answer with expected_profile(name).
"""
import argparse
import base64
import hashlib
import http.server
import ipaddress
import json
import signal
import socket
import sys
import threading
import time
import urllib.parse

DEFAULT_SLOW = 3.0
DEFAULT_DELAY = 0.5
HUGE_SIZE = 3 * 1024 * 1024
FORCE_MODES = (None, 'captcha', 'throttle', 'error', 'slow')
CDN = 'https://p16-sign.tiktokcdn-us.com'
_CONTROL_BODY_MAX = 64 * 1024
_CHUNK = 64 * 1024
_KEEP = object()


# ---------------------------------------------------------------- page content

def _digest(name):
    return hashlib.sha256(name.encode('utf-8')).digest()


def _number(name, index, modulo):
    d = _digest(name)
    return int.from_bytes(d[4 * index:4 * index + 4], 'big') % modulo


def _avatar(name, size):
    # Real avatar URLs carry a signed query string ('&' and percent escapes included).
    sig = base64.b64encode(_digest('sig:' + name)[:12]).decode().rstrip('=')
    return ('%s/avatar/%s~c5_%dx%d.jpeg?lk3s=a5d48078&x-expires=1767225600'
            '&x-signature=%s%%3D' % (CDN, name, size, size, sig))


def expected_profile(name):
    """What the page of name says (URLs unescaped), in the API's terms."""
    return {
        'user_id': str(6700000000000000000
                       + int.from_bytes(_digest(name)[24:32], 'big') % 10 ** 18),
        'username': name,
        'nickname': 'Nick ' + name,
        'bio': 'bio of ' + name,
        'verified': name.startswith('verified_'),
        'private': name.startswith('private_'),
        'avatar': {'thumb': _avatar(name, 100), 'medium': _avatar(name, 720),
                   'large': _avatar(name, 1080)},
        'stats': {
            'followers': _number(name, 0, 50000000),
            'following': _number(name, 1, 5000),
            # Always above 2^31: big accounts have billions of likes.
            'likes': 3000000000 + _number(name, 2, 2000000000),
            'videos': _number(name, 3, 3000),
        },
    }


def _user_fields(name):
    p = expected_profile(name)
    user = {
        'id': p['user_id'],
        'shortId': '',
        'uniqueId': name,
        'nickname': p['nickname'],
        'avatarLarger': p['avatar']['large'],
        'avatarMedium': p['avatar']['medium'],
        'avatarThumb': p['avatar']['thumb'],
        'signature': p['bio'],
        'createTime': 1500000000 + _number(name, 4, 200000000),
        'verified': p['verified'],
        'secUid': 'MS4wLjABAAAA'
                  + base64.urlsafe_b64encode(_digest('sec:' + name)).decode().rstrip('='),
        'ftc': False,
        'relation': 0,
        'openFavorite': False,
        'commentSetting': 0,
        'commerceUserInfo': {'commerceUser': False},
        'duetSetting': 0,
        'stitchSetting': 0,
        'privateAccount': p['private'],
        'secret': False,
        'isADVirtual': False,
        'roomId': '',
        'uniqueIdModifyTime': 0,
        'ttSeller': False,
        'region': 'US',
        'profileTab': {'showMusicTab': False, 'showQuestionTab': True, 'showPlayListTab': True},
        'followingVisibility': 1,
        'recommendReason': '',
        'nowInvitationCardUrl': '',
        'nickNameModifyTime': 0,
        'isEmbedBanned': False,
        'canExpPlaylist': True,
        'profileEmbedPermission': 1,
        'language': 'en',
        'eventList': [],
        'suggestAccountBind': False,
    }
    s = p['stats']
    stats = {
        'followerCount': s['followers'],
        'followingCount': s['following'],
        'heart': s['likes'],
        'heartCount': s['likes'],
        'videoCount': s['videos'],
        'diggCount': _number(name, 5, 10000),
        'friendCount': _number(name, 6, 500),
    }
    return user, stats


def _script_json(obj):
    # TikTok writes every '/' of these scripts as \u002F ('/' only ever occurs inside strings).
    return json.dumps(obj, separators=(',', ':')).replace('/', '\\u002F')


def _universal_data(name):
    scope = {
        'webapp.app-context': {
            'language': 'en', 'region': 'US', 'appId': 1988, 'appType': 'm',
            'user': {}, 'wid': str(7300000000000000000 + _number(name, 7, 10 ** 9)),
            'webIdCreatedTime': str(int(time.time())), 'odinId': '',
            'nonce': [{'nonce': 'start', 'ts': 1}], 'botType': 'others',
            'abTestVersion': {'versionName': '70138197,70405643', 'parameters': {}},
            'csrfSessionId': 'a' * 32, 'csrfToken': '',
            'domains': {'kind': 'www', 'captcha': '/verify'},
        },
        'webapp.biz-context': {'isBrowserSupport': True, 'bizContext': {'os': 'windows'}},
        'seo.abtest': {'canonical': 'https://www.tiktok.com/@' + name, 'pageId': name},
    }
    if name.startswith('missing_'):
        scope['webapp.user-detail'] = {'statusCode': 10221, 'statusMsg': 'user not exist',
                                       'needFix': False}
    else:
        user, stats = _user_fields(name)
        scope['webapp.user-detail'] = {
            'userInfo': {'user': user, 'stats': stats,
                         'statsV2': {k: str(v) for k, v in stats.items()},
                         'itemList': []},
            'shareMeta': {'title': '%s on TikTok' % user['nickname'],
                          'desc': '@%s %d Followers' % (name, stats['followerCount'])},
            'statusCode': 0,
            'statusMsg': '',
            'needFix': False,
        }
    scope['webapp.a-b'] = {'b_c': '1'}
    return {'__DEFAULT_SCOPE__': scope}


def _sigi_state(name):
    user, stats = _user_fields(name)
    return {
        'AppContext': {'appContext': {'language': 'en', 'region': 'US'}, 'initialized': True},
        'SEOState': {'canonical': 'https://www.tiktok.com/@' + name},
        'UserModule': {'users': {name: user}, 'stats': {name: stats}},
        'UserPage': {'uniqueId': name, 'statusCode': 0, 'secUid': user['secUid']},
    }


def _head(title):
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charSet="UTF-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        '<title>%s</title>'
        '<link rel="preconnect" href="https://sf16-website-login.neutral.ttwstatic.com"/>'
        '<script nonce="d9a5c1">window._ssrBuildTime=1700000000;window.__INIT__={"ok":"<\\/div>"};'
        'if (document.cookie.indexOf("tt_chain_token") < 0) { void 0; }</script>'
        '<script id="api-domains" type="application/json">'
        '{"business":"https:\\u002F\\u002Fbusiness-api.tiktok.com",'
        '"webcast":"https:\\u002F\\u002Fwebcast.tiktok.com"}</script>'
        '<script id="webmssdk-config" type="application/json">{"aid":1988,"isSDK":false}</script>'
        '<style>body{margin:0}.DivShareLayout{display:flex}</style>'
        '</head>' % title)


def _tail():
    return ('<script src="https://sf16-website-login.neutral.ttwstatic.com/obj/tiktok_web_login'
            '_static/tiktok/webapp/main/webapp-desktop/8152caf0c8e8bc67ae0d.js" async="">'
            '</script></body></html>')


def profile_page(name):
    """The HTML of a normal profile page (also missing_*: TikTok's not-found page)."""
    title = '%s (@%s) | TikTok' % ('Nick ' + name, name)
    return (_head(title) + '<body><div id="app"><div class="DivShareLayout"></div></div>'
            '<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
            + _script_json(_universal_data(name)) + '</script>' + _tail())


def legacy_page(name):
    return (_head('%s | TikTok' % name) + '<body><div id="app"></div>'
            '<script id="SIGI_STATE" type="application/json">' + _script_json(_sigi_state(name))
            + '</script>' + _tail())


def broken_page(name):
    text = _script_json(_universal_data(name))
    return (_head('%s | TikTok' % name) + '<body><div id="app"></div>'
            '<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
            + text[:len(text) * 3 // 5] + '</script>' + _tail())


def captcha_page(name):
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"/><title>Security Check</title>'
        '<script src="https://sf-tb-sg.ibytedtos.com/obj/rc-verifycenter/sec_sdk_build/'
        'captcha/index.js"></script></head><body>'
        '<div id="captcha-verify-container"><p>Please verify you are human to continue to '
        '@%s.</p><div class="captcha_verify_slide--slidebar"></div></div>'
        '<script>window.verifyConfig={"type":"slide","region":"va"};</script>'
        '</body></html>' % name)


# ---------------------------------------------------------------- the server

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Tengine'
    sys_version = ''
    timeout = 30                # idle keep-alive connections end by themselves

    def log_message(self, *args):
        pass

    def log_request(self, *args):
        pass

    # ------------------------------------------------------------ plumbing

    def _send(self, status, body, content_type='text/html; charset=utf-8', headers=()):
        if isinstance(body, str):
            body = body.encode('utf-8')
        try:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its timeout, its page size cap): nothing left to do.
            self.close_connection = True

    def _send_json(self, status, obj):
        self._send(status, json.dumps(obj, sort_keys=True), 'application/json')

    def _send_huge(self, page):
        """page padded (after its data script, so a reader that stops early still sees the
        profile) to HUGE_SIZE bytes, written in chunks."""
        head = page.encode('utf-8')
        close = b'</body></html>'
        head = head[:-len(close)]
        pad_len = HUGE_SIZE - len(head) - len(close)
        filler = (b'<!-- ' + b'x' * 1014 + b' -->\n')
        try:
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(HUGE_SIZE))
            self.end_headers()
            self.wfile.write(head)
            while pad_len > 0:
                chunk = (filler * (_CHUNK // len(filler) + 1))[:min(_CHUNK, pad_len)]
                self.wfile.write(chunk)
                pad_len -= len(chunk)
            self.wfile.write(close)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------ routes

    def do_GET(self):
        fake = self.server.fake
        path = urllib.parse.urlsplit(self.path).path
        if path == '/__fake/fetches':
            return self._send_json(200, fake.fetches())
        if path.startswith('/@') and len(path) > 2:
            name = urllib.parse.unquote(path[2:]).rstrip('/')
            fake.count(name)
            return self._profile(fake, name)
        return self._send(404, '<html><body>Not Found</body></html>')

    def do_POST(self):
        fake = self.server.fake
        path = urllib.parse.urlsplit(self.path).path
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _CONTROL_BODY_MAX:
            return self._send_json(400, {'error': 'bad Content-Length'})
        raw = self.rfile.read(length) if length else b''
        if path == '/__fake/reset':
            fake.reset()
            return self._send_json(200, {'ok': True})
        if path == '/__fake/mode':
            try:
                body = json.loads(raw or b'{}')
                if not isinstance(body, dict):
                    raise ValueError('the body must be a JSON object')
                fake.set_mode(force=body.get('force', _KEEP), slow=body.get('slow'),
                              delay=body.get('delay'))
            except ValueError as e:
                return self._send_json(400, {'error': str(e)})
            return self._send_json(200, fake.mode())
        return self._send_json(404, {'error': 'not found'})

    def _profile(self, fake, name):
        mode = fake.mode()
        if mode['force']:
            scenario = mode['force']
        else:
            scenario = name.lower().split('_', 1)[0] if '_' in name else ''
        if scenario == 'slow':
            fake.sleep(mode['slow'])
        elif scenario == 'delay':
            fake.sleep(mode['delay'])
        if scenario == 'captcha':
            return self._send(200, captcha_page(name))
        if scenario == 'throttle':
            return self._send(429, '<html><body>Too Many Requests</body></html>',
                              headers=[('Retry-After', '30')])
        if scenario == 'error':
            return self._send(500, '<html><body>Internal Server Error</body></html>')
        if scenario == 'legacy':
            return self._send(200, legacy_page(name))
        if scenario == 'broken':
            return self._send(200, broken_page(name))
        if scenario == 'huge':
            return self._send_huge(profile_page(name))
        cookie = 'ttwid=1%%7C%s; Path=/; Max-Age=31536000; HttpOnly' % _digest(name).hex()[:24]
        return self._send(200, profile_page(name), headers=[('Set-Cookie', cookie)])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that hang up early are part of the scenarios; stay quiet about them.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeTikTok:
    """The fake in a thread of the calling process.

    fetches(name) is the number of GET /@name seen (fetches() all of them as a dict);
    set_mode(force=…, slow=…, delay=…) changes the behaviour; reset() forgets counts and
    mode."""

    def __init__(self, host='127.0.0.1', port=0, slow=DEFAULT_SLOW, delay=DEFAULT_DELAY):
        self.host = host
        self.requested_port = port
        self.default_slow = float(slow)
        self.default_delay = float(delay)
        self._lock = threading.Lock()
        self._counts = {}
        self._force = None
        self._slow = self.default_slow
        self._delay = self.default_delay
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    # ------------------------------------------------------------ lifecycle

    def start(self):
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((self.host, self.requested_port), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name='fake-tiktok',
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._stopping.set()          # wakes slow_* and delay_* answers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)
        self._httpd = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1] if self._httpd else None

    @property
    def url(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return 'http://%s:%d' % (host, self.port)

    def sleep(self, seconds):
        self._stopping.wait(max(0.0, float(seconds)))

    # ------------------------------------------------------------ counters and mode

    def count(self, name):
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def fetches(self, name=None):
        """GET /@name requests seen for name (exact spelling), or {name: count} of all."""
        with self._lock:
            if name is None:
                return dict(self._counts)
            return self._counts.get(name, 0)

    def total_fetches(self):
        with self._lock:
            return sum(self._counts.values())

    def wait_fetches(self, name, n, timeout=5.0):
        """Waits until name was fetched at least n times; returns the count then."""
        deadline = time.monotonic() + timeout
        while self.fetches(name) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.fetches(name)

    def reset(self):
        with self._lock:
            self._counts.clear()
            self._force = None
            self._slow = self.default_slow
            self._delay = self.default_delay

    def set_mode(self, force=_KEEP, slow=None, delay=None):
        """force: None (scenarios by prefix) or a scenario every name answers; slow, delay:
        seconds for slow_* and delay_* (None keeps the current value)."""
        if force is not _KEEP and force not in FORCE_MODES:
            raise ValueError('force must be one of %s' % (FORCE_MODES,))
        for label, v in (('slow', slow), ('delay', delay)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not 0 <= v <= 600):
                raise ValueError('%s must be a number of seconds (0..600)' % label)
        with self._lock:
            if force is not _KEEP:
                self._force = force
            if slow is not None:
                self._slow = float(slow)
            if delay is not None:
                self._delay = float(delay)

    def mode(self):
        with self._lock:
            return {'force': self._force, 'slow': self._slow, 'delay': self._delay}


def _loopback(host):
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def main(argv=None):
    ap = argparse.ArgumentParser(description='Fake TikTok web server (profile pages).')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--host', default='127.0.0.1', help='a loopback address (default 127.0.0.1)')
    ap.add_argument('--slow', type=float, default=DEFAULT_SLOW, help='seconds slow_* names take')
    ap.add_argument('--delay', type=float, default=DEFAULT_DELAY, help='seconds delay_* names take')
    args = ap.parse_args(argv)
    if not _loopback(args.host):
        ap.error('--host must be a loopback address')
    fake = FakeTikTok(args.host, args.port, args.slow, args.delay)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        fake.start()
    except OSError as e:
        print('tiktok_web: cannot listen on %s:%d: %s' % (args.host, args.port, e), file=sys.stderr)
        return 1
    print('fake TikTok web listening on %s' % fake.url, flush=True)
    while not done.wait(1):
        pass
    fake.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
