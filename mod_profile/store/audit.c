/* The audit log and login lockout counters; see audit.h. */
#include <stdlib.h>

#include "store/audit.h"
#include "store/pg_util.h"

#define LIST_MAX 100
/* Login names longer than any username or email share one counter per prefix. */
#define NAME_MAX_CHARS "320"
#define LOCK_NAME "lower(left($1, " NAME_MAX_CHARS "))"

profile_store_rc_t profile_audit_record(PGconn *c, const profile_audit_event_t *e)
{
    char b[PROFILE_PG_NUM_LEN], ua[PROFILE_PG_USER_AGENT_MAX];
    char *details = e->details ? json_dumps(e->details, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    const char *params[7] = { e->event, e->user_id ? profile_pg_int64_param(b, e->user_id) : NULL,
                              e->principal, e->ip,
                              profile_pg_clean_text(ua, sizeof(ua), e->user_agent),
                              e->request_id, details };
    profile_store_rc_t rc;

    if (e->details && !details)
        return PROFILE_STORE_ERROR;
    rc = profile_pg_done(profile_pg_exec(c,
        "INSERT INTO audit_log (event, user_id, principal, ip, user_agent, request_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        7, params), PGRES_COMMAND_OK);
    free(details);
    return rc;
}

/* A text column as a JSON string, NULL as null. */
static json_t *text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *audit_item(const PGresult *res, int row)
{
    json_t *details = NULL;

    if (!PQgetisnull(res, row, 8))
        details = json_loads(PQgetvalue(res, row, 8), JSON_DECODE_ANY, NULL);
    return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", (json_int_t)profile_pg_int64(res, row, 0),
                     "at", PQgetvalue(res, row, 1),
                     "event", PQgetvalue(res, row, 2),
                     "user_id", PQgetisnull(res, row, 3) ? json_null()
                                : json_integer(profile_pg_int64(res, row, 3)),
                     "principal", text_or_null(res, row, 4),
                     "ip", text_or_null(res, row, 5),
                     "user_agent", text_or_null(res, row, 6),
                     "request_id", text_or_null(res, row, 7),
                     "details", details ? details : json_null());
}

/* since and until are both inclusive. */
profile_store_rc_t profile_audit_list(PGconn *c, const profile_audit_query_t *q, json_t **items,
                                      apr_int64_t *next_cursor)
{
    char b_user[PROFILE_PG_NUM_LEN], b_since[PROFILE_PG_NUM_LEN], b_until[PROFILE_PG_NUM_LEN];
    char b_before[PROFILE_PG_NUM_LEN], b_limit[PROFILE_PG_NUM_LEN];
    int limit = q->limit < 1 ? 1 : (q->limit > LIST_MAX ? LIST_MAX : q->limit);
    const char *params[6] = {
        q->event, q->user_id ? profile_pg_int64_param(b_user, q->user_id) : NULL,
        profile_pg_time_param(b_since, q->since), profile_pg_time_param(b_until, q->until),
        q->before_id ? profile_pg_int64_param(b_before, q->before_id) : NULL,
        profile_pg_int64_param(b_limit, limit + 1)
    };
    PGresult *res = profile_pg_exec(c,
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), event,"
        " user_id, principal, ip, user_agent, request_id, details::text FROM audit_log"
        " WHERE ($1::text IS NULL OR event = $1) AND ($2::bigint IS NULL OR user_id = $2)"
        " AND ($3::bigint IS NULL OR at >= " PROFILE_PG_TS(3) ")"
        " AND ($4::bigint IS NULL OR at <= " PROFILE_PG_TS(4) ")"
        " AND ($5::bigint IS NULL OR id < $5)"
        " ORDER BY id DESC LIMIT $6", 6, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;
    json_t *item;

    *items = json_array();
    *next_cursor = 0;
    for (i = 0; i < rows && i < limit && *items; i++) {
        if (!(item = audit_item(res, i)) || json_array_append_new(*items, item) != 0) {
            json_decref(*items);
            *items = NULL;
        }
    }
    if (rc == PROFILE_STORE_OK && !*items)
        rc = PROFILE_STORE_ERROR;
    else if (rows > limit)
        *next_cursor = profile_pg_int64(res, limit - 1, 0);
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_lockout_check(PGconn *c, const char *name, int *locked_for_s)
{
    const char *params[1] = { name };
    PGresult *res = profile_pg_exec(c,
        "SELECT ceil(extract(epoch FROM locked_until - now()))::int FROM login_lockouts"
        " WHERE name = " LOCK_NAME " AND locked_until > now()", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    *locked_for_s = rc == PROFILE_STORE_OK && PQntuples(res) == 1
                    ? (int)profile_pg_int64(res, 0, 0) : 0;
    if (*locked_for_s < 0)
        *locked_for_s = 0;
    PQclear(res);
    return rc;
}

/* Two steps, each atomic on its own: count the failure (a new window once the old one has
 * passed), then lock when the count has reached max_failures. The lock resets the counter,
 * so after it ends a name gets max_failures fresh attempts, and of two concurrent failures
 * that both reach the limit only one finds failures >= max and reports locked_now. */
profile_store_rc_t profile_lockout_fail(PGconn *c, const char *name, int max_failures,
                                        int window_s, int lock_s, int *locked_now)
{
    char b_max[PROFILE_PG_NUM_LEN], b_window[PROFILE_PG_NUM_LEN], b_lock[PROFILE_PG_NUM_LEN];
    const char *count[2] = { name, profile_pg_int64_param(b_window, window_s) };
    const char *lock[3] = { name, profile_pg_int64_param(b_max, max_failures),
                            profile_pg_int64_param(b_lock, lock_s) };
    PGresult *res = profile_pg_exec(c,
        "INSERT INTO login_lockouts AS l (name, failures, window_start)"
        " VALUES (" LOCK_NAME ", 1, now()) ON CONFLICT (name) DO UPDATE SET"
        " failures = CASE WHEN l.window_start > now() - make_interval(secs => $2::int)"
        "  THEN l.failures + 1 ELSE 1 END,"
        " window_start = CASE WHEN l.window_start > now() - make_interval(secs => $2::int)"
        "  THEN l.window_start ELSE now() END"
        " RETURNING failures", 2, count);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int failures = rc == PROFILE_STORE_OK && PQntuples(res) == 1
                   ? (int)profile_pg_int64(res, 0, 0) : 0;

    PQclear(res);
    *locked_now = 0;
    if (rc != PROFILE_STORE_OK || failures < max_failures)
        return rc;
    res = profile_pg_exec(c,
        "UPDATE login_lockouts SET failures = 0, window_start = now(),"
        " locked_until = now() + make_interval(secs => $3::int)"
        " WHERE name = " LOCK_NAME " AND failures >= $2::int", 3, lock);
    rc = profile_pg_rc(res, PGRES_COMMAND_OK);
    *locked_now = rc == PROFILE_STORE_OK && profile_pg_affected(res) > 0;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_lockout_clear(PGconn *c, const char *name)
{
    const char *params[1] = { name };
    return profile_pg_done(profile_pg_exec(c,
        "DELETE FROM login_lockouts WHERE name = " LOCK_NAME, 1, params), PGRES_COMMAND_OK);
}
