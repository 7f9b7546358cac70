"""The session endpoints of mod_profile with a real sidecar behind: POST /connect (validation,
202/200/409, restarting a final session, 503 when no sidecar is alive with the session kept
and claimed later), POST /disconnect, GET /sessions and /sessions/{id}, POST
/sessions/cleanup, GET /sessions/{id}/comments, GET /status, and their scopes."""
import json
import re
import secrets
import time

import pytest

from live_client import (CLOSE_ENDED, check_contiguous, check_event, events_only, iso_ms_epoch,
                         recording, statuses)
from profile_env import (LIVE_COMMENTS, LIVE_SESSIONS_READ, STATIC_READER, expect_error,
                         wait_for)

SESSION_FIELDS = {'session_id', 'username', 'source', 'status', 'error_reason', 'error_detail',
                  'options', 'viewers', 'event_count', 'comment_count', 'last_offset',
                  'created_at', 'started_at', 'ended_at', 'last_event_at', 'owner',
                  'lease_until', 'created_by', 'websocket_url'}
SESSION_ID = re.compile(r'^[A-Za-z0-9_-]{1,64}$')


@pytest.fixture(scope='module')
def api(module_live_pair):
    return module_live_pair('lapi')


def new_id(prefix='api'):
    return '%s-%s' % (prefix, secrets.token_hex(5))


def error_400(r):
    """A 400 in the API's error shape (the code depends on what was wrong)."""
    assert r.status_code == 400, (r.status_code, r.text)
    j = r.json()
    assert j['status'] == 400 and j['error'] and j['message'], j
    return j


def check_session(j):
    assert set(j) == SESSION_FIELDS, 'session fields: %s' % sorted(j)
    assert SESSION_ID.match(j['session_id']), j
    assert j['websocket_url'] == '/ws/comments/' + j['session_id'], j
    for k in ('created_at', 'started_at', 'ended_at', 'last_event_at', 'lease_until'):
        if j[k] is not None:
            iso_ms_epoch(j[k])
    assert j['created_at'] is not None, j
    assert (j['owner'] is None) == (j['lease_until'] is None), j
    return j


def sessions_of(j):
    """The list of a GET /sessions answer."""
    return j if isinstance(j, list) else j['sessions']


def status_counts(st):
    """The non-zero per-status counts of GET /status (checking its total)."""
    counts = {k: v for k, v in st['sessions'].items() if k != 'total'}
    if 'total' in st['sessions']:
        assert st['sessions']['total'] == sum(counts.values()), st['sessions']
    return {k: v for k, v in counts.items() if v}


def count_sessions(pair):
    return pair.sql('SELECT count(*) FROM live_sessions')[0][0]


def test_connect_validation(env, api):
    name = env.unique('lv')
    before = count_sessions(api)
    bodies = [
        {},
        {'source': 'replay'},
        {'username': 'a', 'source': 'replay'},
        {'username': 'bad-name!', 'source': 'replay'},
        {'username': 'x' * 25, 'source': 'replay'},
        {'username': 42, 'source': 'replay'},
        {'username': name, 'source': 'youtube'},
        {'username': name, 'source': 'replay', 'session_id': 'bad id'},
        {'username': name, 'source': 'replay', 'session_id': 'x' * 65},
        {'username': name, 'source': 'replay', 'session_id': ''},
        {'username': name, 'source': 'replay', 'options': {'speed': 0.05}},
        {'username': name, 'source': 'replay', 'options': {'speed': 1001}},
        {'username': name, 'source': 'replay', 'options': {'speed': 'fast'}},
        {'username': name, 'source': 'replay', 'options': {'loop': 'yes'}},
        {'username': name, 'source': 'replay', 'options': {'recording': 'Bad/Name'}},
        {'username': name, 'source': 'replay', 'options': {'recording': 'x' * 65}},
        {'username': name, 'source': 'replay', 'options': {'color': 'red'}},
        {'username': name, 'source': 'replay', 'options': {'wait_until_live': True}},
        {'username': name, 'source': 'tiktok', 'options': {'speed': 2}},
        {'username': name, 'source': 'tiktok', 'options': {'wait_until_live': 'yes'}},
        {'username': name, 'source': 'replay', 'options': 'fast'},
        [name],
    ]
    for body in bodies:
        r = api.call('POST', '/connect', body=body)
        try:
            error_400(r)
        except AssertionError as e:
            raise AssertionError('%r: %s' % (body, e)) from None
    r = api.call('POST', '/connect', data='{"username":', headers={'Content-Type': 'application/json'})
    error_400(r)
    j = error_400(api.call('POST', '/connect', body={'username': 'bad-name!', 'source': 'replay'}))
    assert 'username' in json.dumps(j['details']) and "'-'" in json.dumps(j['details']), \
        'the answer does not say what is wrong with the username: %s' % j
    assert count_sessions(api) == before, 'a refused /connect stored a session'


