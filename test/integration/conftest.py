"""pytest fixtures: one ProfileEnv per session, and the error log check after every test."""
import atexit
import os
import re
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from profile_env import LIVE_BAD_LINE, FakeTikTokLive, ProfileEnv, tiktok_pair_kw  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line('markers', 'allow_errors(*regex): error log lines this test expects')


_kept = []


def pytest_terminal_summary(terminalreporter):
    for d in _kept:
        terminalreporter.write_line('PROFILE_KEEP_TMP: server roots and logs kept in %s' % d)


def _terminate(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


@pytest.fixture(scope='session')
def env():
    # A CI timeout's SIGTERM still runs the teardown that stops every server.
    signal.signal(signal.SIGTERM, _terminate)
    e = ProfileEnv()
    if os.environ.get('PROFILE_KEEP_TMP'):
        _kept.append(e.base)
    atexit.register(e.close)
    try:
        e.setup()
    except BaseException:
        e.close()
        raise
    yield e
    problems = e.close()
    if problems:
        pytest.fail('at session end:\n' + '\n'.join(problems), pytrace=False)


@pytest.fixture
def fresh(env):
    """make(name, **server_options) starts a server of the test's own; all are stopped after
    the test."""
    made = []

    def make(name, **kw):
        s = env.httpd('%s-%d' % (name, len(env.servers)), **kw)
        s.start()
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope='module')
def module_server(env):
    """make(name, allow=(regex, …), **server_options) starts a server shared by the tests of
    one module; all are stopped after the module. Lines its start logged are checked right
    away (allow: lines expected at start)."""
    made = []

    def make(name, allow=(), **kw):
        s = env.httpd('%s-%d' % (name, len(env.servers)), **kw)
        s.start()
        made.append(s)
        s.checked = s.error_log_mark()
        bad = env.unexpected_lines(s.error_log_text(), allowed=[re.compile(a) for a in allow])
        if bad:
            pytest.fail('%s logged at start:\n%s' % (s.name, '\n'.join(bad)), pytrace=False)
        return s
    yield make
    for s in made:
        s.stop()


def _live_pairs(env):
    """Yields make(name, **kw) → env.live_pair(...), and stops every pair made afterwards."""
    made = []

    def make(name, **kw):
        p = env.live_pair('%s-%d' % (name, len(env.servers)), **kw)
        made.append(p)
        return p
    yield make
    problems = []
    for p in made:
        problems += p.stop()
    if problems:
        pytest.fail('stopping the live servers:\n' + '\n'.join(problems), pytrace=False)


@pytest.fixture
def live_pair(env):
    """make(name, sidecars=1, start_sidecars=True, database=None, proxy_to=0, httpd_kw=None,
    **sidecar_settings) gives the test an httpd fronting a sidecar of its own (env.live_pair:
    a fresh database unless database= is given); all are stopped after the test."""
    yield from _live_pairs(env)


@pytest.fixture(scope='module')
def module_live_pair(env):
    """The same as live_pair, shared by the tests of one module and stopped after it."""
    yield from _live_pairs(env)


@pytest.fixture(scope='session')
def tiktok_live(env):
    """The fake TikTok LIVE upstream (test/fakes/tiktok_live.py), started once per session."""
    fake = FakeTikTokLive(env.base)
    atexit.register(fake.stop)
    fake.start()
    yield fake
    fake.stop()


def _tiktok_pairs(env, fake):
    """Yields make(name, httpd_kw=None, sidecars=1, …, **sidecar_settings): a live pair whose
    sidecar captures from fake (settings override FakeTikTokLive.settings()); all are stopped
    afterwards."""
    for make in _live_pairs(env):
        def make_tiktok(name, httpd_kw=None, sidecars=1, start_sidecars=True, database=None,
                        **settings):
            return make(name, sidecars=sidecars, start_sidecars=start_sidecars,
                        database=database, **tiktok_pair_kw(fake, httpd_kw, **settings))
        yield make_tiktok


@pytest.fixture
def tiktok_pair(env, tiktok_live):
    """make(name, **sidecar_settings): an httpd + sidecar pair capturing from the fake TikTok
    LIVE, stopped after the test."""
    yield from _tiktok_pairs(env, tiktok_live)


@pytest.fixture(scope='module')
def module_tiktok_pair(env, tiktok_live):
    """The same, shared by the tests of one module."""
    yield from _tiktok_pairs(env, tiktok_live)


@pytest.fixture
def admin(env):
    """The session's admin account (logged in)."""
    return env.admin


@pytest.fixture
def user(env):
    """A fresh account of role user, logged in on the session server."""
    return env.new_user()


@pytest.fixture(autouse=True)
def _error_log_check(request, env):
    """Fails the test on [error]/[crit]/[alert]/[emerg] or crash lines its servers (httpd and
    sidecars) logged, except lines matching the test's allow_errors marker or
    env.expect_errors(), and on a sidecar that exited without being told to."""
    env.allowed = []
    marker = request.node.get_closest_marker('allow_errors')
    if marker:
        env.expect_errors(*marker.args)
    marks = {s: s.error_log_mark() for s in env.servers}
    live_marks = {s: s.log_mark() for s in env.sidecars}
    yield
    bad = []
    for s in env.servers:
        end = s.error_log_mark()
        text = s.error_log_since(marks.get(s, 0))
        s.checked = end
        bad += ['%s: %s' % (s.name, line) for line in env.unexpected_lines(text)]
    # The sidecars' logs likewise ([error] lines), and a sidecar must not exit by itself.
    for s in env.sidecars:
        end = s.log_mark()
        text = s.log_since(live_marks.get(s, 0))
        s.checked = end
        for line in text.splitlines():
            if LIVE_BAD_LINE.search(line) and not any(p.search(line) for p in env.allowed):
                bad.append('%s: %s' % (s.name, line))
        code = s.exited_by_itself()
        if code is not None:
            bad.append('sidecar %s exited by itself with status %s:\n%s' % (s.name, code, s.log_tail()))
            s.proc = None
    env.allowed = []
    if bad:
        pytest.fail('unexpected lines in the error log:\n' + '\n'.join(bad), pytrace=False)
