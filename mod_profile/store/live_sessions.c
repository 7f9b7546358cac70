/* Tables live_sessions, live_events and live_sidecars as mod_profile uses them; see
 * live_sessions.h. Each operation is a single statement: its CTEs decide, change the rows,
 * NOTIFY the sidecars and return the outcome in one round trip. */
#include <apr_strings.h>
#include <string.h>

#include "store/live_sessions.h"
#include "store/pg_util.h"

#define CONNECT_ATTEMPTS 3

const char *const profile_live_statuses[PROFILE_LIVE_STATUS_COUNT] = {
    "connecting", "live", "stopping", "ended", "failed"
};

static const char *const event_types[] = {
    "comment", "like", "gift", "join", "follow", "share", "viewers", "status"
};

/* The session columns, in the order read_session expects, of a row named r. */
#define SESSION_COLS \
    "r.id, r.username, r.source, r.status, r.error_reason, r.error_detail, r.options::text," \
    " r.viewers, r.event_count, r.comment_count, r.last_offset, " \
    PROFILE_PG_US("r.created_at") ", " PROFILE_PG_US("r.started_at") ", " \
    PROFILE_PG_US("r.ended_at") ", " PROFILE_PG_US("r.last_event_at") ", r.owner, " \
    PROFILE_PG_US("r.lease_until") ", r.created_by"
#define SESSION_NCOLS 18

/* A sidecar is alive while its last heartbeat is within its lease and it is not draining. */
#define SIDECAR_ALIVE(c) \
    "(NOT " c ".stopping AND " c ".heartbeat_at + " c ".lease_s * interval '1 second' > now())"

int profile_live_session_id_ok(const char *id)
{
    apr_size_t n = 0;

    if (!id)
        return 0;
    for (; id[n]; n++) {
        char ch = id[n];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '_' || ch == '-') || n >= PROFILE_LIVE_ID_MAX)
            return 0;
    }
    return n > 0;
}

const char *profile_live_session_id_of_path(apr_pool_t *p, const char *path)
{
    static const char segment[] = "/comments/";
    const char *last = NULL, *s = path;

    while (s && (s = strstr(s, segment))) {
        last = s + sizeof(segment) - 1;
        s++;
    }
    return last && profile_live_session_id_ok(last) ? apr_pstrdup(p, last) : NULL;
}

