"""The HTTP side of the fake TikTok LIVE upstream (tiktok_live.py): the live page and room API
bodies per scenario, and the request handler that routes www, the sign server
(/webcast/fetch) and the /_fake/ control endpoints to the FakeTikTokLive it serves.
"""
import http.server
import json
import os
import re
import socket
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:                     # siblings import from any cwd
    sys.path.insert(0, HERE)

from webcast_proto import CDN, _h, room_id_of  # noqa: E402 - after the sys.path line

LIST_CAP = 20000                             # entries per log list (rooms, unmatched)


def _hdrs(headers):
    """The request headers the logs keep."""
    return {k: headers.get(k) for k in ('user-agent', 'cookie', 'origin', 'referer')
            if headers.get(k) is not None}


# ---------------------------------------------------------------- pages

def _script_json(obj):
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False).replace('/', '\\u002F')


def _user_json(user, live):
    rid = room_id_of(user)
    return {'id': str(6900000000000000000 + _h('sid', user.lower()) % 10 ** 17),
            'uniqueId': user, 'nickname': 'Host ' + user,
            'avatarThumb': '%s/tos-useast5-avt-0068-tx/%x~c5_100x100.jpeg' % (CDN, _h('a', user)),
            'secUid': 'MS4wLjABAAAA%x' % _h('sec', user), 'roomId': rid,
            'status': 2 if live else 4}


def _page(title, body):
    return ('<!DOCTYPE html><html lang="en"><head><meta charSet="UTF-8"/><title>%s</title>'
            '<script nonce="x">window.__INIT__={"a":"<\\/div>"};</script></head><body>'
            '<div id="app"></div>%s<script src="https://sf16-website-login.neutral.ttwstatic.com'
            '/obj/main.js" async=""></script></body></html>' % (title, body))


def live_page(user, scenario, live):
    title = '%s is LIVE | TikTok' % user
    if scenario in ('missing', 'adult', 'nosigi'):
        data = _script_json({'__DEFAULT_SCOPE__': {'webapp.live': {}}})
        return _page(title, '<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" '
                     'type="application/json">' + data + '</script>')
    if scenario == 'garbage':
        return _page(title, '<script id="SIGI_STATE" type="application/json">{"LiveRoom":'
                     '{"liveRoomUserInfo":{"user":{"roomId":"7</script>')
    u = _user_json(user, live)
    state = {'AppContext': {'appContext': {'language': 'en', 'region': 'US'}},
             'LiveRoom': {'liveRoomUserInfo': {'user': u, 'liveRoom': {
                 'title': 'LIVE of ' + user, 'status': u['status'], 'coverUrl': u['avatarThumb'],
                 'liveRoomStats': {'userCount': 1234}}}, 'loadingState': {'getRoomInfo': 1}},
             'CurrentRoom': {'roomId': u['roomId']}}
    if scenario == 'changed':
        state = {'AppContext': state['AppContext'], 'LiveRoomV2': {'room': {}}}
    return _page(title, '<script id="SIGI_STATE" type="application/json">' + _script_json(state)
                 + '</script>')


def captcha_page(user):
    return _page('Security Check', '<div id="captcha-verify-container">Please verify you are '
                 'human to continue to @%s.</div>' % user)


def room_api(user, scenario, live):
    """(status, content type, body) of /api-live/user/room/."""
    if scenario in ('captcha', 'waf'):
        return 403, 'text/html', captcha_page(user)
    if scenario == 'garbage':
        return 200, 'application/json', '{"statusCode":0,"data":{"user":{"roomId":"73'
    body = {'extra': {'now': int(time.time() * 1000)}, 'message': '', 'statusCode': 0,
            'data': {}}
    if scenario == 'missing':
        body.update(statusCode=19881007, message='user_not_found')
    elif scenario == 'adult':
        body.update(statusCode=4003110, message='age restricted')
    elif scenario != 'changed':
        u = _user_json(user, live)
        body['data'] = {'user': u, 'liveRoom': {'status': u['status'], 'title': 'LIVE of ' + user,
                                                'liveRoomStats': {'userCount': 1234}}}
    return 200, 'application/json', json.dumps(body, ensure_ascii=False)


# ---------------------------------------------------------------- HTTP

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Tengine'
    sys_version = ''
    timeout = 30

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype='text/html; charset=utf-8', headers=()):
        if isinstance(body, str):
            body = body.encode('utf-8')
        try:
            self.send_response(status)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status, obj):
        self._send(status, json.dumps(obj, ensure_ascii=False), 'application/json')

    def do_GET(self):
        fake = self.server.fake
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        m = re.fullmatch(r'/@([^/]{1,64})/live/?', u.path)
        if m:
            user = urllib.parse.unquote(m.group(1))
            scenario, live, rec = fake.lookup('page', user, hdrs)
            if scenario == 'captcha':
                status, page = 200, captcha_page(user)
            elif scenario == 'waf':
                status, page = 403, captcha_page(user)
            else:
                status, page = 200, live_page(user, scenario, live)
            rec['status'] = status
            return self._send(status, page)
        if u.path.rstrip('/') == '/api-live/user/room' and q.get('uniqueId'):
            scenario, live, rec = fake.lookup('api', q['uniqueId'], hdrs)
            status, ctype, body = room_api(q['uniqueId'], scenario, live)
            if q.get('sourceType') != '54':
                with fake.lock:
                    fake.room(q['uniqueId']).add('problems', 'api: sourceType %r'
                                                 % q.get('sourceType'))
            rec['status'] = status
            return self._send(status, body, ctype)
        if u.path == '/webcast/fetch':
            status, extra, ctype, body = fake.sign(q, hdrs)
            return self._send(status, body, ctype, extra)
        if u.path == '/_fake/expected' and q.get('user'):
            return self._json(200, fake.expected(q['user']))
        if u.path == '/_fake/log':
            return self._json(200, fake.log(q.get('user')))
        if u.path == '/_fake/config':
            return self._json(200, fake.configure({}))
        with fake.lock:
            if len(fake.unmatched) < LIST_CAP:
                fake.unmatched.append({'time': time.time(), 'path': self.path})
        return self._send(404, '<html><body>Not Found</body></html>')

    def do_POST(self):
        fake = self.server.fake
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 65536:
            return self._json(400, {'error': 'bad Content-Length'})
        raw = self.rfile.read(length) if length else b''
        path = urllib.parse.urlsplit(self.path).path
        if path == '/_fake/reset':
            fake.reset()
            return self._json(200, {'ok': True})
        if path == '/_fake/config':
            try:
                body = json.loads(raw or b'{}')
                if not isinstance(body, dict):
                    raise ValueError('the body must be a JSON object')
                return self._json(200, fake.configure(body))
            except ValueError as e:
                return self._json(400, {'error': str(e)})
        return self._json(404, {'error': 'not found'})


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)
