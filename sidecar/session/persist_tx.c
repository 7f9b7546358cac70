/* One batch, one transaction (session/persist_tx.h), on the persister's own connection:
 *   BEGIN; lock the batch's session rows that are still ours; number the events from the
 *   row's last_offset; INSERT them all with one unnest statement; one UPDATE of every
 *   session (counters, viewers, position, status, final state, lease); upsert the comment
 *   authors' live profiles; pg_notify('live_events', '<id> <last_offset>'); COMMIT.
 * Parameters are PostgreSQL array literals built here, never SQL text. Only the persister
 * thread calls these functions. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/pg.h"
#include "session/persist_tx.h"
#include "ws/hub.h"

static const char SQL_LOCK[] =
    "SELECT id, last_offset FROM live_sessions WHERE id = ANY($1::text[]) AND owner = $2"
    " ORDER BY id FOR UPDATE";
static const char SQL_EVENTS[] =
    "INSERT INTO live_events (session_id, \"offset\", type, upstream_id, created_at, body)"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],"
    " $5::timestamptz[], $6::text[])";
static const char SQL_SESSIONS[] =
    "UPDATE live_sessions AS s SET last_offset = u.last_offset,"
    " event_count = s.event_count + u.events, comment_count = s.comment_count + u.comments,"
    " viewers = coalesce(u.viewers, s.viewers),"
    " last_event_at = coalesce(u.last_event_at, s.last_event_at),"
    " source_position = coalesce(u.position, s.source_position),"
    " status = CASE WHEN u.final IS NOT NULL THEN u.final"
    "   WHEN u.went_live AND s.status = 'connecting' THEN 'live'"
    "   WHEN u.note IS NOT NULL AND s.status IN ('connecting', 'live') THEN u.note"
    "   ELSE s.status END,"
    " started_at = CASE WHEN u.went_live THEN coalesce(s.started_at, now()) ELSE s.started_at END,"
    " ended_at = CASE WHEN u.final IS NOT NULL THEN now() ELSE s.ended_at END,"
    " error_reason = CASE WHEN u.final IS NOT NULL THEN u.reason"
    "   WHEN u.note IS NOT NULL THEN u.note_reason ELSE s.error_reason END,"
    " error_detail = CASE WHEN u.final IS NOT NULL THEN u.detail"
    "   WHEN u.note IS NOT NULL THEN u.note_detail ELSE s.error_detail END,"
    " owner = CASE WHEN u.final IS NOT NULL OR u.release THEN NULL ELSE s.owner END,"
    " lease_until = CASE WHEN u.final IS NOT NULL OR u.release THEN NULL ELSE s.lease_until END"
    " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::integer[],"
    " $6::timestamptz[], $7::bigint[], $8::text[], $9::boolean[], $10::text[], $11::text[],"
    " $12::boolean[], $13::text[], $14::text[], $15::text[]) AS u(id, last_offset, events,"
    " comments, viewers, last_event_at, position, final, went_live, reason, detail, release,"
    " note, note_reason, note_detail)"
    " WHERE s.id = u.id AND s.owner = $16";
static const char SQL_PROFILES[] =
    "INSERT INTO live_profiles (username, user_id, nickname, avatar_url, seen_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])"
    " ON CONFLICT (username) DO UPDATE SET"
    " user_id = coalesce(EXCLUDED.user_id, live_profiles.user_id),"
    " nickname = coalesce(EXCLUDED.nickname, live_profiles.nickname),"
    " avatar_url = EXCLUDED.avatar_url, seen_at = EXCLUDED.seen_at"
    " WHERE live_profiles.seen_at <= EXCLUDED.seen_at";
static const char SQL_NOTIFY[] =
    "SELECT pg_notify('live_events', u.id || ' ' || u.last_offset)"
    " FROM unnest($1::text[], $2::bigint[]) AS u(id, last_offset)";
static const char SQL_VERIFY[] =
    "SELECT id, last_offset FROM live_sessions WHERE id = ANY($1::text[])";

/* A PostgreSQL array literal being built ({"a","b",NULL}). */
typedef struct {
    char *buf;
    size_t len, cap;
    int n, oom;
} arr_t;

