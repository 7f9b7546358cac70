"""Revalidation jobs: POST /profiles/revalidate queues a refetch of up to 100 profiles, GET
/profiles/revalidate/{job_id} follows it to the end (one item per distinct name, each with its
outcome), input validation, permissions, and a job that outlives a hard restart of httpd.

Every httpd with a database runs revalidation workers that take items of any job in that
database, so these servers use databases of their own: another server's worker (the session
server's scraper points at the real TikTok) must not take these items."""
import re
import time
import uuid

import pytest

from profile_env import (STATIC_ADMIN, STATIC_READER, expect_error, get_profile, hard_restart,
                         profile_conf, start_fake_tiktok, tiktok_name, wait_for)

ADMIN = STATIC_ADMIN[0]
UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
ITEM_FIELDS = {'username', 'status', 'outcome', 'source', 'finished_at'}
JOB_FIELDS = {'job_id', 'created_at', 'finished_at', 'total', 'pending', 'running', 'done',
              'failed', 'items'}


@pytest.fixture(scope='module')
def fake():
    f = start_fake_tiktok(delay=0.5)
    yield f
    f.stop()


def own_database(env):
    name = env.unique('reval')
    env.pg.create_database(name)
    conninfo = env.pg.conninfo(name)
    env.migrate(conninfo)
    return conninfo


def conf(fake):
    return profile_conf(fake, extra='''
        ProfileScrapeBreaker 1000 60
        ProfileCacheTTL 300
        ProfileCacheNegativeTTL 60
    ''')


@pytest.fixture(scope='module')
def srv(env, fake, module_server):
    return module_server('preval', database=own_database(env), extra_conf=conf(fake))


def create(server, usernames, auth=ADMIN):
    return server.call('POST', '/profiles/revalidate', auth=auth, body={'usernames': usernames})


def job(server, job_id):
    r = server.call('GET', '/profiles/revalidate/' + job_id, auth=ADMIN)
    assert r.status_code == 200, (r.status_code, r.text)
    j = r.json()
    assert set(j) >= JOB_FIELDS, j
    for it in j['items']:
        assert set(it) >= ITEM_FIELDS, it
    return j


def wait_finished(server, job_id, timeout):
    last = {}

    def finished():
        last['job'] = job(server, job_id)
        return last['job']['finished_at'] is not None
    assert wait_for(finished, timeout, 0.25), 'job not finished after %d s: %s' % (timeout, last)
    return last['job']


def test_job_runs_every_item(env, fake, srv):
    names = {'ok': tiktok_name(env, 'rv'), 'not_found': tiktok_name(env, 'missing_'),
             'fallback': tiktok_name(env, 'captcha_')}
    for n in names.values():                   # cached before the job: it must fetch anyway
        get_profile(srv, n)
        assert fake.fetches(n) == 1, fake.fetches()
    r = create(srv, list(names.values()))
    assert r.status_code == 202, r.text
    j = r.json()
    assert UUID.match(j['job_id']), j
    assert j['status'] == 'queued' and j['total'] == 3, j
    assert j['job_id'] in j['status_url'], j

    done = wait_finished(srv, j['job_id'], 20)
    assert done['job_id'] == j['job_id']
    assert (done['total'], done['pending'], done['running'], done['done'], done['failed']) == \
        (3, 0, 0, 3, 0), done
    by_name = {it['username']: it for it in done['items']}
    assert set(by_name) == set(names.values()), done
    for outcome, n in names.items():
        it = by_name[n]
        assert it['status'] == 'done' and it['outcome'] == outcome, it
        assert it['finished_at'], it
        assert fake.fetches(n) == 2, 'the job refetched %s: %s' % (n, fake.fetches())
    assert by_name[names['ok']]['source'] == 'scraper', by_name
    assert by_name[names['fallback']]['source'] == 'generator', by_name


def test_duplicates_are_merged(env, fake, srv):
    name = tiktok_name(env, 'rvdup')
    r = create(srv, [name, name.upper(), '@' + name.capitalize()])
    assert r.status_code == 202, r.text
    assert r.json()['total'] == 1, r.json()
    done = wait_finished(srv, r.json()['job_id'], 20)
    assert [it['username'] for it in done['items']] == [name], done
    assert fake.fetches(name) == 1


def test_reader_may_not_revalidate(env, srv):
    expect_error(create(srv, [tiktok_name(env, 'rv')], auth=STATIC_READER[0]), 403, 'forbidden')


def test_needs_credentials(env, srv):
    r = srv.call('POST', '/profiles/revalidate', body={'usernames': ['abc']})
    assert r.status_code == 401, r.text


@pytest.mark.parametrize('body', [
    {'usernames': ['n%03d' % i for i in range(101)]},
    {'usernames': ['fine_name', 'bad-name']},
    {'usernames': ['x']},
    {'usernames': [7]},
    {'usernames': 'abc'},
    {},
])
def test_invalid_requests(env, srv, body):
    r = srv.call('POST', '/profiles/revalidate', auth=ADMIN, body=body)
    j = expect_error(r, 400, 'validation_failed')
    assert 'usernames' in repr(j['details']) or 'usernames' in j['message'], \
        'the error names the field: %s' % j


def test_hundred_names_are_accepted(env, srv):
    tag = tiktok_name(env, 'h')
    r = create(srv, ['%s_%03d' % (tag, i) for i in range(100)])
    assert r.status_code == 202, r.text
    assert r.json()['total'] == 100


@pytest.mark.parametrize('job_id', [str(uuid.uuid4()), 'nope', '1'])
def test_unknown_job(env, srv, job_id):
    expect_error(srv.call('GET', '/profiles/revalidate/' + job_id, auth=ADMIN), 404, 'not_found')


def test_job_survives_hard_restart(env, fake, fresh):
    # A database of its own: the module's server would otherwise finish this job for us.
    s = fresh('prevalrst', database=own_database(env), extra_conf=conf(fake))
    names = [tiktok_name(env, 'delay_') for _ in range(12)]
    r = create(s, names)
    assert r.status_code == 202, r.text
    job_id = r.json()['job_id']

    seen = {}

    def midway():
        seen['job'] = job(s, job_id)
        j = seen['job']
        return j['done'] >= 1 and j['pending'] + j['running'] >= 1
    assert wait_for(midway, 20, 0.05), 'never saw the job half done: %s' % seen

    t0 = time.monotonic()
    hard_restart(s)
    # Items whose worker was killed are taken again once their lease (2 x 1 s + 5 s) ends.
    done = wait_finished(s, job_id, 30)
    assert done['done'] == 12 and done['failed'] == 0, done
    assert all(it['status'] == 'done' and it['outcome'] == 'ok' for it in done['items']), done
    for n in names:
        assert fake.fetches(n) >= 1, (n, fake.fetches())
    assert time.monotonic() - t0 < 30