def test_connect_202_then_live_then_200_for_the_same_capture(env, api):
    name = env.unique('lv')
    r = api.connect('@' + name.upper(), 'tick', speed=1, loop=True)
    assert r.status_code == 202, (r.status_code, r.text)
    j = check_session(r.json())
    sid = j['session_id']
    assert r.headers.get('Location', '').endswith('/sessions/' + sid), r.headers
    assert (j['username'], j['source'], j['status']) == (name, 'replay', 'connecting'), j
    assert j['options'] == {'recording': 'tick', 'speed': 1, 'loop': True}, j
    assert j['last_offset'] == 0 and j['event_count'] == 0 and j['ended_at'] is None, j
    assert isinstance(j['created_by'], str) and j['created_by'], j

    s = api.wait_session(sid, lambda s: s['status'] == 'live' and s['last_offset'] > 0, 5)
    check_session(s)
    assert s['owner'] == api.sidecar.sidecar_id, s
    assert iso_ms_epoch(s['lease_until']) > time.time(), s
    assert s['started_at'] and s['last_event_at'], s

    again = api.connect(name, 'tick', speed=1, loop=True)
    assert again.status_code == 200, (again.status_code, again.text)
    assert again.json()['session_id'] == sid
    assert api.call('POST', '/api/v1/connect',
                    body={'username': name, 'source': 'replay'}).json()['session_id'] == sid
    assert api.disconnect(sid).status_code == 202
    s = api.wait_session(sid, lambda s: s['status'] == 'ended', 5)
    assert s['owner'] is None and s['ended_at'], s
    # The capture ended: the same username and source start a new session.
    r = api.connect(name, 'mix300', speed=5)
    assert r.status_code == 202 and r.json()['session_id'] != sid, r.text
    api.wait_session(r.json()['session_id'], lambda s: s['status'] in ('ended', 'failed'), 10)


def test_session_id_conflicts_and_restart_of_a_final_session(env, api):
    sid = new_id('named')
    name, other = env.unique('lv'), env.unique('lv')
    r = api.connect(name, 'tick', speed=1, loop=True, session_id=sid)
    assert r.status_code == 202 and r.json()['session_id'] == sid, r.text
    r = api.connect(other, 'tick', speed=1, loop=True, session_id=sid)
    assert r.status_code == 409, (r.status_code, r.text)
    assert r.json()['status'] == 409, r.text
    r = api.connect(name, 'tick', speed=1, loop=True, session_id=sid)
    assert r.status_code == 200 and r.json()['session_id'] == sid, (r.status_code, r.text)

    api.wait_session(sid, lambda s: s['last_offset'] >= 20, 5)
    assert api.disconnect(sid).status_code == 202
    ended = api.wait_session(sid, lambda s: s['status'] == 'ended', 5)
    last = ended['last_offset']

    # Naming the ended session starts it again under the same id; offsets go on.
    r = api.connect(name, 'mix300', speed=5, session_id=sid)
    assert r.status_code == 202, (r.status_code, r.text)
    j = check_session(r.json())
    assert (j['session_id'], j['status'], j['ended_at'], j['error_reason'], j['error_detail']) == \
        (sid, 'connecting', None, None, None), j
    assert j['last_offset'] == last, j
    c = api.ws(sid, since=last)
    frames = [f for f in c.read_to_close(20) if f.get('offset') is not None]
    assert c.close_code == CLOSE_ENDED
    check_contiguous([f['offset'] for f in frames], last + 1)
    assert statuses(frames)[0] == ('live', None) and statuses(frames)[-1] == ('ended', 'recording_finished')
    assert [e['id'] for e in events_only(frames)] == [line['id'] for line in recording('mix300')]