/* What one attempt produced for an item that carries an event. */
typedef struct {
    live_batch_entry_t *entry;
    live_item_t *item;
    int64_t offset;
    char *json;
    size_t len;
} rendered_t;

/* Per entry of the batch, for the attempt in progress and the previous one. */
typedef struct {
    int64_t base, last;          /* the row's last_offset and the one written */
    int lost;
} entry_state_t;

static struct {
    live_config_t cfg;
    PGconn *conn;
    rendered_t *rend;            /* the events of the last attempt, rendered */
    int nrend, rend_cap;
    entry_state_t *st;           /* per entry of the batch */
    int nst;
    int ambiguous;               /* the last COMMIT's outcome is unknown */
    char error[300];             /* what failed in the last attempt */
} T;

/* ---- array literals ----------------------------------------------------------------- */

static void arr_put(arr_t *a, const char *s, size_t n)
{
    if (a->oom)
        return;
    if (a->len + n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        char *b;
        while (cap < a->len + n + 2)
            cap *= 2;
        if (!(b = realloc(a->buf, cap))) {
            a->oom = 1;
            return;
        }
        a->buf = b;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

static void arr_sep(arr_t *a)
{
    arr_put(a, a->n++ ? "," : "{", 1);
}

static void arr_str(arr_t *a, const char *s)
{
    const char *p;

    arr_sep(a);
    if (!s) {
        arr_put(a, "NULL", 4);
        return;
    }
    arr_put(a, "\"", 1);
    while ((p = strpbrk(s, "\"\\")) != NULL) {
        arr_put(a, s, (size_t)(p - s));
        arr_put(a, "\\", 1);
        arr_put(a, p, 1);
        s = p + 1;
    }
    arr_put(a, s, strlen(s));
    arr_put(a, "\"", 1);
}

static void arr_int(arr_t *a, int64_t v, int null)
{
    char b[24];
    arr_sep(a);
    if (null)
        arr_put(a, "NULL", 4);
    else
        arr_put(a, b, (size_t)snprintf(b, sizeof(b), "%lld", (long long)v));
}

static void arr_time(arr_t *a, int64_t us, int null)
{
    char b[32];
    if (null) {
        arr_str(a, NULL);
        return;
    }
    live_iso8601_ms(us, b, sizeof(b));
    arr_str(a, b);
}

static void arr_bool(arr_t *a, int v)
{
    arr_sep(a);
    arr_put(a, v ? "t" : "f", 1);
}

/* The literal (closed), or NULL when out of memory. */
static const char *arr_end(arr_t *a)
{
    if (a->n == 0)
        arr_put(a, "{", 1);
    arr_put(a, "}", 1);
    return a->oom ? NULL : a->buf;
}

static void arrs_free(arr_t *a, int n)
{
    for (int i = 0; i < n; i++)
        free(a[i].buf);
}

/* ---- one transaction ---------------------------------------------------------------- */

static int exec_ok(PGresult *res, const char *what)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 1;
    snprintf(T.error, sizeof(T.error), "%s failed: %s", what,
             res ? PQresultErrorMessage(res) : PQerrorMessage(T.conn));
    T.error[strcspn(T.error, "\n")] = '\0';
    return 0;
}

/* Runs sql with n parameters (NULL when one could not be built). */
static PGresult *run(const char *sql, int n, const char *const *params)
{
    for (int i = 0; i < n; i++)
        if (!params[i])
            return NULL;
    return PQexecParams(T.conn, sql, n, NULL, params, NULL, NULL, 0);
}

static int simple(const char *sql)
{
    PGresult *res = PQexec(T.conn, sql);
    int ok = exec_ok(res, sql);
    PQclear(res);
    return ok;
}

static void rend_clear(void)
{
    for (int i = 0; i < T.nrend; i++)
        free(T.rend[i].json);
    T.nrend = 0;
}

static int rend_add(live_batch_entry_t *e, live_item_t *it, int64_t offset)
{
    rendered_t *r;

    if (T.nrend == T.rend_cap) {
        int cap = T.rend_cap ? T.rend_cap * 2 : 512;
        rendered_t *n = realloc(T.rend, (size_t)cap * sizeof(*n));
        if (!n)
            return -1;
        T.rend = n;
        T.rend_cap = cap;
    }
    r = &T.rend[T.nrend];
    r->entry = e;
    r->item = it;
    r->offset = offset;
    r->json = live_event_render(it->ev, e->id, offset, &r->len);
    if (!r->json)
        return -1;
    T.nrend++;
    return 0;
}

/* Locks the batch's rows; marks the entries whose session is not ours any more. */
static int lock_sessions(live_batch_t *b)
{
    arr_t ids = { 0 };
    const char *params[2];
    PGresult *res;
    int i = 0, ok;

    for (live_batch_entry_t *e = b->entries; e; e = e->next)
        arr_str(&ids, e->id);
    params[0] = arr_end(&ids);
    params[1] = T.cfg.sidecar_id;
    res = run(SQL_LOCK, 2, params);
    ok = exec_ok(res, "locking the sessions");
    for (live_batch_entry_t *e = b->entries; ok && e; e = e->next, i++) {
        T.st[i].lost = 1;
        for (int r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), e->id) == 0) {
                T.st[i].lost = 0;
                T.st[i].base = strtoll(PQgetvalue(res, r, 1), NULL, 10);
            }
        if (!T.st[i].lost && T.st[i].base != e->last_offset)
            LIVE_WARN("session %s: last_offset is %lld in the database, %lld here: using the "
                      "database's", e->id, (long long)T.st[i].base, (long long)e->last_offset);
    }
    PQclear(res);
    free(ids.buf);
    return ok ? 0 : -1;
}

