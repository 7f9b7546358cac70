"""Revocations reach every child process within 2 s: a prefork server with at least three
children, each of which has just accepted (and cached) the credential, refuses it 2 s after
it was revoked through another server."""
import concurrent.futures
import http.client
import re
import secrets
import time

import pytest

ACCESS_LINE = re.compile(r'" (\d{3}) .* pid=(\d+) rid=(\S+)$')


@pytest.fixture(scope='module')
def prefork(module_server):
    return module_server('revoke-prefork', mpm='prefork',
                         mpm_conf='StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\n'
                                  'ServerLimit 16\nMaxRequestWorkers 16\nMaxConnectionsPerChild 0\n')


def one(server, headers, tag):
    """A request on its own connection (Connection: close), so any child may take it."""
    rid = '%s-%s' % (tag, secrets.token_hex(6))
    c = http.client.HTTPConnection('127.0.0.1', server.port, timeout=30)
    try:
        h = dict(headers)
        h.update({'Connection': 'close', 'X-Request-ID': rid})
        c.request('GET', '/auth/me', headers=h)
        resp = c.getresponse()
        resp.read()
        return rid, resp.status
    finally:
        c.close()


def burst(server, headers, tag, n=48, parallel=6):
    """n requests, parallel at a time; returns {rid: (status, pid)} from the access log."""
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        answers = dict(pool.map(lambda i: one(server, headers, tag), range(n)))

    def logged():
        found = {}
        for line in server.access_log_lines():
            m = ACCESS_LINE.search(line)
            if m and m.group(3) in answers:
                found[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        return found if len(found) == len(answers) else None
    deadline = time.monotonic() + 5
    found = logged()
    while found is None and time.monotonic() < deadline:
        time.sleep(0.1)
        found = logged()
    assert found, 'access log lacks some of the burst %s' % tag
    for rid, status in answers.items():
        assert found[rid][0] == status, (rid, found[rid], status)
    return found


def pids_with(found, status):
    return {pid for st, pid in found.values() if st == status}


def check_revocation(env, prefork, headers, revoke, tag):
    warm = burst(prefork, headers, tag + '-warm')
    assert {st for st, _ in warm.values()} == {200}, warm
    assert len(pids_with(warm, 200)) >= 3, 'the warm-up reached too few children: %s' % warm
    revoke()
    time.sleep(2.0)
    after = burst(prefork, headers, tag + '-after')
    late = {rid: v for rid, v in after.items() if v[0] != 401}
    assert not late, 'accepted more than 2 s after the revocation: %s' % late
    assert len(pids_with(after, 401)) >= 3, after
    # Most of the children that had accepted it now refuse it.
    assert len(pids_with(warm, 200) & pids_with(after, 401)) >= 2, (warm, after)


def test_revoked_key_refused_by_every_child(env, prefork, user):
    k = env.generate_key(user)

    def revoke():
        r = user.call('POST', '/auth/api-keys/revoke', body={'key_id': k['id']})
        assert r.status_code == 200, r.text
    check_revocation(env, prefork, {'X-API-Key': k['key']}, revoke, 'key')


def test_rotated_key_old_secret_dropped_from_caches(env, prefork, user):
    # Rotation with the default 1-day grace keeps the old secret; the new one works in
    # every child at once (no child holds a stale "unknown" verdict).
    k = env.generate_key(user)
    burst(prefork, {'X-API-Key': k['key']}, 'rot-warm', n=24)
    r = user.call('POST', '/auth/api-keys/%s/rotate' % k['id'])
    assert r.status_code == 200, r.text
    new = r.json()['key']
    found = burst(prefork, {'X-API-Key': new}, 'rot-new', n=24)
    assert {st for st, _ in found.values()} == {200}, found
    found = burst(prefork, {'X-API-Key': k['key']}, 'rot-old', n=24)
    assert {st for st, _ in found.values()} == {200}, found


def test_logged_out_token_refused_by_every_child(env, prefork, user):
    token = user.bearer()

    def revoke():
        r = user.call('POST', '/auth/logout')
        assert r.status_code == 200, r.text
    check_revocation(env, prefork, {'Authorization': 'Bearer ' + token}, revoke, 'jti')


def test_deactivated_user_refused_by_every_child(env, prefork, user, admin):
    key = env.generate_key(user)['key']
    token = user.bearer()

    def revoke():
        r = admin.call('DELETE', '/users/%d' % user.id)
        assert r.status_code == 200, r.text
    check_revocation(env, prefork, {'Authorization': 'Bearer ' + token}, revoke, 'user')
    after = burst(prefork, {'X-API-Key': key}, 'user-key')
    assert {st for st, _ in after.values()} == {401}, after