def test_disconnect(env, api):
    expect_error(api.disconnect('no-such-session'), 404, 'not_found')
    error_400(api.disconnect('bad id!'))
    error_400(api.call('POST', '/disconnect', body={}))
    sid = api.start('tick', speed=1, loop=True)
    api.wait_session(sid, lambda s: s['status'] == 'live', 5)
    r = api.disconnect(sid)
    assert r.status_code == 202, (r.status_code, r.text)
    assert check_session(r.json())['session_id'] == sid
    assert r.json()['status'] in ('stopping', 'ended'), r.json()
    s = api.wait_session(sid, lambda s: s['status'] == 'ended', 5)
    r = api.disconnect(sid)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()['status'] == 'ended' and r.json()['ended_at'] == s['ended_at'], r.json()
    last = api.history(sid)[-1]
    assert (last['type'], last['status'], last['reason']) == ('status', 'ended', 'disconnected'), last


def test_sessions_list(env, api):
    ids = [api.start('tick', speed=1, loop=True) for _ in range(3)]
    failed = api.start('no-such-recording')
    api.wait_session(failed, lambda s: s['status'] == 'failed', 5)
    r = api.call('GET', '/sessions?limit=500')
    assert r.status_code == 200, r.text
    listed = sessions_of(r.json())
    for s in listed:
        check_session(s)
    order = [s['session_id'] for s in listed]
    pos = [order.index(i) for i in ids]
    assert pos == sorted(pos, reverse=True), 'not newest first: %s' % pos
    created = [iso_ms_epoch(s['created_at']) for s in listed]
    assert created == sorted(created, reverse=True)
    two = sessions_of(api.call('GET', '/sessions?limit=2').json())
    assert [s['session_id'] for s in two] == order[:2]
    only = sessions_of(api.call('GET', '/sessions?status=failed&limit=500').json())
    assert failed in [s['session_id'] for s in only] and {s['status'] for s in only} == {'failed'}, only
    both = sessions_of(api.call('GET', '/sessions?status=connecting,live&limit=500').json())
    assert set(ids) <= {s['session_id'] for s in both}
    assert {s['status'] for s in both} <= {'connecting', 'live'}, both
    for q in ('limit=0', 'limit=501', 'limit=abc', 'status=bogus', 'status=live,bogus'):
        error_400(api.call('GET', '/sessions?' + q))
    expect_error(api.call('GET', '/sessions/no-such-session'), 404, 'not_found')
    for i in ids:
        assert api.disconnect(i).status_code in (200, 202)   # 200: ended before a sidecar claimed it


def test_history_endpoint(env, api):
    sid = api.start('mix300', speed=5)
    s = api.wait_session(sid, lambda s: s['status'] == 'ended', 10)
    n = s['last_offset']
    r = api.call('GET', '/sessions/%s/comments' % sid)
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j['session_id'], j['last_offset'], j['has_more'], j['next_since']) == (sid, n, True, 100), \
        {k: v for k, v in j.items() if k != 'events'}
    assert [e['offset'] for e in j['events']] == list(range(1, 101))
    for e in j['events']:
        check_event(e, sid)
    j = api.call('GET', '/sessions/%s/comments?since=%d&limit=1000' % (sid, n - 3)).json()
    assert [e['offset'] for e in j['events']] == [n - 2, n - 1, n] and j['has_more'] is False, j
    assert j['next_since'] == n
    j = api.call('GET', '/sessions/%s/comments?since=%d' % (sid, n)).json()
    assert (j['events'], j['has_more'], j['next_since']) == ([], False, n), j
    comments = api.history(sid, types='comment')
    assert {e['type'] for e in comments} == {'comment'}
    assert len(comments) == s['comment_count'] == sum(1 for ev in recording('mix300') if ev['type'] == 'comment')
    for q in ('since=-1', 'since=x', 'limit=0', 'limit=1001', 'types=nope', 'types=comment,nope'):
        error_400(api.call('GET', '/sessions/%s/comments?%s' % (sid, q)))
    expect_error(api.call('GET', '/sessions/no-such-session/comments'), 404, 'not_found')


