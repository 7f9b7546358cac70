"""Throwaway servers for the integration tests, in the style of httpd's test/pyhttpd.

One ProfileEnv per test session owns a temporary directory with a private PostgreSQL
cluster, any number of httpd server roots (each with its own generated httpd.conf, port,
logs and copy of the built module) and, on demand, private Redis servers. Every process
it starts is stopped by ProfileEnv.close(), also when tests fail.
"""
import base64
import glob
import hashlib
import hmac
import http.client
import http.server
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.join(REPO, 'build')
APACHE2 = os.environ.get('APACHE2', '/usr/sbin/apache2')
APACHE_MODULES = os.environ.get('APACHE_MODULES', '/usr/lib/apache2/modules')
PROFILECTL = os.environ.get('PROFILECTL', os.path.join(BUILD, 'profilectl'))
IS_ROOT = os.geteuid() == 0
# The shipped list of common passwords (installed under <prefix>/share/mod_profile).
BLOCKLIST = os.path.join(REPO, 'conf', 'common-passwords.txt')

# Static service keys (ProfileAPIKey) every test server knows: (key, name, scopes).
STATIC_ADMIN = ('static-admin-key-0123456789abcdef', 'ops', ('admin',))
STATIC_READER = ('static-reader-key-0123456789abcdef', 'reader', ('profiles:read',))
STATIC_KEYS = (STATIC_ADMIN, STATIC_READER)

# Lines that fail a test when they show up in an error log while it runs.
BAD_LINE = re.compile(
    r'\[[\w.-]*:(error|crit|alert|emerg)\]'
    r'|Segmentation fault|exit signal|AH00045|AH00046|AH00060'
    r'|double free|corrupted|AddressSanitizer')
# Crash lines are never acceptable, whatever a test allows.
CRASH_LINE = re.compile(r'Segmentation fault|exit signal|AH00060|double free|corrupted')


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def schema_version():
    """The schema version this build needs: the highest sql/NNN_*.sql number."""
    nums = [int(os.path.basename(f)[:3]) for f in glob.glob(os.path.join(REPO, 'sql', '[0-9][0-9][0-9]_*.sql'))]
    return max(nums)


def _pg_bin():
    dirs = sorted(glob.glob('/usr/lib/postgresql/*/bin'),
                  key=lambda d: [int(x) for x in re.findall(r'\d+', d)])
    if not dirs:
        raise RuntimeError('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin')
    return dirs[-1]


def _as_pg(cmd):
    """initdb and postgres refuse to run as root."""
    return ['runuser', '-u', 'postgres', '--'] + cmd if IS_ROOT else cmd


