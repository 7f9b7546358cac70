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

# More static keys, known to every server that fronts a sidecar (HttpdServer(sidecar=…)).
LIVE_KEY = ('static-live-key-0123456789abcdef', 'live',
            ('sessions:read', 'sessions:write', 'comments:read'))
LIVE_COMMENTS = ('static-comments-key-0123456789abcdef', 'comments', ('comments:read',))
LIVE_COMMENTS2 = ('static-comments2-key-0123456789abcdef', 'comments2', ('comments:read',))
LIVE_SESSIONS_READ = ('static-sessions-key-0123456789abcdef', 'sessions', ('sessions:read',))
LIVE_STATIC_KEYS = (LIVE_KEY, LIVE_COMMENTS, LIVE_COMMENTS2, LIVE_SESSIONS_READ)
# The sidecar binary (flags --config PATH --foreground --check-config).
PROFILE_LIVE = os.environ.get('PROFILE_LIVE', os.path.join(BUILD, 'profile-live'))

# Lines that fail a test when they show up in an error log while it runs.
BAD_LINE = re.compile(
    r'\[[\w.-]*:(error|crit|alert|emerg)\]'
    r'|Segmentation fault|exit signal|AH00045|AH00046|AH00060'
    r'|double free|corrupted|AddressSanitizer')
# Crash lines are never acceptable, whatever a test allows.
CRASH_LINE = re.compile(r'Segmentation fault|exit signal|AH00060|double free|corrupted')
# The same for the sidecar's log ("2026-11-24T10:00:00.123Z [error] message").
LIVE_BAD_LINE = re.compile(r'\[(error|crit|alert|emerg|fatal)\]'
                           r'|Segmentation fault|double free|corrupted|AddressSanitizer|Assertion')


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
                 auth_conf=True, modules=(), sidecar=None, ws_max_per_key=None, ws_conf='',
                 sidecar_secret_file=None, static_keys=()):
        """jwt_secret: True for the session's secret, a string for another one, None for no
        HS256 secret (e.g. when extra_conf configures RS256). auth_conf: the test defaults
        (registration open, 8-byte passwords, the repo's blocklist, the static keys).
        modules: more httpd modules to load, e.g. ('proxy', 'proxy_http').
        sidecar: a SidecarServer (or any object with .port, or a port number) to front: loads
        mod_proxy, mod_proxy_http and mod_proxy_wstunnel, sets ProfileSidecar (unless
        sidecar_url says otherwise) and ProfileSidecarSecretFile (sidecar_secret_file, by default
        the session's shared secret) and adds the <Location /ws/> of docs/live-sessions.md with
        ProfileWebSocketMaxPerKey ws_max_per_key (unset: the module's default) and ws_conf
        inside it; servers with a sidecar also know LIVE_STATIC_KEYS. static_keys: more
        (key, name, scopes) static keys."""
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
        self.static_keys = tuple(static_keys)
        self.sidecar = sidecar
        self.sidecar_port = None
        self.ws_max_per_key = ws_max_per_key
        self.ws_conf = ws_conf
        self.sidecar_secret_file = None
        if sidecar is not None:
            self.sidecar_port = sidecar if isinstance(sidecar, int) else sidecar.port
            self.modules += tuple(m for m in ('proxy', 'proxy_http', 'proxy_wstunnel')
                                  if m not in self.modules)
            if self.sidecar_url is None:
                self.sidecar_url = 'http://127.0.0.1:%d' % self.sidecar_port
            self.sidecar_secret_file = sidecar_secret_file or env.live_secret_file()
            self.static_keys += tuple(k for k in LIVE_STATIC_KEYS if k not in self.static_keys)
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
        lines += [static_key_line(*k) for k in self.static_keys]
        if self.sidecar_port is not None:
            lines += self.ws_location()
        lines += [self.extra_conf, extra]
        return '\n'.join(lines) + '\n'

    def ws_location(self):
        """The sidecar lines of docs/live-sessions.md ("The httpd side"). retry=0: a sidecar
        that was down (killed, restarting) is tried again at once instead of after 60 s."""
        lines = [
            'ProfileSidecarSecretFile "%s"' % self.sidecar_secret_file,
            '<Location /ws/>',
            '    ProxyPass http://127.0.0.1:%d/ws/ upgrade=websocket retry=0' % self.sidecar_port,
            '    AuthType Profile',
            # 403, not httpd's default 401, for a credential without comments:read
            '    AuthzSendForbiddenOnFailure On',
            '    Require profile-scope comments:read',
            '    ProfileWebSocket On',
        ]
        if self.ws_max_per_key is not None:
            lines.append('    ProfileWebSocketMaxPerKey %d' % self.ws_max_per_key)
        lines += ['    ' + line.strip() for line in self.ws_conf.splitlines() if line.strip()]
        lines.append('</Location>')
        return lines

    def ws_url(self, session_id, **query):
        """ws://127.0.0.1:<port>/ws/comments/<session_id>[?query] (None values left out)."""
        return _ws_url(self.port, session_id, query)

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