/* Numbers and renders the events; inserts them with one statement. */
static int insert_events(live_batch_t *b)
{
    arr_t a[6] = { { 0 } };
    const char *params[6];
    PGresult *res;
    int i = 0, ok;

    rend_clear();
    for (live_batch_entry_t *e = b->entries; e; e = e->next, i++) {
        int64_t off = T.st[i].base;
        if (T.st[i].lost)
            continue;
        for (live_item_t *it = e->items; it; it = it->next)
            if (it->ev && rend_add(e, it, ++off) != 0) {
                snprintf(T.error, sizeof(T.error), "out of memory rendering events");
                return -1;
            }
        T.st[i].last = off;
    }
    if (T.nrend == 0)
        return 0;
    for (int k = 0; k < T.nrend; k++) {
        const rendered_t *r = &T.rend[k];
        arr_str(&a[0], r->entry->id);
        arr_int(&a[1], r->offset, 0);
        arr_str(&a[2], live_event_type_name(r->item->ev->type));
        arr_str(&a[3], r->item->ev->upstream_id[0] ? r->item->ev->upstream_id : NULL);
        arr_time(&a[4], r->item->ev->created_us, 0);
        arr_str(&a[5], r->json);
    }
    for (int k = 0; k < 6; k++)
        params[k] = arr_end(&a[k]);
    res = run(SQL_EVENTS, 6, params);
    ok = exec_ok(res, "inserting events");
    PQclear(res);
    arrs_free(a, 6);
    return ok ? 0 : -1;
}

static int viewers_of(const live_event_t *ev, int64_t *out)
{
    json_t *v = json_object_get(ev->fields, "viewers");

    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2147483647)
        return 0;
    *out = json_integer_value(v);
    return 1;
}

