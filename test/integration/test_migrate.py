"""`profilectl migrate`: in order, once, safe to repeat and to run twice at once."""
import glob
import os
import shutil
import subprocess
import tempfile

from profile_env import PROFILECTL, REPO, free_port, schema_version

SQL_DIR = os.path.join(REPO, 'sql')


def migrations():
    return sorted(int(os.path.basename(f)[:3]) for f in glob.glob(os.path.join(SQL_DIR, '[0-9][0-9][0-9]_*.sql')))


def applied(env, db):
    out = env.pg.psql('SELECT version FROM schema_migrations ORDER BY version', dbname=db)
    return [int(v) for v in out.split()]


def test_migrate_is_idempotent(env):
    env.pg.create_database('mig_twice')
    env.migrate(env.pg.conninfo('mig_twice'))
    first = env.pg.psql('SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1', dbname='mig_twice')
    env.migrate(env.pg.conninfo('mig_twice'))
    assert env.pg.psql('SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1',
                       dbname='mig_twice') == first
    assert applied(env, 'mig_twice') == migrations()
    assert max(migrations()) == schema_version()


def test_two_migrations_at_once(env):
    env.pg.create_database('mig_race')
    cmd = [PROFILECTL, '--database', env.pg.conninfo('mig_race'),
           '--sql-dir', SQL_DIR, 'migrate']
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert applied(env, 'mig_race') == migrations()


def test_changed_migration_is_refused(env):
    env.pg.create_database('mig_changed')
    tmp = tempfile.mkdtemp(prefix='profile-sql-')
    try:
        sql = os.path.join(tmp, 'sql')
        shutil.copytree(SQL_DIR, sql)
        env.migrate(env.pg.conninfo('mig_changed'))
        first = sorted(glob.glob(os.path.join(sql, '[0-9][0-9][0-9]_*.sql')))[0]
        with open(first, 'a') as f:
            f.write('\n-- an edit after the file was applied\nSELECT 1;\n')
        p = env.profilectl('--database', env.pg.conninfo('mig_changed'), '--sql-dir', sql, 'migrate')
        assert p.returncode != 0, p.stdout
        assert os.path.basename(first)[:3] in p.stdout or os.path.basename(first) in p.stdout, p.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unreachable_database_fails_fast(env):
    p = env.profilectl('--database', 'host=127.0.0.1 port=%d dbname=x user=profile connect_timeout=5' % free_port(),
                       '--sql-dir', SQL_DIR, 'migrate', timeout=30)
    assert p.returncode != 0
    assert p.stdout.strip(), 'profilectl failed without saying why'