def _ws_url(port, session_id, query):
    from urllib.parse import urlencode
    q = urlencode([(k, v) for k, v in query.items() if v is not None])
    return 'ws://127.0.0.1:%d/ws/comments/%s%s' % (port, session_id, '?' + q if q else '')


# Settings of every test sidecar unless a test says otherwise: short heartbeats and drains so
# the live tests stay fast (conf/profile-live.conf documents each key).
LIVE_TEST_SETTINGS = {
    'log_level': 'info',
    'replay_speed': 1,
    'replay_loop': False,
    'lease': 5,
    'heartbeat': 1,
    'batch_interval_ms': 20,
    'batch_max_events': 500,
    'inbox_max_events': 20000,
    'session_buffer': 4096,
    'client_queue': 1024,
    'client_send_buffer': 65536,
    'ping_interval': 30,
    'max_sessions': 100,
    'max_clients': 1000,
    'history_batch': 1000,
    'drain_timeout': 5,
    'db_timeout_ms': 3000,
}


class SidecarServer:
    """One profile-live with its own directory (config, log, pid file), run in the foreground
    as our child. Settings are the config file's keys (LIVE_TEST_SETTINGS, overridden per
    sidecar); sidecar_id defaults to the name, so a restart resumes the sidecar's sessions."""

    def __init__(self, env, name, database=None, sidecar_id=None, port=None, secret_file=None,
                 replay_dir=None, **settings):
        self.env = env
        self.name = name
        self.root = os.path.join(env.base, name)
        os.makedirs(self.root, exist_ok=True)
        self.port = port or free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.database = database or env.pg.conninfo()
        self.sidecar_id = sidecar_id or name
        self.secret_file = secret_file or env.live_secret_file()
        self.replay_dir = replay_dir or env.replay_dir()
        self.conf_path = os.path.join(self.root, 'profile-live.conf')
        self.log_file = os.path.join(self.root, 'profile-live.log')
        self.pid_file = os.path.join(self.root, 'profile-live.pid')
        self.stderr_path = os.path.join(self.root, 'stderr.log')
        self.settings = dict(LIVE_TEST_SETTINGS)
        self.settings.update(settings)
        self.proc = None
        self.checked = 0           # log offset up to which the per-test check has run
        self.write_conf()

    # ------------------------------------------------------------ configuration

    @staticmethod
    def _value(v):
        if isinstance(v, bool):
            return 'yes' if v else 'no'
        return str(v)

    def conf_text(self):
        lines = [
            '# Written by test/integration/profile_env.py for the test sidecar %s.' % self.name,
            'listen = 127.0.0.1:%d' % self.port,
            'database = "%s"' % self.database,
            'secret_file = %s' % self.secret_file,
            'pid_file = %s' % self.pid_file,
            'log_file = %s' % self.log_file,
            'sidecar_id = %s' % self.sidecar_id,
            'replay_dir = %s' % self.replay_dir,
        ]
        lines += ['%s = %s' % (k, self._value(v)) for k, v in self.settings.items()]
        return '\n'.join(lines) + '\n'

    def write_conf(self):
        with open(self.conf_path, 'w') as f:
            f.write(self.conf_text())

    def check_config(self, text=None):
        """`profile-live --check-config` of this sidecar's file (or of text instead):
        (exit code, output)."""
        path = self.conf_path
        if text is not None:
            path = os.path.join(self.root, 'check.conf')
            with open(path, 'w') as f:
                f.write(text)
        p = _run([self.env.live_bin(), '--check-config', '--config', path], timeout=30)
        return p.returncode, p.stdout

    # ------------------------------------------------------------ the process

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def exited_by_itself(self):
        """The exit status when the process ended without being told to (None otherwise)."""
        if self.proc is not None and self.proc.poll() is not None:
            return self.proc.returncode
        return None

    def start(self, timeout=20, **settings):
        """Starts it (with settings changed first, if any) and waits until /health answers."""
        if self.running():
            raise RuntimeError('sidecar %s runs already' % self.name)
        binary = self.env.live_bin()
        if settings:
            self.settings.update(settings)
        self.write_conf()
        with open(self.stderr_path, 'ab') as err:
            self.proc = subprocess.Popen([binary, '--config', self.conf_path, '--foreground'],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        if self not in self.env.sidecars:
            self.env.sidecars.append(self)

        def up():
            if self.proc.poll() is not None:
                return True
            try:
                return requests.get(self.url + '/health', timeout=1).status_code == 200
            except requests.RequestException:
                return False
        _wait(up, timeout, 0.05)
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = None
            raise RuntimeError('sidecar %s exited at start (status %s):\n%s' % (self.name, code, self.log_tail()))
        if not up():
            self.kill9()
            raise RuntimeError('sidecar %s does not answer /health on %s:\n%s' % (self.name, self.url, self.log_tail()))
        return self

    def wait_exit(self, timeout):
        """The exit status once the process ended within timeout s, else None."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Sends sig (SIGTERM: drain) and waits up to timeout s (default drain_timeout + 5);
        returns the exit status. A sidecar that does not stop in time is killed and this
        raises."""
        if self.proc is None:
            return None
        if timeout is None:
            timeout = int(self.settings.get('drain_timeout', 10)) + 5
        proc = self.proc
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        code = self.wait_exit(timeout)
        self.proc = None
        if code is None:
            proc.kill()
            proc.wait(10)
            raise RuntimeError('sidecar %s (pid %d) did not exit within %d s of signal %d:\n%s'
                               % (self.name, proc.pid, timeout, sig, self.log_tail()))
        return code

    def kill9(self):
        """SIGKILL, as a crash would end it; returns once it is gone."""
        return self.stop(signal.SIGKILL, timeout=10)

    def restart(self, sig=signal.SIGTERM, **settings):
        """Stops it with sig (when running) and starts it again with the same config (and
        port, id, database), settings changed first."""
        if self.running():
            self.stop(sig)
        return self.start(**settings)

    # ------------------------------------------------------------ HTTP and logs

    def health(self, timeout=5):
        """GET /health (raising unless 200): {"status","sidecar_id","sessions","clients"}."""
        r = requests.get(self.url + '/health', timeout=timeout)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def ws_url(self, session_id, **query):
        """The sidecar's own URL of a stream (no httpd in front)."""
        return _ws_url(self.port, session_id, query)

    def log_mark(self):
        try:
            return os.path.getsize(self.log_file)
        except OSError:
            return 0

    def log_since(self, mark):
        try:
            with open(self.log_file, 'rb') as f:
                f.seek(mark)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_text(self):
        return self.log_since(0)

    def stderr_text(self):
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_tail(self, n=30):
        text = self.log_text().splitlines(True)[-n:]
        err = self.stderr_text().splitlines(True)[-n:]
        return ''.join(text) + (('--- stderr:\n' + ''.join(err)) if err else '')


class LivePair:
    """An httpd fronting one of its sidecars, with sessions in one database; helpers for the
    session endpoints (default credentials: LIVE_KEY, which holds sessions:read/write and
    comments:read)."""

    def __init__(self, env, httpd, sidecars, database):
        self.env = env
        self.httpd = httpd
        self.sidecars = sidecars
        self.database = database

    @property
    def sidecar(self):
        return self.sidecars[0]

    def sql(self, query, *params):
        """Rows of one statement on the pair's database."""
        import psycopg
        with psycopg.connect(self.database, autocommit=True) as c:
            cur = c.execute(query, params)
            return cur.fetchall() if cur.description else []

    def stop(self):
        problems = []
        try:
            self.httpd.stop()
        except Exception as e:
            problems.append(str(e))
        for s in self.sidecars:
            try:
                s.stop()
            except Exception as e:
                problems.append(str(e))
        return problems

    # ------------------------------------------------------------ the API

    def call(self, method, path, body=None, auth=LIVE_KEY[0], **kw):
        return self.httpd.call(method, path, auth=auth, body=body, **kw)

    def connect(self, username, recording=None, speed=None, loop=None, session_id=None,
                source='replay', options=None, auth=LIVE_KEY[0]):
        """POST /connect; options from recording/speed/loop unless options is given."""
        body = {'username': username, 'source': source}
        if options is None:
            options = {k: v for k, v in (('recording', recording), ('speed', speed), ('loop', loop))
                       if v is not None}
        if options:
            body['options'] = options
        if session_id is not None:
            body['session_id'] = session_id
        return self.call('POST', '/connect', body=body, auth=auth)

    def start(self, recording='mix300', speed=1, loop=False, session_id=None, username=None):
        """A new replay session (asserting 202); returns its id."""
        r = self.connect(username or self.env.unique('lv'), recording, speed, loop, session_id)
        assert r.status_code == 202, (r.status_code, r.text)
        return r.json()['session_id']

    def disconnect(self, session_id, auth=LIVE_KEY[0]):
        return self.call('POST', '/disconnect', body={'session_id': session_id}, auth=auth)

    def session(self, session_id):
        r = self.call('GET', '/sessions/' + session_id)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def wait_session(self, session_id, predicate, timeout=10):
        """Polls GET /sessions/<id> until predicate(session) holds; returns the session (and
        raises with the last one seen when it never does)."""
        last = [None]

        def check():
            last[0] = self.session(session_id)
            return predicate(last[0])
        if not _wait(check, timeout, 0.1):
            raise AssertionError('session %s: condition not met within %s s: %s' % (session_id, timeout, last[0]))
        return last[0]

    def history(self, session_id, since=0, types=None, limit=1000, auth=LIVE_KEY[0]):
        """Every persisted event after since, following next_since."""
        events = []
        while True:
            q = 'since=%d&limit=%d' % (since, limit) + ('&types=' + types if types else '')
            r = self.call('GET', '/sessions/%s/comments?%s' % (session_id, q), auth=auth)
            assert r.status_code == 200, (r.status_code, r.text)
            j = r.json()
            events += j['events']
            if not j['has_more']:
                return events
            assert j['next_since'] > since, j
            since = j['next_since']

    # ------------------------------------------------------------ streams

    def ws_url(self, session_id, **query):
        return self.httpd.ws_url(session_id, **query)

    def ws(self, session_id, key=LIVE_KEY[0], via_query=False, headers=None, **query):
        """A WebSocket client on /ws/comments/<session_id> through httpd; query: since=,
        types=… (None left out). The key goes in X-API-Key, or in ?api_key= (via_query)."""
        from live_client import WsClient
        h = dict(headers or {})
        if via_query:
            query['api_key'] = key
        elif key:
            h['X-API-Key'] = key
        return WsClient(self.ws_url(session_id, **query), headers=h)


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
        self.sidecars = []         # every SidecarServer made this session
        self.live_secret = None    # bytes of the secret httpd and the sidecars share
        self._live_secret_file = None
        self._replay_dir = None
        self._live_template = None
        self._live_bin = None
        self._dbs = itertools.count(1)

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

    # ------------------------------------------------------------ the live sidecar

    def live_secret_file(self):
        """The secret httpd (ProfileSidecarSecretFile) and the sidecars (secret_file) share:
        64 hex characters, no newline, mode 0600; made on first use."""
        if self._live_secret_file is None:
            d = os.path.join(self.base, 'live')
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, 'secret')
            self.live_secret = secrets.token_hex(32).encode()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as f:
                f.write(self.live_secret)
            self._live_secret_file = path
        return self._live_secret_file

    def live_bin(self):
        """A private copy of build/profile-live (made on first use), so a rebuild while the
        tests run changes no sidecar they start."""
        if self._live_bin is None:
            if not (os.path.isfile(PROFILE_LIVE) and os.access(PROFILE_LIVE, os.X_OK)):
                raise RuntimeError('%s is missing: run `make` (or ./dev test) first' % PROFILE_LIVE)
            d = os.path.join(self.base, 'live')
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, 'profile-live')
            shutil.copy(PROFILE_LIVE, path)
            self._live_bin = path
        return self._live_bin

    def replay_dir(self):
        """The sidecars' replay_dir: the recordings of live_client.RECORDINGS plus the shipped
        ones (sidecar/replay/*.ndjson, e.g. demo.ndjson); made on first use. Tests may add
        their own (live_client.write_recording)."""
        if self._replay_dir is None:
            from live_client import RECORDINGS, recording, write_recording
            d = os.path.join(self.base, 'replay')
            os.makedirs(d, exist_ok=True)
            for f in glob.glob(os.path.join(REPO, 'sidecar', 'replay', '*.ndjson')):
                shutil.copy(f, d)
            for name in RECORDINGS:
                write_recording(d, name, recording(name))
            self._replay_dir = d
        return self._replay_dir

    def live_database(self):
        """A fresh, migrated database of its own (copied from a template migrated once):
        its conninfo. Live tests use one per server pair, so their sessions, sidecars and
        counts never meet another test's."""
        if self._live_template is None:
            self.pg.create_database('live_template')
            self.migrate(self.pg.conninfo('live_template'))
            self._live_template = 'live_template'
        name = 'live_%d' % next(self._dbs)
        self.pg.psql('CREATE DATABASE %s TEMPLATE %s OWNER profile' % (name, self._live_template))
        return self.pg.conninfo(name)

    def sidecar(self, name, **kw):
        """A new (not started) SidecarServer; kw: database=, sidecar_id=, port=, secret_file=,
        replay_dir= and config settings (lease=3, client_queue=64 …)."""
        s = SidecarServer(self, name, **kw)
        self.sidecars.append(s)
        return s

    def live_pair(self, name, sidecars=1, start_sidecars=True, database=None, proxy_to=0,
                  httpd_kw=None, **settings):
        """httpd + sidecars on one database (default: a fresh one, live_database()); httpd
        proxies /ws/ to sidecars[proxy_to]. Sidecars are named <name>-sc<i> (also their
        sidecar_id) and get settings; the ones started (start_sidecars) answer /health,
        httpd answers /healthcheck. The caller stops it (LivePair.stop)."""
        database = database or self.live_database()
        scs = [self.sidecar('%s-sc%d' % (name, i), database=database, **settings) for i in range(sidecars)]
        kw = dict(httpd_kw or {})
        kw.setdefault('mpm', self.mpm)
        h = self.httpd(name, database=database, sidecar=scs[proxy_to], **kw)
        pair = LivePair(self, h, scs, database)
        try:
            if start_sidecars:
                for s in scs:
                    s.start()
            h.start()
        except BaseException:
            pair.stop()
            raise
        return pair

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
        for s in self.sidecars:         # before PostgreSQL, so they can give their leases back
            try:
                s.stop()
            except Exception as e:
                problems.append(str(e))
            for line in s.log_since(s.checked).splitlines() + s.stderr_text().splitlines():
                if CRASH_LINE.search(line) or re.search(r'AddressSanitizer|Assertion', line):
                    problems.append('%s: %s' % (s.name, line))
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


