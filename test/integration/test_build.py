"""The build as users get it: a current configure, and `make install` into DESTDIR."""
import filecmp
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from profile_env import APACHE2, APACHE_MODULES, REPO


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix='profile-build-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(cmd, cwd, timeout=600):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout)


def test_committed_configure_is_current(tmpdir_):
    if shutil.which('autoconf') is None:
        pytest.fail('autoconf is not installed (Debian package autoconf); ./dev test installs it')
    shutil.copy(os.path.join(REPO, 'configure.ac'), tmpdir_)
    for extra in ('aclocal.m4', 'm4'):
        src = os.path.join(REPO, extra)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(tmpdir_, extra))
        elif os.path.exists(src):
            shutil.copy(src, tmpdir_)
    p = run(['autoconf', '-o', os.path.join(tmpdir_, 'configure'), 'configure.ac'], tmpdir_)
    assert p.returncode == 0, p.stdout
    assert filecmp.cmp(os.path.join(REPO, 'configure'), os.path.join(tmpdir_, 'configure'), shallow=False), \
        'configure is stale: run autoconf and commit the result'


def find(root, name):
    return [p for p in glob.glob(os.path.join(root, '**', name), recursive=True)]


def test_make_install_destdir(tmpdir_):
    dest = os.path.join(tmpdir_, 'dest')
    p = run(['make', 'install', 'DESTDIR=' + dest], REPO)
    assert p.returncode == 0, p.stdout

    modules = find(dest, 'mod_profile.so')
    assert [os.path.dirname(m) for m in modules] == [dest + APACHE_MODULES], modules
    ctl = find(dest, 'profilectl')
    assert len(ctl) == 1 and os.access(ctl[0], os.X_OK), ctl
    assert '/sbin/' in ctl[0] or '/bin/' in ctl[0], ctl

    migrations = sorted(os.path.basename(f) for f in glob.glob(os.path.join(REPO, 'sql', '[0-9]*.sql')))
    installed = find(dest, '001_*.sql')
    assert len(installed) == 1, installed
    sql_dir = os.path.dirname(installed[0])
    assert sorted(os.listdir(sql_dir)) == migrations

    confs = find(dest, 'mod_profile.conf')
    assert confs, 'the reference configuration was not installed'
    assert find(dest, 'README.md'), 'the README was not installed'
    docs = [os.path.basename(f) for f in glob.glob(os.path.join(REPO, 'docs', '*.md'))]
    for d in docs:
        assert find(dest, d), '%s was not installed' % d

    # The installed module loads into httpd.
    conf = os.path.join(tmpdir_, 'load.conf')
    with open(conf, 'w') as f:
        f.write('ServerRoot "%s"\nDefaultRuntimeDir "%s"\nPidFile "%s/pid"\nServerName localhost\n'
                'Listen 127.0.0.1:1\nErrorLog "%s/error_log"\n'
                'LoadModule mpm_event_module %s/mod_mpm_event.so\n'
                'LoadModule profile_module "%s"\n'
                % (tmpdir_, tmpdir_, tmpdir_, tmpdir_, APACHE_MODULES, modules[0]))
    p = run([APACHE2, '-t', '-f', conf], tmpdir_, timeout=60)
    assert p.returncode == 0 and 'Syntax OK' in p.stdout, p.stdout
