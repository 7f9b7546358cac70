"""Graceful restarts under load lose no request, with every MPM."""
import http.client
import threading
import time

import pytest

PATHS = ['/healthcheck', '/health/ready', '/api/v1/monitoring/ping', '/monitoring/metrics',
         '/monitoring/detailed']


class Client:
    """An HTTP/1.1 client on one connection at a time.

    keep_alive=False opens a fresh connection per request: any failure is a lost request.
    keep_alive=True reuses its connection like every HTTP client does. When the server
    closes an idle persistent connection (httpd's event MPM does so for the old generation
    in a graceful restart) just as a request goes out, the request fails before any byte
    of an answer arrived; RFC 9112 section 9.3.1 lets a client retry an idempotent request
    then, once, on a new connection. Only that case is retried, and it is counted."""

    def __init__(self, port, keep_alive):
        self.port = port
        self.keep_alive = keep_alive
        self.conn = None
        self.used = 0
        self.retries = 0

    def get(self, path):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
                self.used = 0
            reused = self.used > 0
            try:
                headers = {} if self.keep_alive else {'Connection': 'close'}
                self.conn.request('GET', path, headers=headers)
                resp = self.conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 0:
                    self.retries += 1
                    continue
                raise
            except Exception:
                self.close()
                raise
            self.used += 1
            if resp.will_close:
                self.close()
            return resp.status, body

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_load(server, gracefuls, threads=8, min_requests=300):
    """Clients (half keep-alive, half a connection per request) load the server while it
    restarts gracefully `gracefuls` times. Returns (answered 200, failures, retries)."""
    failures = []
    done = [0]
    lock = threading.Lock()
    stop = threading.Event()
    clients = [Client(server.port, keep_alive=(i % 2 == 0)) for i in range(threads)]

    def worker(i):
        client = clients[i]
        n = 0
        while not stop.is_set() or done[0] < min_requests:
            path = PATHS[(i + n) % len(PATHS)]
            n += 1
            try:
                status, body = client.get(path)
                ok = status == 200
                if not ok:
                    failures.append('%s -> %d %s' % (path, status, body[:200]))
            except Exception as e:
                ok = False
                failures.append('%s -> %r (%s)' % (path, e, 'keep-alive' if client.keep_alive else 'new connection'))
            with lock:
                done[0] += ok
            if len(failures) > 50:
                break
        client.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    try:
        for _ in range(gracefuls):
            time.sleep(0.5)
            server.graceful()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in workers:
            t.join(120)
    return done[0], failures, sum(c.retries for c in clients)


@pytest.mark.parametrize('mpm', ['event', 'worker', 'prefork'])
def test_graceful_under_load(env, mpm):
    s = env.httpd('graceful-' + mpm, mpm=mpm)
    s.start()
    try:
        master = s.pid
        generations = s.generation_count()
        gracefuls, threads = 3, 8
        answered, failures, retries = run_load(s, gracefuls, threads)
        print('%s: %d requests answered, %d idle keep-alive connections closed by the restarts'
              % (mpm, answered, retries))
        assert not failures, '%d failed requests, e.g.:\n%s' % (len(failures), '\n'.join(failures[:10]))
        assert answered >= 300
        # Idle connections are closed only around the restarts: a handful, not a pattern.
        assert retries <= max(gracefuls * threads, answered // 100), retries
        assert s.generation_count() == generations + gracefuls
        assert s.pid == master and s.running()
        # The new generation serves the database routes.
        status, _ = Client(s.port, False).get('/health/ready')
        assert status == 200
    finally:
        s.stop()


def test_session_server_graceful(env):
    """env.graceful() restarts the shared server; it keeps answering with the same master."""
    pid = env.server.pid
    before = env.get('/healthcheck').json()['uptime_s']
    env.graceful()
    r = env.get('/healthcheck')
    assert r.status_code == 200
    assert env.server.pid == pid
    # Uptime counts from the server start, not from the restart.
    assert r.json()['uptime_s'] >= before