/* One UPDATE for every session of the batch; pg_notify for those with new events. */
static int update_sessions(live_batch_t *b)
{
    arr_t a[15] = { { 0 } }, nid = { 0 }, noff = { 0 };
    const char *params[16];
    PGresult *res;
    int i = 0, rows = 0, notes = 0, ok = 1;

    for (live_batch_entry_t *e = b->entries; e; e = e->next, i++) {
        int64_t events = 0, comments = 0, viewers = 0, last_at = 0, position = -1;
        int has_viewers = 0, live = 0, release = 0;
        const live_item_t *final = NULL, *note = NULL;
        if (T.st[i].lost)
            continue;
        for (const live_item_t *it = e->items; it; it = it->next) {
            if (it->ev) {
                events++;
                comments += it->ev->type == LIVE_EV_COMMENT;
                if (it->ev->type == LIVE_EV_VIEWERS && viewers_of(it->ev, &viewers))
                    has_viewers = 1;
                last_at = it->ev->created_us;
            }
            if (it->position >= 0)
                position = it->position;
            live |= it->kind == LIVE_ITEM_LIVE;
            release |= it->kind == LIVE_ITEM_RELEASE;
            if (it->kind == LIVE_ITEM_FINAL)
                final = it;
            if (it->kind == LIVE_ITEM_NOTE)
                note = it;
        }
        arr_str(&a[0], e->id);
        arr_int(&a[1], T.st[i].last, 0);
        arr_int(&a[2], events, 0);
        arr_int(&a[3], comments, 0);
        arr_int(&a[4], viewers, !has_viewers);
        arr_time(&a[5], last_at, events == 0);
        arr_int(&a[6], position, position < 0);
        arr_str(&a[7], final ? final->status : NULL);
        arr_bool(&a[8], live);
        arr_str(&a[9], final && final->reason[0] ? final->reason : NULL);
        arr_str(&a[10], final && final->detail[0] ? final->detail : NULL);
        arr_bool(&a[11], release);
        arr_str(&a[12], note ? note->status : NULL);
        arr_str(&a[13], note && note->reason[0] ? note->reason : NULL);
        arr_str(&a[14], note && note->detail[0] ? note->detail : NULL);
        rows++;
        if (events > 0) {
            arr_str(&nid, e->id);
            arr_int(&noff, T.st[i].last, 0);
            notes++;
        }
    }
    if (rows > 0) {
        for (int k = 0; k < 15; k++)
            params[k] = arr_end(&a[k]);
        params[15] = T.cfg.sidecar_id;
        res = run(SQL_SESSIONS, 16, params);
        ok = exec_ok(res, "updating the sessions");
        PQclear(res);
    }
    if (ok && notes > 0) {
        params[0] = arr_end(&nid);
        params[1] = arr_end(&noff);
        res = run(SQL_NOTIFY, 2, params);
        ok = exec_ok(res, "notifying live_events");
        PQclear(res);
    }
    arrs_free(a, 15);
    free(nid.buf);
    free(noff.buf);
    return ok ? 0 : -1;
}

/* What live_profiles' CHECKs accept (the event model already bounds and cleans them). */
static int profile_ok(const live_event_t *ev)
{
    size_t n = ev->username ? strlen(ev->username) : 0;

    if (n < 2 || n > 24 || strspn(ev->username, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n)
        return 0;
    if (!ev->avatar_url || strlen(ev->avatar_url) > 2048 ||
        (strncmp(ev->avatar_url, "https://", 8) != 0 && strncmp(ev->avatar_url, "http://", 7)))
        return 0;
    return (!ev->user_id || strlen(ev->user_id) <= 64) &&
           (!ev->nickname || strlen(ev->nickname) < 256);
}

/* Comment authors → live_profiles, one row per username (the latest sighting). */
static int upsert_profiles(void)
{
    const live_event_t **pick = calloc((size_t)T.nrend + 1, sizeof(*pick));
    arr_t a[5] = { { 0 } };
    const char *params[5];
    PGresult *res;
    int n = 0, ok;

    if (!pick)
        return -1;
    for (int k = 0; k < T.nrend; k++) {
        const live_event_t *ev = T.rend[k].item->ev;
        int j;
        if (ev->type != LIVE_EV_COMMENT || !profile_ok(ev))
            continue;
        for (j = 0; j < n && strcmp(pick[j]->username, ev->username) != 0; j++)
            ;
        if (j == n)
            pick[n++] = ev;
        else if (ev->created_us >= pick[j]->created_us)
            pick[j] = ev;
    }
    if (n == 0) {
        free(pick);
        return 0;
    }
    for (int j = 0; j < n; j++) {
        arr_str(&a[0], pick[j]->username);
        arr_str(&a[1], pick[j]->user_id && pick[j]->user_id[0] ? pick[j]->user_id : NULL);
        arr_str(&a[2], pick[j]->nickname);
        arr_str(&a[3], pick[j]->avatar_url);
        arr_time(&a[4], pick[j]->created_us, 0);
    }
    for (int k = 0; k < 5; k++)
        params[k] = arr_end(&a[k]);
    res = run(SQL_PROFILES, 5, params);
    ok = exec_ok(res, "upserting live profiles");
    PQclear(res);
    arrs_free(a, 5);
    free(pick);
    return ok ? 0 : -1;
}

/* After a COMMIT whose outcome is unknown (the connection broke): 1 it committed (every
 * session with events stands at the last offset written), 0 it did not, -1 cannot tell. */
static int verify_committed(live_batch_t *b)
{
    arr_t ids = { 0 };
    const char *params[1];
    PGresult *res;
    int i = 0, writes = 0, same = 1;

    for (live_batch_entry_t *e = b->entries; e; e = e->next)
        arr_str(&ids, e->id);
    params[0] = arr_end(&ids);
    res = run(SQL_VERIFY, 1, params);
    if (!exec_ok(res, "checking the last commit")) {
        PQclear(res);
        free(ids.buf);
        return -1;
    }
    for (live_batch_entry_t *e = b->entries; e; e = e->next, i++) {
        if (T.st[i].lost || T.st[i].last == T.st[i].base)
            continue;
        writes++;
        for (int r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), e->id) == 0 &&
                strtoll(PQgetvalue(res, r, 1), NULL, 10) != T.st[i].last)
                same = 0;
    }
    PQclear(res);
    free(ids.buf);
    return writes > 0 && same;
}