static int in_list(const char *s, const char *const *list, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; s && i < n; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

int profile_live_status_ok(const char *status)
{
    return in_list(status, profile_live_statuses, PROFILE_LIVE_STATUS_COUNT);
}

int profile_live_event_type_ok(const char *type)
{
    return in_list(type, event_types, sizeof(event_types) / sizeof(event_types[0]));
}

/* A text[] parameter from validated names (no quoting needed, quoted all the same). */
static const char *array_param(apr_pool_t *p, const apr_array_header_t *names)
{
    const char *out = "{";
    int i;

    if (!names || !names->nelts)
        return NULL;
    for (i = 0; i < names->nelts; i++)
        out = apr_pstrcat(p, out, i ? ",\"" : "\"", APR_ARRAY_IDX(names, i, const char *), "\"",
                          NULL);
    return apr_pstrcat(p, out, "}", NULL);
}

static void read_session(apr_pool_t *p, const PGresult *res, int row, int col,
                         profile_live_session_t *s)
{
    s->id = profile_pg_str(p, res, row, col + 0);
    s->username = profile_pg_str(p, res, row, col + 1);
    s->source = profile_pg_str(p, res, row, col + 2);
    s->status = profile_pg_str(p, res, row, col + 3);
    s->error_reason = profile_pg_str(p, res, row, col + 4);
    s->error_detail = profile_pg_str(p, res, row, col + 5);
    s->options = profile_pg_str(p, res, row, col + 6);
    s->viewers = profile_pg_int64(res, row, col + 7);
    s->event_count = profile_pg_int64(res, row, col + 8);
    s->comment_count = profile_pg_int64(res, row, col + 9);
    s->last_offset = profile_pg_int64(res, row, col + 10);
    s->created_at = profile_pg_time(res, row, col + 11);
    s->started_at = profile_pg_time(res, row, col + 12);
    s->ended_at = profile_pg_time(res, row, col + 13);
    s->last_event_at = profile_pg_time(res, row, col + 14);
    s->owner = profile_pg_str(p, res, row, col + 15);
    s->lease_until = profile_pg_time(res, row, col + 16);
    s->created_by = profile_pg_str(p, res, row, col + 17);
}

/* named: the session the client named (locked); active: another active session of the same
 * username and source. The decision, in order: a named active one of the same username and
 * source is the answer; a named one that is active for someone else, or stopping, is a
 * conflict; an active one of the same username and source is the answer; a named final one is
 * restarted; else a new row. A concurrent /connect that inserted first makes ON CONFLICT skip
 * the insert (no row comes back) or the restart violate the unique index: both are retried. */
static const char connect_sql[] =
    "WITH named AS ("
    "  SELECT * FROM live_sessions WHERE id = $1 FOR UPDATE"
    "), active AS ("
    "  SELECT * FROM live_sessions WHERE username = $2 AND source = $3"
    "   AND status IN ('connecting', 'live') AND id <> $1 LIMIT 1"
    "), decision AS ("
    "  SELECT CASE"
    "   WHEN n.id IS NULL THEN CASE WHEN a.id IS NULL THEN 'create' ELSE 'active' END"
    "   WHEN n.status IN ('connecting', 'live') AND n.username = $2 AND n.source = $3"
    "    THEN 'existing'"
    "   WHEN n.status IN ('connecting', 'live', 'stopping') THEN 'conflict'"
    "   WHEN a.id IS NOT NULL THEN 'active'"
    "   ELSE 'restart' END AS what"
    "  FROM (SELECT 1) one LEFT JOIN named n ON true LEFT JOIN active a ON true"
    "), restarted AS ("
    "  UPDATE live_sessions s SET status = 'connecting', username = $2, source = $3,"
    "   options = $4::jsonb, created_by = $5, ended_at = NULL, error_reason = NULL,"
    "   error_detail = NULL, source_position = 0, owner = NULL, lease_until = NULL"
    "  WHERE s.id = $1 AND (SELECT what FROM decision) = 'restart'"
    "  RETURNING s.*"
    "), created AS ("
    "  INSERT INTO live_sessions (id, username, source, options, created_by)"
    "  SELECT $1, $2, $3, $4::jsonb, $5 WHERE (SELECT what FROM decision) = 'create'"
    "  ON CONFLICT DO NOTHING"
    "  RETURNING *"
    "), result AS ("
    "  SELECT 'created' AS outcome, * FROM created"
    "  UNION ALL SELECT 'restarted', * FROM restarted"
    "  UNION ALL SELECT d.what, n.* FROM named n, decision d"
    "   WHERE d.what IN ('existing', 'conflict')"
    "  UNION ALL SELECT 'existing', a.* FROM active a, decision d WHERE d.what = 'active'"
    "), notified AS ("
    "  SELECT pg_notify('live_sessions', id) FROM result"
    "  WHERE outcome IN ('created', 'restarted')"
    ")"
    " SELECT r.outcome, " SESSION_COLS ", (SELECT count(*) FROM notified),"
    " (SELECT count(*) FROM live_sidecars c WHERE " SIDECAR_ALIVE("c") ")"
    " FROM result r";

profile_store_rc_t profile_live_connect(PGconn *c, apr_pool_t *p,
                                        const profile_connect_request_t *req,
                                        profile_connect_outcome_t *outcome,
                                        profile_live_session_t *out, int *sidecars_alive)
{
    const char *params[5] = { req->id, req->username, req->source, req->options,
                              req->created_by };
    profile_store_rc_t rc = PROFILE_STORE_ERROR;
    int attempt;

    for (attempt = 0; attempt < CONNECT_ATTEMPTS; attempt++) {
        PGresult *res = profile_pg_exec(c, connect_sql, 5, params);
        const char *what;

        rc = profile_pg_rc(res, PGRES_TUPLES_OK);
        if (rc == PROFILE_STORE_OK && PQntuples(res) != 1)
            rc = PQntuples(res) == 0 ? PROFILE_STORE_CONFLICT : PROFILE_STORE_ERROR;
        if (rc != PROFILE_STORE_OK) {
            PQclear(res);
            if (rc == PROFILE_STORE_CONFLICT)
                continue;      /* lost a race with another /connect: decide again */
            return rc;
        }
        what = PQgetvalue(res, 0, 0);
        *outcome = !strcmp(what, "created") ? PROFILE_CONNECT_CREATED
                   : !strcmp(what, "restarted") ? PROFILE_CONNECT_RESTARTED
                   : !strcmp(what, "conflict") ? PROFILE_CONNECT_CONFLICT
                   : PROFILE_CONNECT_EXISTING;
        read_session(p, res, 0, 1, out);
        *sidecars_alive = (int)profile_pg_int64(res, 0, SESSION_NCOLS + 2);
        PQclear(res);
        return PROFILE_STORE_OK;
    }
    return PROFILE_STORE_ERROR;
}

/* The final status event is rendered as the sidecar renders it. */
static const char disconnect_sql[] =
    "WITH cur AS ("
    "  SELECT status, owner IS NOT NULL AND lease_until > now() AS owned"
    "  FROM live_sessions WHERE id = $1 FOR UPDATE"
    "), d AS ("
    "  SELECT CASE WHEN status IN ('ended', 'failed') THEN 'final'"
    "   WHEN owned THEN 'stopping' ELSE 'ended' END AS what FROM cur"
    "), stopped AS ("
    "  UPDATE live_sessions s SET status = 'stopping'"
    "  WHERE s.id = $1 AND (SELECT what FROM d) = 'stopping' RETURNING s.*"
    "), ended AS ("
    "  UPDATE live_sessions s SET status = 'ended', ended_at = now(), owner = NULL,"
    "   lease_until = NULL, last_offset = s.last_offset + 1, event_count = s.event_count + 1,"
    "   last_event_at = now()"
    "  WHERE s.id = $1 AND (SELECT what FROM d) = 'ended' RETURNING s.*"
    "), final_event AS ("
    "  INSERT INTO live_events (session_id, \"offset\", type, created_at, body)"
    "  SELECT id, last_offset, 'status', ended_at,"
    "   '{\"session_id\":' || to_json(id)::text || ',\"offset\":' || last_offset"
    "   || ',\"type\":\"status\",\"id\":null,\"time\":\"'"
    "   || to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    "   || '\",\"user\":null,\"status\":\"ended\",\"reason\":\"disconnected\"}'"
    "  FROM ended RETURNING session_id, \"offset\""
    "), wake_owner AS ("
    "  SELECT pg_notify('live_sessions', id) FROM stopped"
    "), wake_readers AS ("
    "  SELECT pg_notify('live_events', session_id || ' ' || \"offset\") FROM final_event"
    "), result AS ("
    "  SELECT 'stopping' AS outcome, * FROM stopped"
    "  UNION ALL SELECT 'ended', * FROM ended"
    "  UNION ALL SELECT 'final', s.* FROM live_sessions s, d WHERE s.id = $1 AND d.what = 'final'"
    ")"
    " SELECT r.outcome, " SESSION_COLS ","
    " (SELECT count(*) FROM wake_owner) + (SELECT count(*) FROM wake_readers)"
    " FROM result r";

profile_store_rc_t profile_live_disconnect(PGconn *c, apr_pool_t *p, const char *id,
                                           profile_disconnect_outcome_t *outcome,
                                           profile_live_session_t *out)
{
    const char *params[1] = { id };
    PGresult *res = profile_pg_exec(c, disconnect_sql, 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        const char *what = PQgetvalue(res, 0, 0);
        *outcome = !strcmp(what, "stopping") ? PROFILE_DISCONNECT_STOPPING
                   : !strcmp(what, "ended") ? PROFILE_DISCONNECT_ENDED
                   : PROFILE_DISCONNECT_FINAL;
        read_session(p, res, 0, 1, out);
    }
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_live_get(PGconn *c, apr_pool_t *p, const char *id,
                                    profile_live_session_t *out)
{
    const char *params[1] = { id };
    PGresult *res = profile_pg_exec(c, "SELECT " SESSION_COLS " FROM live_sessions r"
                                       " WHERE r.id = $1", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK)
        read_session(p, res, 0, 0, out);
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_live_list(PGconn *c, apr_pool_t *p, const apr_array_header_t *statuses,
                                     int limit, apr_array_header_t **out)
{
    char b_limit[PROFILE_PG_NUM_LEN];
    const char *params[2] = {
        array_param(p, statuses),
        profile_pg_int64_param(b_limit, limit < 1 ? 1 : limit > PROFILE_LIVE_LIST_MAX
                                                        ? PROFILE_LIVE_LIST_MAX : limit)
    };
    PGresult *res = profile_pg_exec(c,
        "SELECT " SESSION_COLS " FROM live_sessions r"
        " WHERE $1::text[] IS NULL OR r.status = ANY ($1::text[])"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT $2", 2, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;

    *out = apr_array_make(p, rows ? rows : 1, sizeof(profile_live_session_t));
    for (i = 0; i < rows; i++)
        read_session(p, res, i, 0, apr_array_push(*out));
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_live_cleanup(PGconn *c, apr_int64_t older_than_s,
                                        apr_int64_t *removed)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, older_than_s) };
    PGresult *res = profile_pg_exec(c,
        "DELETE FROM live_sessions WHERE status IN ('ended', 'failed')"
        " AND ended_at < now() - $1::bigint * interval '1 second'", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    *removed = rc == PROFILE_STORE_OK ? apr_atoi64(PQcmdTuples(res)) : 0;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_live_events(PGconn *c, apr_pool_t *p, const char *id,
                                       apr_int64_t since, int limit,
                                       const apr_array_header_t *types,
                                       apr_int64_t *last_offset, apr_array_header_t **bodies,
                                       apr_array_header_t **offsets)
{
    char b_since[PROFILE_PG_NUM_LEN], b_limit[PROFILE_PG_NUM_LEN];
    const char *params[4] = {
        id, profile_pg_int64_param(b_since, since), array_param(p, types),
        profile_pg_int64_param(b_limit, (limit < 1 ? 1 : limit > PROFILE_LIVE_EVENTS_MAX
                                                          ? PROFILE_LIVE_EVENTS_MAX : limit) + 1)
    };
    PGresult *res = profile_pg_exec(c,
        "SELECT s.last_offset, e.\"offset\", e.body FROM live_sessions s"
        " LEFT JOIN LATERAL (SELECT \"offset\", body FROM live_events"
        "  WHERE session_id = s.id AND \"offset\" > $2::bigint"
        "  AND ($3::text[] IS NULL OR type = ANY ($3::text[]))"
        "  ORDER BY \"offset\" LIMIT $4) e ON true"
        " WHERE s.id = $1 ORDER BY e.\"offset\"", 4, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;

    if (rc == PROFILE_STORE_OK && rows == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    *bodies = apr_array_make(p, rows ? rows : 1, sizeof(const char *));
    *offsets = apr_array_make(p, rows ? rows : 1, sizeof(apr_int64_t));
    *last_offset = rows ? profile_pg_int64(res, 0, 0) : 0;
    for (i = 0; rc == PROFILE_STORE_OK && i < rows; i++) {
        if (PQgetisnull(res, i, 1))
            continue;          /* the session has no such event: one row of NULLs */
        APR_ARRAY_PUSH(*offsets, apr_int64_t) = profile_pg_int64(res, i, 1);
        APR_ARRAY_PUSH(*bodies, const char *) = profile_pg_str(p, res, i, 2);
    }
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_live_status(PGconn *c, apr_pool_t *p,
                                       apr_int64_t counts[PROFILE_LIVE_STATUS_COUNT],
                                       apr_array_header_t **sidecars)
{
    char b_max[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b_max, PROFILE_LIVE_SIDECARS_MAX) };
    PGresult *res = profile_pg_exec(c,
        "SELECT 's' AS kind, status AS name, count(*) AS n, NULL AS version,"
        " NULL::bigint AS heartbeat, NULL::boolean AS alive, NULL::boolean AS stopping"
        " FROM live_sessions GROUP BY status"
        " UNION ALL (SELECT 'c', c.id, (SELECT count(*) FROM live_sessions s"
        "  WHERE s.owner = c.id AND s.status IN ('connecting', 'live', 'stopping')),"
        "  c.version, " PROFILE_PG_US("c.heartbeat_at") ", " SIDECAR_ALIVE("c") ", c.stopping"
        "  FROM live_sidecars c ORDER BY c.heartbeat_at DESC, c.id LIMIT $1::bigint)", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, k, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;

    memset(counts, 0, sizeof(apr_int64_t) * PROFILE_LIVE_STATUS_COUNT);
    *sidecars = apr_array_make(p, 4, sizeof(profile_live_sidecar_t));
    for (i = 0; i < rows; i++) {
        const char *name = PQgetvalue(res, i, 1);
        if (PQgetvalue(res, i, 0)[0] == 's') {
            for (k = 0; k < PROFILE_LIVE_STATUS_COUNT; k++)
                if (!strcmp(name, profile_live_statuses[k]))
                    counts[k] = profile_pg_int64(res, i, 2);
        }
        else {
            profile_live_sidecar_t *sc = apr_array_push(*sidecars);
            sc->id = profile_pg_str(p, res, i, 1);
            sc->sessions = profile_pg_int64(res, i, 2);
            sc->version = profile_pg_str(p, res, i, 3);
            sc->heartbeat_at = profile_pg_time(res, i, 4);
            sc->alive = profile_pg_bool(res, i, 5);
            sc->stopping = profile_pg_bool(res, i, 6);
        }
    }
    PQclear(res);
    return rc;
}