def _run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, **kw)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_pids(pgid):
    """Processes in process group pgid (httpd's master and children share one)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(')') + 2:].split()
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _wait(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class PgServer:
    """A private PostgreSQL cluster on a free loopback port."""

    def __init__(self, base):
        self.bin = _pg_bin()
        self.dir = os.path.join(base, 'pg')
        self.sock = os.path.join(base, 'pgsock')
        self.log = os.path.join(base, 'pglog', 'postgresql.log')
        self.port = free_port()
        self.superuser = 'postgres' if IS_ROOT else None

    def init(self):
        for d in (self.dir, self.sock, os.path.dirname(self.log)):
            os.makedirs(d, mode=0o700, exist_ok=True)
            if IS_ROOT:
                shutil.chown(d, 'postgres', 'postgres')
        cmd = [os.path.join(self.bin, 'initdb'), '-D', self.dir, '-A', 'trust', '-E', 'UTF8',
               '--locale=C.UTF-8', '--no-sync']
        if self.superuser:
            cmd += ['-U', self.superuser]
        p = _run(_as_pg(cmd))
        if p.returncode != 0:
            raise RuntimeError('initdb failed:\n' + p.stdout)

    def start(self):
        opts = ('-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off '
                '-c full_page_writes=off -c max_connections=200' % (self.port, self.sock))
        p = _run(_as_pg([os.path.join(self.bin, 'pg_ctl'), '-D', self.dir, '-l', self.log,
                         '-w', '-t', '60', '-o', opts, 'start']))
        if p.returncode != 0:
            raise RuntimeError('PostgreSQL did not start:\n%s\n%s' % (p.stdout, self.log_tail()))

    def stop(self):
        if not self.running():
            return
        p = _run(_as_pg([os.path.join(self.bin, 'pg_ctl'), '-D', self.dir, '-m', 'fast', '-w',
                         '-t', '60', 'stop']))
        if p.returncode != 0:
            raise RuntimeError('PostgreSQL did not stop:\n' + p.stdout)

    def running(self):
        try:
            with open(os.path.join(self.dir, 'postmaster.pid')) as f:
                return _alive(int(f.readline()))
        except (OSError, ValueError):
            return False

    def log_tail(self, n=30):
        try:
            with open(self.log, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def psql(self, sql, dbname='postgres'):
        cmd = [os.path.join(self.bin, 'psql'), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
               '-h', self.sock, '-p', str(self.port), '-d', dbname, '-c', sql]
        if self.superuser:
            cmd[1:1] = ['-U', self.superuser]
        p = _run(cmd)
        if p.returncode != 0:
            raise RuntimeError('psql %r failed:\n%s' % (sql, p.stdout))
        return p.stdout.strip()

    def create_database(self, name):
        """A fresh database owned by the role profile."""
        if not self.psql("SELECT 1 FROM pg_roles WHERE rolname = 'profile'"):
            self.psql('CREATE ROLE profile LOGIN')
        self.psql('CREATE DATABASE %s OWNER profile' % name)

    def conninfo(self, dbname='profile'):
        return 'host=127.0.0.1 port=%d dbname=%s user=profile' % (self.port, dbname)


class RedisServer:
    """A private redis-server on a free loopback port, run in the foreground under us."""

    def __init__(self, base, name, password=None):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.proc = None

    def start(self):
        if self.proc and self.proc.poll() is None:
            return
        cmd = ['redis-server', '--bind', '127.0.0.1', '--port', str(self.port), '--save', '',
               '--appendonly', 'no', '--dir', self.dir, '--logfile', os.path.join(self.dir, 'redis.log')]
        if self.password:
            cmd += ['--requirepass', self.password]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5) as s:
                    s.sendall(b'PING\r\n')
                    return bool(s.recv(64))
            except OSError:
                return False
        if not _wait(up, 10):
            self.stop()
            raise RuntimeError('redis-server did not start on port %d' % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def url(self, db=0):
        auth = ':%s@' % self.password if self.password else ''
        return 'redis://%s127.0.0.1:%d/%d' % (auth, self.port, db)


class HttpdServer:
    """One httpd with its own server root, generated httpd.conf and logs."""

    def __init__(self, env, name, mpm='event', extra_conf='', database=True, redis_url=None,
                 sidecar_url=None, log_level='warn profile:info', mpm_conf=None, jwt_secret=True,
                 auth_conf=True, modules=()):
        """jwt_secret: True for the session's secret, a string for another one, None for no
        HS256 secret (e.g. when extra_conf configures RS256). auth_conf: the test defaults
        (registration open, 8-byte passwords, the repo's blocklist, the static keys).
        modules: more httpd modules to load, e.g. ('proxy', 'proxy_http')."""
        self.env = env
        self.name = name
        self.root = os.path.join(env.base, name)
        self.mpm = mpm
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.conf_path = os.path.join(self.root, 'conf', 'httpd.conf')
        self.error_log = os.path.join(self.root, 'logs', 'error_log')
        self.access_log = os.path.join(self.root, 'logs', 'access_log')
        self.pid_file = os.path.join(self.root, 'logs', 'httpd.pid')
        self.extra_conf = extra_conf
        self.database = env.pg.conninfo() if database is True else database
        self.redis_url = redis_url
        self.sidecar_url = sidecar_url
        self.log_level = log_level
        self.mpm_conf = mpm_conf
        self.jwt_secret = env.jwt_secret if jwt_secret is True else jwt_secret
        self.auth_conf = auth_conf
        self.modules = tuple(modules)
        self.pid = None
        self.checked = 0           # error log offset up to which the per-test check has run
        for d in ('conf', 'logs', 'modules'):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        # A private copy: a rebuild while tests run must not rewrite a library httpd has mapped.
        shutil.copy(os.path.join(BUILD, 'mod_profile.so'), os.path.join(self.root, 'modules', 'mod_profile.so'))
        self.write_conf()

    # ------------------------------------------------------------ configuration

    def default_mpm_conf(self):
        if self.mpm == 'prefork':
            return ('StartServers 3\nMinSpareServers 3\nMaxSpareServers 6\nServerLimit 32\n'
                    'MaxRequestWorkers 32\nMaxConnectionsPerChild 0\n')
        return ('StartServers 2\nServerLimit 16\nThreadsPerChild 10\nMaxRequestWorkers 40\n'
                'MinSpareThreads 10\nMaxSpareThreads 30\nMaxConnectionsPerChild 0\n')

    def conf_text(self, extra=''):
        lines = [
            '# Written by test/integration/profile_env.py for the test server %s.' % self.name,
            'ServerRoot "%s"' % self.root,
            'ServerName localhost',
            'DefaultRuntimeDir "%s/logs"' % self.root,
            'PidFile "%s"' % self.pid_file,
            'Listen 127.0.0.1:%d' % self.port,
            'LoadModule mpm_%s_module %s/mod_mpm_%s.so' % (self.mpm, APACHE_MODULES, self.mpm),
            'LoadModule authz_core_module %s/mod_authz_core.so' % APACHE_MODULES,
            # AuthType and Require valid-user, for the AuthType Profile front end
            'LoadModule authn_core_module %s/mod_authn_core.so' % APACHE_MODULES,
            'LoadModule authz_user_module %s/mod_authz_user.so' % APACHE_MODULES,
        ]
        lines += ['LoadModule %s_module %s/mod_%s.so' % (m, APACHE_MODULES, m) for m in self.modules]
        lines += [
            'LoadModule profile_module "%s/modules/mod_profile.so"' % self.root,
        ]
        if IS_ROOT:
            lines += ['User www-data', 'Group www-data']
        lines += [
            self.mpm_conf if self.mpm_conf is not None else self.default_mpm_conf(),
            'Timeout 30',
            'KeepAlive On',
            'KeepAliveTimeout 5',
            # Lets a 9 KiB bearer token reach the module, whose own 8 KiB limit must refuse it.
            'LimitRequestFieldSize 16384',
            'ErrorLog "%s"' % self.error_log,
            'LogLevel %s' % self.log_level,
            'ErrorLogFormat "[%{u}t] [%-m:%l] [pid %P:tid %T] [req\\ %L] [client\\ %-a] %M"',
            'LogFormat "%h %l %u %t \\"%r\\" %>s %b %Dus pid=%P rid=%{profile-request-id}n" profile',
            'CustomLog "%s" profile' % self.access_log,
            'DocumentRoot "%s/htdocs"' % self.root,
            '<Location />',
            '    SetHandler profile',
            '    Require all granted',
            '</Location>',
        ]
        if self.database:
            lines.append('ProfileDatabase "%s"' % self.database)
        if self.redis_url:
            lines.append('ProfileRedis "%s"' % self.redis_url)
        if self.sidecar_url:
            lines.append('ProfileSidecar "%s"' % self.sidecar_url)
        if self.auth_conf:
            lines += ['ProfileRegistration open', 'ProfilePasswordMinLength 8']
            if os.path.isfile(BLOCKLIST):
                lines.append('ProfilePasswordBlocklist "%s"' % BLOCKLIST)
            lines += [static_key_line(*k) for k in STATIC_KEYS]
        if self.jwt_secret:
            lines.append('ProfileJWTSecret "%s"' % self.jwt_secret)
        lines += [self.extra_conf, extra]
        return '\n'.join(lines) + '\n'

    def write_conf(self):
        os.makedirs(os.path.join(self.root, 'htdocs'), exist_ok=True)
        with open(self.conf_path, 'w') as f:
            f.write(self.conf_text())

    def apachectl_t(self, extra_conf):
        """`apache2 -t` of this server's configuration plus extra_conf: (exit code, output)."""
        path = os.path.join(self.root, 'conf', 'configtest.conf')
        with open(path, 'w') as f:
            f.write(self.conf_text(extra_conf))
        p = _run([APACHE2, '-t', '-f', path], timeout=60)
        return p.returncode, p.stdout

    # ------------------------------------------------------------ processes

    def _read_pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def running(self):
        return self.pid is not None and _alive(self.pid)

    def start(self, timeout=30):
        if self.running():
            return
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)
        p = _run([APACHE2, '-f', self.conf_path, '-k', 'start'], timeout=60)
        if p.returncode != 0:
            raise RuntimeError('httpd %s did not start:\n%s\n%s' % (self.name, p.stdout, self.log_tail()))
        if not _wait(lambda: self._read_pid() is not None, timeout):
            raise RuntimeError('httpd %s wrote no pid file:\n%s' % (self.name, self.log_tail()))
        self.pid = self._read_pid()
        self.env.started.append(self)
        if not self.wait_answering(timeout) or not _wait(lambda: self.generation_count() >= 1, timeout):
            raise RuntimeError('httpd %s does not answer on %s:\n%s' % (self.name, self.url, self.log_tail()))

    def wait_answering(self, timeout=30):
        def answers():
            try:
                requests.get(self.url + '/healthcheck', timeout=2)
                return True
            except requests.RequestException:
                return False
        return _wait(answers, timeout, 0.1)

    def stop(self, timeout=20):
        if self.pid is None:
            return
        pid = self.pid
        if _alive(pid):
            _run([APACHE2, '-f', self.conf_path, '-k', 'stop'], timeout=60)
            if not _wait(lambda: not _group_pids(pid), timeout):
                for p in _group_pids(pid):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                _wait(lambda: not _group_pids(pid), 5)
                raise RuntimeError('httpd %s (pid %d) did not stop within %d s' % (self.name, pid, timeout))
        self.pid = None
        if self in self.env.started:
            self.env.started.remove(self)

    def generation_count(self):
        return self.error_log_text().count('resuming normal operations')

    def graceful(self, timeout=30):
        """`apache2 -k graceful` and wait until the new generation answers."""
        before = self.generation_count()
        p = _run([APACHE2, '-f', self.conf_path, '-k', 'graceful'], timeout=60)
        if p.returncode != 0:
            raise RuntimeError('graceful restart of %s failed:\n%s' % (self.name, p.stdout))
        if not _wait(lambda: self.generation_count() > before, timeout):
            raise RuntimeError('httpd %s did not finish its graceful restart:\n%s' % (self.name, self.log_tail()))
        if not self.wait_answering(timeout):
            raise RuntimeError('httpd %s does not answer after graceful:\n%s' % (self.name, self.log_tail()))

    def child_pids(self):
        return [p for p in _group_pids(self.pid) if p != self.pid] if self.pid else []

    # ------------------------------------------------------------ HTTP and logs

    def get(self, path, headers=None, **kw):
        kw.setdefault('timeout', 30)
        return requests.get(self.url + path, headers=headers, **kw)

    def request(self, method, path, **kw):
        kw.setdefault('timeout', 30)
        return requests.request(method, self.url + path, **kw)

    def call(self, method, path, auth=None, body=None, headers=None, **kw):
        """An API request; auth is a User, a key string ("pk_…" or a static key, sent as
        X-API-Key) or ('bearer', token); body is sent as JSON."""
        h = dict(auth_headers(auth))
        h.update(headers or {})
        if body is not None:
            kw['json'] = body
        return self.request(method, path, headers=h, **kw)

    def error_log_mark(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def error_log_since(self, mark):
        try:
            with open(self.error_log, 'rb') as f:
                f.seek(mark)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def error_log_text(self):
        return self.error_log_since(0)

    def access_log_lines(self):
        try:
            with open(self.access_log, errors='replace') as f:
                return f.read().splitlines()
        except OSError:
            return []

    def log_tail(self, n=30):
        return ''.join(self.error_log_text().splitlines(True)[-n:])


class User:
    """An account of the test session and its current tokens."""

    def __init__(self, env, username, email, password, role='user', server=None):
        self.env = env
        self.username = username
        self.email = email
        self.password = password
        self.role = role
        self.server = server or env.server
        self.id = None
        self.access = None
        self.refresh = None
        self.logged_in_at = 0.0

    def login(self, server=None):
        """Logs in (raising unless 200) and keeps the tokens; returns the answer's JSON."""
        r = (server or self.server).call('POST', '/auth/login',
                                         body={'username': self.username, 'password': self.password})
        if r.status_code != 200:
            raise AssertionError('login of %s: %d %s' % (self.username, r.status_code, r.text))
        j = r.json()
        self.access, self.refresh = j['access_token'], j['refresh_token']
        self.logged_in_at = time.monotonic()
        if self.id is None:
            self.id = int(jwt_decode(self.access)[1]['sub'])
        return j

    def bearer(self):
        """A usable access token (logs in again when the last one is older than 10 minutes)."""
        if self.access is None or time.monotonic() - self.logged_in_at > 600:
            self.login()
        return self.access

    def headers(self):
        return {'Authorization': 'Bearer ' + self.bearer()}

    def call(self, method, path, body=None, server=None, **kw):
        return (server or self.server).call(method, path, auth=self, body=body, **kw)


def auth_headers(auth):
    if auth is None:
        return {}
    if isinstance(auth, User):
        return auth.headers()
    if isinstance(auth, tuple) and auth[0] == 'bearer':
        return {'Authorization': 'Bearer ' + auth[1]}
    if isinstance(auth, str):
        return {'X-API-Key': auth}
    raise TypeError('auth must be a User, a key or (\'bearer\', token)')


def expect_error(r, status, code):
    """Asserts r is the API's error JSON with this status and code; returns the JSON."""
    assert r.status_code == status, (r.status_code, r.headers, r.text)
    assert r.headers.get('Content-Type', '').startswith('application/json'), r.headers
    j = r.json()
    assert j.get('error') == code, j
    assert j.get('status') == status, j
    for k in ('message', 'details', 'timestamp', 'path', 'correlation_id'):
        assert k in j, j
    return j


# Revocations (logout, key revocation, deactivation, role change) reach every process within this.
REVOCATION_DELAY = 2.0


def after_revocation(server, auth, since, n=6, path='/auth/me'):
    """Statuses of n requests with auth, each on its own connection (so any process may take
    it), made once REVOCATION_DELAY has passed since `since` (a time.monotonic() taken just
    before the revoking request was sent)."""
    delay = since + REVOCATION_DELAY - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    return [server.call('GET', path, auth=auth, headers={'Connection': 'close'}).status_code
            for _ in range(n)]


def wait_for(predicate, timeout, interval=0.1):
    """Polls predicate until it is true or timeout seconds passed; returns its last value."""
    return _wait(predicate, timeout, interval)


# ---------------------------------------------------------------- many requests at once

def http_get(port, path, headers=None, source=None, timeout=10):
    """One GET on a connection of its own (Connection: close, so any child process may take
    it), from the loopback address source (e.g. '127.0.0.2': by-IP limits tell such clients
    apart). Returns (status, headers with lower-case names, body bytes); repeated header
    fields are joined with ", "."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        h = {'Connection': 'close'}
        h.update(headers or {})
        conn.request('GET', path, headers=h)
        resp = conn.getresponse()
        body = resp.read()
        out = {}
        for k, v in resp.getheaders():
            k = k.lower()
            out[k] = out[k] + ', ' + v if k in out else v
        return resp.status, out, body
    finally:
        conn.close()


def fire(targets, n, threads=50, timeout=20):
    """n GET requests sent at once by `threads` threads, each request on a new connection.
    targets: (port, path, headers) tuples used round robin. Returns one (status, t_sent,
    t_done) per request, times from time.monotonic(); status 0 when the connection failed."""
    raw = [('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n' % (
        path, ''.join('%s: %s\r\n' % kv for kv in (headers or {}).items()))).encode()
        for _, path, headers in targets]
    ports = [t[0] for t in targets]
    results = [None] * n
    start = threading.Barrier(threads)

    def one(i):
        t_sent = time.monotonic()
        status = 0
        try:
            with socket.create_connection(('127.0.0.1', ports[i % len(ports)]), timeout=timeout) as s:
                s.sendall(raw[i % len(raw)])
                data = b''
                while b'\r\n' not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                while s.recv(65536):
                    pass
            status = int(data.split(b' ', 2)[1])
        except (OSError, ValueError, IndexError):
            pass
        results[i] = (status, t_sent, time.monotonic())

    def worker(w):
        start.wait()
        for i in range(w, n, threads):
            one(i)
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


# ---------------------------------------------------------------- keys and tokens

APIKEY = re.compile(r'^pk_([A-Za-z0-9]{12})_([A-Za-z0-9]{32})_([A-Za-z0-9]{6})$')
_B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'


def apikey_with_check(body):
    """body ("pk_<id>_<secret>") plus its check: CRC-32 in 6 base-62 digits."""
    import zlib
    v = zlib.crc32(body.encode())
    digits = ''
    for _ in range(6):
        digits = _B62[v % 62] + digits
        v //= 62
    return body + '_' + digits

def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def static_key_line(key, name, scopes):
    return 'ProfileAPIKey %s %s %s' % (sha256_hex(key), name, ' '.join(scopes))


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def jwt_decode(token):
    """(header, claims) of a JWT, without verifying anything."""
    h, p = token.split('.')[:2]
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


_HMAC = {'HS256': hashlib.sha256, 'HS384': hashlib.sha384, 'HS512': hashlib.sha512}


def jwt_hs(claims, secret, alg='HS256', header=None):
    """A JWT signed with HMAC (alg HS256/384/512) under secret (str or bytes)."""
    header = header if header is not None else {'alg': alg, 'typ': 'JWT'}
    if isinstance(secret, str):
        secret = secret.encode()
    signing_input = b64url(json.dumps(header, separators=(',', ':'))) + '.' + \
        b64url(json.dumps(claims, separators=(',', ':')))
    sig = hmac.new(secret, signing_input.encode(), _HMAC[alg]).digest()
    return signing_input + '.' + b64url(sig)


def jwt_unsigned(claims, alg='none'):
    header = {'alg': alg, 'typ': 'JWT'}
    return b64url(json.dumps(header)) + '.' + b64url(json.dumps(claims)) + '.'


def jwt_rs256(claims, private_pem, header=None):
    """A JWT signed RS256 with the PEM private key file private_pem (openssl dgst)."""
    header = header if header is not None else {'alg': 'RS256', 'typ': 'JWT'}
    signing_input = b64url(json.dumps(header, separators=(',', ':'))) + '.' + \
        b64url(json.dumps(claims, separators=(',', ':')))
    p = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', private_pem],
                       input=signing_input.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, check=True)
    return signing_input + '.' + b64url(p.stdout)


def openssl_keypair(directory, kind):
    """(private.pem, public.pem) of a fresh RSA 2048 ('rsa') or P-256 ('ec') key pair."""
    os.makedirs(directory, exist_ok=True)
    priv = os.path.join(directory, '%s-private.pem' % kind)
    pub = os.path.join(directory, '%s-public.pem' % kind)
    if kind == 'rsa':
        gen = ['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
    else:
        gen = ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    subprocess.run(gen + ['-out', priv], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(['openssl', 'pkey', '-in', priv, '-pubout', '-out', pub], check=True,
                   timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(priv, 0o644)           # httpd reads it as root at start; children never need it
    return priv, pub


class ProfileEnv:
    """Everything one test session runs: PostgreSQL, httpd servers, Redis servers."""

    def __init__(self):
        for f in (os.path.join(BUILD, 'mod_profile.so'), PROFILECTL):
            if not (os.path.isfile(f) and os.access(f, os.R_OK)):
                raise RuntimeError('%s is missing: run `make` (or ./dev test) first' % f)
        self.base = tempfile.mkdtemp(prefix='profile-it-')
        # The postgres user (PostgreSQL) and www-data (httpd children) must reach their files.
        os.chmod(self.base, 0o755)
        self.started = []          # running HttpdServer objects
        self.servers = []          # every HttpdServer made this session
        self.redis_servers = []
        self.allowed = []          # regexes of error log lines the running test expects
        self.pg = PgServer(self.base)
        self.server = None
        self.mpm = os.environ.get('MPM', 'event')
        self.closed = False
        self.shared_redis = None
        # HS256 secret of every test server this session (>= 32 bytes, fresh per session).
        self.jwt_secret = secrets.token_urlsafe(48)
        self._names = itertools.count(1)
        self._tag = secrets.token_hex(2)
        self._admin = None

    def setup(self):
        self.pg.init()
        self.pg.start()
        self.pg.create_database('profile')
        self.migrate(self.pg.conninfo())
        self.server = self.httpd('main', mpm=self.mpm)
        self.server.start()

    def migrate(self, conninfo):
        p = _run([PROFILECTL, '--database', conninfo,
                  '--sql-dir', os.path.join(REPO, 'sql'), 'migrate'])
        if p.returncode != 0:
            raise RuntimeError('profilectl migrate failed (%d):\n%s' % (p.returncode, p.stdout))
        return p.stdout

    def profilectl(self, *args, timeout=120):
        return _run([PROFILECTL] + list(args), timeout=timeout)

    def httpd(self, name, **kw):
        """A new (not yet started) server with its own root; names must be unique per session."""
        s = HttpdServer(self, name, **kw)
        self.servers.append(s)
        return s

    def redis(self, name, password=None):
        r = RedisServer(self.base, name, password)
        self.redis_servers.append(r)
        return r

    # ------------------------------------------------------------ accounts

    def unique(self, prefix='u'):
        """A username no other test of this session uses (3..32 characters)."""
        return '%s%s%d' % (prefix, self._tag, next(self._names))

    def new_user(self, role='user', login=True, server=None, password=None, prefix='u'):
        """A fresh account: registered through the API (role user), created with profilectl
        (admin) or registered and then changed by the session admin (readonly)."""
        name = self.unique(prefix)
        u = User(self, name, '%s@example.com' % name, password or 'Pw-%s-%s' % (secrets.token_hex(6), 'x'),
                 role, server)
        if role == 'admin':
            self.cli_add_user(u.username, u.email, u.password, admin=True)
        else:
            r = u.server.call('POST', '/auth/register',
                              body={'username': u.username, 'email': u.email, 'password': u.password})
            if r.status_code != 201:
                raise AssertionError('register %s: %d %s' % (name, r.status_code, r.text))
            u.id = r.json()['id']
            if role != 'user':
                r = self.admin.call('PATCH', '/users/%d' % u.id, body={'role': role})
                if r.status_code != 200:
                    raise AssertionError('PATCH role of %s: %d %s' % (name, r.status_code, r.text))
        if login:
            u.login()
        return u

    @property
    def admin(self):
        """The session's admin (made with profilectl on first use)."""
        if self._admin is None:
            self._admin = self.new_user('admin', prefix='adm')
        return self._admin

    def cli_add_user(self, username, email, password, admin=False, extra=()):
        """`profilectl user add` with the password on stdin; returns the finished process."""
        cmd = [PROFILECTL, '--database', self.pg.conninfo(), 'user', 'add',
               '--username', username, '--email', email, '--password-stdin'] + list(extra)
        if admin:
            cmd.insert(5, '--admin')
        p = subprocess.run(cmd, input=password + '\n', stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        if p.returncode != 0 and not extra:
            raise RuntimeError('profilectl user add failed (%d):\n%s' % (p.returncode, p.stdout))
        return p

    def generate_key(self, auth, server=None, **body):
        """POST /auth/api-keys/generate (raising unless 201); returns the answer's JSON."""
        body.setdefault('name', self.unique('key'))
        r = (server or self.server).call('POST', '/auth/api-keys/generate', auth=auth, body=body)
        if r.status_code != 201:
            raise AssertionError('generate key: %d %s' % (r.status_code, r.text))
        return r.json()

    def sql(self, query, *params):
        """Rows of one statement on the session database (as the database owner)."""
        import psycopg
        with psycopg.connect(self.pg.conninfo(), autocommit=True) as c:
            cur = c.execute(query, params)
            return cur.fetchall() if cur.description else []

    # Shortcuts to the session server, pyhttpd style.
    def get(self, path, headers=None, **kw):
        return self.server.get(path, headers=headers, **kw)

    def graceful(self):
        self.server.graceful()

    def apachectl_t(self, extra_conf):
        return self.server.apachectl_t(extra_conf)

    def error_log_mark(self):
        return self.server.error_log_mark()

    def error_log_since(self, mark):
        return self.server.error_log_since(mark)

    def redis_start(self):
        """Starts (making it on first use) the session's private Redis; returns it."""
        if self.shared_redis is None:
            self.shared_redis = self.redis('redis')
        self.shared_redis.start()
        return self.shared_redis

    def redis_stop(self):
        if self.shared_redis is not None:
            self.shared_redis.stop()

    def pg_stop(self):
        self.pg.stop()

    def pg_start(self):
        self.pg.start()

    def expect_errors(self, *patterns):
        """Error log lines matching any of patterns do not fail the running test."""
        self.allowed.extend(re.compile(p) for p in patterns)

    def unexpected_lines(self, text, allowed=None):
        allowed = self.allowed if allowed is None else allowed
        bad = []
        for line in text.splitlines():
            if not BAD_LINE.search(line):
                continue
            if not CRASH_LINE.search(line) and any(p.search(line) for p in allowed):
                continue
            bad.append(line)
        return bad

    def close(self):
        """Stops everything; returns error messages instead of raising so all gets stopped."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        for s in list(self.started):
            try:
                s.stop()
            except Exception as e:      # keep stopping the others
                problems.append(str(e))
        for r in self.redis_servers:
            try:
                r.stop()
            except Exception as e:
                problems.append(str(e))
        try:
            self.pg.stop()
        except Exception as e:
            problems.append(str(e))
        # Shutdown must not crash or hang either (earlier lines were checked test by test).
        for s in self.servers:
            for line in s.error_log_since(s.checked).splitlines():
                if CRASH_LINE.search(line) or re.search(r'AH0004[56]', line):
                    problems.append('%s: %s' % (s.name, line))
        if not os.environ.get('PROFILE_KEEP_TMP'):
            shutil.rmtree(self.base, ignore_errors=True)
        return problems


class JsonBackend:
    """A loopback HTTP server standing in for a backend or the sidecar: answer(path, headers)
    gives (status, JSON-able body) for every GET; the paths asked for are kept in .paths."""

    def __init__(self, answer):
        self.paths = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):
                backend.paths.append(self.path)
                status, obj = answer(self.path, self.headers)
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- profiles and the fake TikTok

PROFILE_FIELDS = {'username', 'user_id', 'nickname', 'bio', 'verified', 'private', 'avatar',
                  'stats', 'fetched_at', 'expires_at', 'stale'}
AVATAR_FIELDS = {'url', 'source', 'thumb', 'medium', 'large'}
STATS_FIELDS = {'followers', 'following', 'likes', 'videos'}
ISO_SECONDS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
PROFILE_ETAG = re.compile(r'^"([0-9a-f]{16})(-s)?"$')


def tiktok_web():
    """test/fakes/tiktok_web.py as a module (FakeTikTok, expected_profile)."""
    import importlib.util
    import sys
    mod = sys.modules.get('tiktok_web')
    if mod is None:
        spec = importlib.util.spec_from_file_location(
            'tiktok_web', os.path.join(REPO, 'test', 'fakes', 'tiktok_web.py'))
        mod = importlib.util.module_from_spec(spec)
        sys.modules['tiktok_web'] = mod
        spec.loader.exec_module(mod)
    return mod


def start_fake_tiktok(**kw):
    """A running FakeTikTok on a free loopback port (kw: slow=, delay= seconds)."""
    return tiktok_web().FakeTikTok(**kw).start()


def expected_tiktok_user(name):
    """What the fake's page of name says, in the API's terms (see tiktok_web.expected_profile)."""
    return tiktok_web().expected_profile(name)


def profile_conf(fake, timeout=1, extra=''):
    """Directives pointing a server's scraper at fake, plus extra (one directive per line,
    indentation ignored)."""
    lines = ['ProfileTikTokBaseURL %s' % fake.url, 'ProfileScrapeTimeout %d' % timeout]
    lines += [line.strip() for line in extra.splitlines() if line.strip()]
    return '\n'.join(lines) + '\n'


def tiktok_name(env, prefix='pf'):
    """A TikTok username no other test of the session uses, starting with prefix (which picks
    the fake's scenario, e.g. 'delay_'); lower case, so it is its own canonical form."""
    name = env.unique(prefix)
    assert re.match(r'^[a-z0-9_.]{2,24}$', name), 'not a valid TikTok name: %r' % name
    return name


def get_profile(server, name, headers=None, auth=STATIC_READER[0]):
    """GET /profile/<name> with the reader key."""
    return server.call('GET', '/profile/' + name, auth=auth, headers=headers)


def timed_profile(server, name, headers=None, auth=STATIC_READER[0]):
    """(response, seconds it took) of GET /profile/<name>."""
    t0 = time.monotonic()
    r = get_profile(server, name, headers=headers, auth=auth)
    return r, time.monotonic() - t0


def iso_epoch(text):
    """Seconds since the epoch of an ISO 8601 UTC time such as 2026-11-24T10:00:00Z."""
    import calendar
    assert isinstance(text, str) and ISO_SECONDS.match(text), 'not an ISO UTC time: %r' % (text,)
    return calendar.timegm(time.strptime(text, '%Y-%m-%dT%H:%M:%SZ'))


def check_profile_shape(j):
    """The answer has exactly the documented fields; returns j."""
    assert set(j) == PROFILE_FIELDS, 'profile fields: %s' % sorted(j)
    assert set(j['avatar']) == AVATAR_FIELDS, j['avatar']
    assert isinstance(j['stats'], dict) and set(j['stats']) == STATS_FIELDS, j['stats']
    iso_epoch(j['fetched_at'])
    iso_epoch(j['expires_at'])
    assert iso_epoch(j['expires_at']) > iso_epoch(j['fetched_at']) - 1, j
    assert isinstance(j['stale'], bool), j
    return j


def check_scraped(j, name, source='scraper'):
    """j is the fake's profile of name, as the scraper tier gives it."""
    check_profile_shape(j)
    want = expected_tiktok_user(name)
    for k in ('username', 'user_id', 'nickname', 'bio', 'verified', 'private', 'stats'):
        assert j[k] == want[k], '%s: got %r, the page says %r' % (k, j[k], want[k])
    if source == 'scraper':
        a = want['avatar']
        assert j['avatar'] == {'url': a['large'], 'source': 'scraper', 'thumb': a['thumb'],
                               'medium': a['medium'], 'large': a['large']}, j['avatar']


def fallback_avatar(name, source='generator', public_url=''):
    """The avatar object of the generator or initials tier for name."""
    kind = 'generated' if source == 'generator' else 'initials'
    url = '%s/avatars/%s/%s.svg?size=%%d' % (public_url, kind, name)
    return {'url': url % 1080, 'source': source, 'thumb': url % 100, 'medium': url % 720,
            'large': url % 1080}


def check_fallback(j, name, source='generator', public_url=''):
    """j is an answer made without the scraper: generated avatar, every TikTok field null."""
    check_profile_shape(j)
    assert j['avatar'] == fallback_avatar(name, source, public_url), j['avatar']
    assert j['username'] == name, j
    for k in ('user_id', 'nickname', 'bio', 'verified', 'private'):
        assert j[k] is None, '%s should be null without the scraper: %r' % (k, j)
    assert all(v is None for v in j['stats'].values()), 'stats should be null: %r' % j['stats']


def cache_stats(server, path='/cache/stats'):
    """GET /cache/stats with the admin key (raising unless 200); the JSON."""
    r = server.call('GET', path, auth=STATIC_ADMIN[0])
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def hard_restart(server, timeout=30):
    """A restart that kills the children instead of draining them (SIGHUP to the parent, what
    `apache2 -k restart` sends); returns once the new generation answers."""
    before = server.generation_count()
    os.kill(server.pid, signal.SIGHUP)
    if not _wait(lambda: server.generation_count() > before, timeout):
        raise RuntimeError('httpd %s did not restart:\n%s' % (server.name, server.log_tail()))
    if not server.wait_answering(timeout):
        raise RuntimeError('httpd %s does not answer after restart:\n%s'
                           % (server.name, server.log_tail()))


def concurrent_gets(ports, path, n, headers=None, timeout=30):
    """n GETs of path released at the same moment by n threads, each on a connection of its
    own, sent to ports in turn; one (status, headers, body) per request, status 0 when the
    connection failed."""
    results = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        gate.wait()
        try:
            results[i] = http_get(ports[i % len(ports)], path, headers, timeout=timeout)
        except OSError as e:
            results[i] = (0, {}, repr(e).encode())
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