/* One attempt at the batch. 0 when committed (the rendered frames are in T.rend). */
int live_tx_write(live_batch_t *b)
{
    int n = 0, ok;

    for (live_batch_entry_t *e = b->entries; e; e = e->next)
        n++;
    T.error[0] = '\0';
    T.conn = live_pg_ensure(T.conn, &T.cfg, "persister");
    if (!T.conn)
        return -1;
    if (T.ambiguous) {
        int committed = verify_committed(b);
        if (committed < 0)
            return -1;
        T.ambiguous = 0;
        if (committed) {
            LIVE_WARN("persister: the last batch was committed before the connection broke");
            return 0;
        }
    }
    if (n > T.nst) {
        entry_state_t *st = realloc(T.st, (size_t)n * sizeof(*st));
        if (!st)
            return -1;
        T.st = st;
        T.nst = n;
    }
    memset(T.st, 0, (size_t)n * sizeof(*T.st));
    if (!simple("BEGIN"))
        return -1;
    ok = lock_sessions(b) == 0 && insert_events(b) == 0 && update_sessions(b) == 0 &&
         upsert_profiles() == 0;
    if (!ok) {
        if (PQstatus(T.conn) == CONNECTION_OK)
            simple("ROLLBACK");
        return -1;
    }
    if (!simple("COMMIT")) {
        /* A broken connection during COMMIT: it may have committed. */
        T.ambiguous = PQstatus(T.conn) != CONNECTION_OK;
        return -1;
    }
    return 0;
}

/* After COMMIT: frames to the WebSocket loop, offsets and lost sessions to the registry. */
void live_tx_publish(live_batch_t *b)
{
    int i = 0, k = 0;

    for (live_batch_entry_t *e = b->entries; e; e = e->next, i++) {
        live_frame_t *head = NULL, **tail = &head;
        e->lost = T.st[i].lost;
        e->committed_offset = T.st[i].lost ? e->last_offset : T.st[i].last;
        for (; k < T.nrend && T.rend[k].entry == e; k++) {
            const rendered_t *r = &T.rend[k];
            live_frame_t *f = live_frame_new(r->offset, r->item->ev->type,
                                             r->item->kind == LIVE_ITEM_FINAL, r->json, r->len);
            if (!f) {
                LIVE_ERROR("session %s: out of memory, frame %lld not published", e->id,
                           (long long)r->offset);
                continue;
            }
            *tail = f;
            tail = &f->next;
        }
        if (head)
            live_hub_publish(e->id, head);
    }
    rend_clear();
}

void live_tx_init(const live_config_t *cfg)
{
    T.cfg = *cfg;
    T.ambiguous = 0;
    T.error[0] = '\0';
}

const char *live_tx_error(void)
{
    return T.error[0] ? T.error : "no database connection";
}

void live_tx_close(void)
{
    rend_clear();
    free(T.rend);
    free(T.st);
    T.rend = NULL;
    T.st = NULL;
    T.rend_cap = T.nst = 0;
    if (T.conn)
        PQfinish(T.conn);
    T.conn = NULL;
}