def test_cleanup(env, api):
    sids = [api.start('no-such-recording') for _ in range(3)]
    for sid in sids:
        api.wait_session(sid, lambda s: s['status'] == 'failed', 5)
    old, recent = sids[:2], sids[2]
    api.sql("UPDATE live_sessions SET created_at = now() - interval '3 hours', "
            "ended_at = now() - interval '2 hours' WHERE id = ANY(%s)", old)
    for body in ({'older_than_s': -1}, {'older_than_s': 31536001}, {'older_than_s': 'x'}):
        error_400(api.call('POST', '/sessions/cleanup', body=body))
    r = api.call('POST', '/sessions/cleanup', body={})
    assert r.status_code == 200, r.text
    assert r.json() == {'removed': 2, 'older_than_s': 3600}, r.json()
    for sid in old:
        expect_error(api.call('GET', '/sessions/' + sid), 404, 'not_found')
    assert api.sql('SELECT count(*) FROM live_events WHERE session_id = ANY(%s)', old) == [(0,)]
    assert api.session(recent)['status'] == 'failed'
    # Active sessions are never removed, whatever their age.
    live = api.start('tick', speed=1, loop=True)
    api.sql("UPDATE live_sessions SET created_at = now() - interval '3 hours' WHERE id = %s", live)
    finals = api.sql("SELECT count(*) FROM live_sessions WHERE status IN ('ended', 'failed')")[0][0]
    r = api.call('POST', '/sessions/cleanup', body={'older_than_s': 0})
    assert r.status_code == 200 and r.json()['removed'] >= finals >= 1, (finals, r.text)
    expect_error(api.call('GET', '/sessions/' + recent), 404, 'not_found')
    assert api.session(live)['status'] in ('connecting', 'live')
    assert api.disconnect(live).status_code in (200, 202)   # 200: ended before a sidecar claimed it


def test_status(env, api):
    sid = api.start('tick', speed=1, loop=True)
    api.wait_session(sid, lambda s: s['status'] == 'live', 5)
    r = api.call('GET', '/status', auth=STATIC_READER[0])             # any principal
    assert r.status_code == 200, r.text
    j = r.json()
    assert j['status'] == 'ok' and j['version'], j
    (me,) = [s for s in j['sidecars'] if s['id'] == api.sidecar.sidecar_id]
    assert me['alive'] is True and me['stopping'] is False and me['version'], me
    iso_ms_epoch(me['heartbeat_at'])
    seen = []

    def agrees():
        # Sessions of earlier tests may still be ending: compare until both sides agree.
        st = api.call('GET', '/status').json()
        counts = dict(api.sql('SELECT status, count(*) FROM live_sessions GROUP BY status'))
        owned = api.sql("SELECT count(*) FROM live_sessions WHERE owner = %s", api.sidecar.sidecar_id)[0][0]
        (mine,) = [s for s in st['sidecars'] if s['id'] == api.sidecar.sidecar_id]
        seen[:] = [st['sessions'], counts, mine['sessions'], owned]
        return status_counts(st) == counts and mine['sessions'] == owned >= 1
    assert wait_for(agrees, 5, 0.3), 'GET /status disagrees with the database: %s' % seen
    # WebSockets open through httpd, across all children.
    base = j['websockets']['open']
    clients = [api.ws(sid) for _ in range(2)]

    def open_count():
        return api.call('GET', '/status').json()['websockets']['open']
    assert wait_for(lambda: open_count() == base + 2, 5), open_count()
    for c in clients:
        c.close()
    assert wait_for(lambda: open_count() == base, 5), open_count()
    assert api.disconnect(sid).status_code == 202
    expect_error(api.httpd.call('GET', '/status'), 401, 'unauthorized')