# ---------------------------------------------------------------- the fake TikTok LIVE upstream

TIKTOK_LIVE_FAKE = os.path.join(REPO, 'test', 'fakes', 'tiktok_live.py')
# httpd of a tiktok pair: the live tier, then generated avatars; the scraper is off, so
# GET /profile never leaves the machine.
TIKTOK_PAIR_HTTPD_CONF = 'ProfileAvatarTiers live generator\n'


class FakeTikTokLive:
    """test/fakes/tiktok_live.py run as our child: HTTP on .port (the live page, the room API,
    the sign server and the /_fake/ control endpoints) and the webcast WebSocket on .ws_port.
    The scenario is picked by the username's prefix ("normal_…", "dropper_…"). The sign key is
    fresh per run; .sign_key_file holds it (what the sidecar's sign_api_key_file names) and
    .bad_key_file another key."""

    def __init__(self, base, name='tiktok-live', frame_interval_ms=10, extra_args=()):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.ws_port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.ws_url = 'ws://127.0.0.1:%d' % self.ws_port
        self.frame_interval_ms = frame_interval_ms
        self.extra_args = tuple(extra_args)
        self.sign_key = secrets.token_hex(16)
        self.sign_key_file = self._key_file('sign.key', self.sign_key)
        self.bad_key_file = self._key_file('bad-sign.key', 'wrong-' + secrets.token_hex(13))
        self.log_path = os.path.join(self.dir, 'fake.log')
        self.proc = None

    def _key_file(self, name, key):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(key)
        os.chmod(path, 0o600)
        return path

    # ------------------------------------------------------------ the process

    def command(self):
        import sys
        return [sys.executable, TIKTOK_LIVE_FAKE, '--port', str(self.port),
                '--ws-port', str(self.ws_port), '--sign-key', self.sign_key,
                '--frame-interval', str(self.frame_interval_ms)] + list(self.extra_args)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=15):
        if self.running():
            return self
        if not os.path.isfile(TIKTOK_LIVE_FAKE):
            raise RuntimeError('%s is missing' % TIKTOK_LIVE_FAKE)
        with open(self.log_path, 'ab') as out:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                return True
            try:
                if requests.get(self.url + '/_fake/log', timeout=1).status_code != 200:
                    return False
                with socket.create_connection(('127.0.0.1', self.ws_port), timeout=1):
                    return True
            except (requests.RequestException, OSError):
                return False
        _wait(up, timeout, 0.05)
        if self.proc.poll() is not None:
            code, self.proc = self.proc.returncode, None
            raise RuntimeError('the fake TikTok LIVE exited at start (status %s):\n%s'
                               % (code, self.log_tail()))
        if not up():
            self.stop()
            raise RuntimeError('the fake TikTok LIVE does not answer on %s / port %d:\n%s'
                               % (self.url, self.ws_port, self.log_tail()))
        return self

    def stop(self, timeout=10):
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, 'rb') as f:
                lines = f.read().decode('utf-8', 'replace').splitlines(True)
            return ''.join(lines[-n:])
        except OSError:
            return ''

    # ------------------------------------------------------------ the control endpoints

    def _get(self, path, **params):
        r = requests.get(self.url + path, params=params, timeout=10)
        assert r.status_code == 200, 'GET %s: %d %s' % (path, r.status_code, r.text[:500])
        return r.json()

    def expected(self, user):
        """GET /_fake/expected?user=U: {"user", "room_id", "scenario", "status", "reason",
        "events" (what a client should see after de-duplication, in order, in the streamed
        schema without session_id and offset), "end", "messages", "counts"}."""
        return self._get('/_fake/expected', user=user)

    def log(self):
        """GET /_fake/log: {"rooms": {user: ROOM}, "unmatched": [...]}."""
        return self._get('/_fake/log')

    def room(self, user):
        """GET /_fake/log?user=U: what the fake observed of user's room (ROOM: lookups,
        sign_calls, fetches, connections, enter_room, heartbeats, acks, frames, problems …)."""
        return self._get('/_fake/log', user=user)

    def reset(self):
        """POST /_fake/reset: clears the logs and restores the start-up config."""
        r = requests.post(self.url + '/_fake/reset', timeout=10)
        assert r.status_code in (200, 204), (r.status_code, r.text)

    def configure(self, **changes):
        """POST /_fake/config with changes (e.g. heartbeat_ms=0); returns the whole config."""
        r = requests.post(self.url + '/_fake/config', json=changes, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def configured(self, **changes):
        """A context manager: the fake runs with changes inside, its previous values after."""
        import contextlib

        @contextlib.contextmanager
        def cm():
            before = self.configure()
            self.configure(**changes)
            try:
                yield self
            finally:
                self.configure(**{k: before[k] for k in changes})
        return cm()

    # ------------------------------------------------------------ a sidecar pointed at it

    def settings(self, **over):
        """Sidecar settings (config keys) that point the tiktok source at this fake: www and
        sign server on .url (the fetch result names the fake's push server, so
        tiktok_push_url stays unset), the right key, short timeouts and backoff, 1 s
        heartbeats; over changes or adds keys (a value None leaves the key out)."""
        s = {
            'tiktok_www_url': self.url,
            'sign_url': self.url,
            'sign_api_key_file': self.sign_key_file,
            'tiktok_timeout_ms': 2000,
            'tiktok_heartbeat': 1,
            'tiktok_reconnect_attempts': 3,
            'tiktok_backoff_min_ms': 100,
            'tiktok_backoff_max_ms': 500,
            'tiktok_live_poll': 30,
        }
        s.update(over)
        return {k: v for k, v in s.items() if v is not None}


def tiktok_pair_kw(fake, httpd_kw=None, **settings):
    """The keyword arguments of env.live_pair(name, **…) for a pair whose sidecar captures
    from fake (FakeTikTokLive.settings(**settings)) and whose httpd answers GET /profile from
    the live tier (TIKTOK_PAIR_HTTPD_CONF)."""
    kw = dict(httpd_kw or {})
    kw['extra_conf'] = TIKTOK_PAIR_HTTPD_CONF + kw.get('extra_conf', '')
    return dict(fake.settings(**settings), httpd_kw=kw)


def closed_port_url():
    """http://127.0.0.1:<a port nobody listens on>."""
    return 'http://127.0.0.1:%d' % free_port()


def tiktok_user(env, scenario):
    """A fresh username picking the fake TikTok LIVE's scenario: "<scenario>_<unique>"."""
    return tiktok_name(env, scenario + '_')


def connect_tiktok(pair, user, options=None, expect=202):
    """POST /connect {"username": user, "source": "tiktok"[, "options"]} (asserting expect);
    returns the session id."""
    r = pair.connect(user, source='tiktok', options=options or {})
    assert r.status_code == expect, (r.status_code, r.text)
    return r.json()['session_id']


def drop_waiting(frames):
    """frames without the synthetic `waiting` status a client may see first."""
    out = list(frames)
    while out and out[0].get('type') == 'status' and out[0].get('status') == 'waiting':
        out.pop(0)
    return out


def check_capture(events, expected):
    """events (streamed, without status events) are exactly the fake's expected ones: same
    order, same ids, the same content for every field the fake names."""
    got_ids = [e['id'] for e in events]
    want_ids = [w['id'] for w in expected]
    if got_ids != want_ids:
        dups = sorted({i for i in got_ids if got_ids.count(i) > 1})
        missing = [i for i in want_ids if i not in got_ids]
        extra = [i for i in got_ids if i not in want_ids]
        raise AssertionError('streamed %d events, the fake expects %d; duplicates %s, missing %s, '
                             'unexpected %s' % (len(got_ids), len(want_ids), dups[:10],
                                                missing[:10], extra[:10]))
    for e, w in zip(events, expected):
        for k, v in w.items():
            assert e.get(k) == v, '%s of event %s: streamed %r, the fake sent %r' % (
                k, w['id'], e.get(k), v)