def test_scopes(env, api):
    sid = api.start('mix300', speed=5)
    api.wait_session(sid, lambda s: s['status'] == 'ended', 10)
    routes = [('POST', '/connect', {'username': env.unique('lv'), 'source': 'replay'}, 'sessions:write'),
              ('POST', '/disconnect', {'session_id': sid}, 'sessions:write'),
              ('POST', '/sessions/cleanup', {'older_than_s': 31536000}, 'sessions:write'),
              ('GET', '/sessions', None, 'sessions:read'),
              ('GET', '/sessions/' + sid, None, 'sessions:read'),
              ('GET', '/sessions/%s/comments' % sid, None, 'comments:read')]
    keys = {'reader': (STATIC_READER[0], set(STATIC_READER[2])),
            'comments': (LIVE_COMMENTS[0], set(LIVE_COMMENTS[2])),
            'sessions': (LIVE_SESSIONS_READ[0], set(LIVE_SESSIONS_READ[2]))}
    for method, path, body, scope in routes:
        expect_error(api.call(method, path, body=body, auth=None), 401, 'unauthorized')
        for what, (key, scopes) in keys.items():
            r = api.call(method, path, body=body, auth=key)
            if scope in scopes:
                assert r.status_code in (200, 202), (what, method, path, r.status_code, r.text)
            else:
                assert r.status_code == 403, (what, method, path, r.status_code, r.text)
                assert r.json()['status'] == 403


def test_no_sidecar_answers_503_and_keeps_the_session(env, live_pair):
    p = live_pair('lnosc', start_sidecars=False)
    sid, sid2, sid3 = new_id('queued'), new_id('queued'), new_id('queued')
    r = p.connect(env.unique('lv'), 'mix300', speed=5, session_id=sid)
    j = expect_error(r, 503, 'sidecar_unavailable')
    assert r.headers.get('Retry-After') == '5', r.headers
    assert j['details'] == {'session_id': sid, 'status': 'connecting'}, j
    assert 'queue' in j['message'].lower(), j['message']
    s = check_session(p.session(sid))
    assert (s['status'], s['owner']) == ('connecting', None), s

    # Disconnected while nobody owns it: mod_profile ends it itself, with the final event.
    assert p.connect(env.unique('lv'), 'mix300', session_id=sid2).status_code == 503
    d = p.disconnect(sid2)
    assert d.status_code == 200, (d.status_code, d.text)
    assert d.json()['status'] == 'ended', d.text
    s2 = p.session(sid2)
    assert s2['status'] == 'ended' and s2['ended_at'] and s2['last_offset'] == 1, s2
    (final,) = p.history(sid2)
    check_event(final, sid2)
    assert final == dict(final, session_id=sid2, offset=1, type='status', id=None, user=None,
                         status='ended', reason='disconnected'), final
    assert abs(iso_ms_epoch(final['time']) - time.time()) < 60, final

    # A stopping session cannot be named by another capture.
    assert p.connect(env.unique('lv'), 'mix300', session_id=sid3).status_code == 503
    p.sql("UPDATE live_sessions SET status = 'stopping' WHERE id = %s", sid3)
    r = p.connect(env.unique('lv'), 'mix300', session_id=sid3)
    assert r.status_code == 409, (r.status_code, r.text)

    st = p.call('GET', '/status').json()
    assert status_counts(st) == {'connecting': 1, 'ended': 1, 'stopping': 1}, st
    assert not [s for s in st['sidecars'] if s['alive']], st['sidecars']

    # The first sidecar that starts claims the queued session and plays it; it ends the
    # stopping one.
    p.sidecar.start()
    p.wait_session(sid, lambda s: s['owner'] == p.sidecar.sidecar_id or s['status'] == 'ended', 5)
    c = p.ws(sid, since=0)
    frames = [f for f in c.read_to_close(20) if f.get('offset') is not None]
    assert c.close_code == CLOSE_ENDED
    check_contiguous([f['offset'] for f in frames], 1)
    assert [e['id'] for e in events_only(frames)] == [line['id'] for line in recording('mix300')]
    s3 = p.wait_session(sid3, lambda s: s['status'] == 'ended', 5)
    assert s3['owner'] is None, s3
    # Now /connect answers 202.
    r = p.connect(env.unique('lv'), 'mix300', speed=5)
    assert r.status_code == 202, (r.status_code, r.text)
