/* API keys; see keys.h. Revoking or rotating a key appends a KEY entry to the revocation feed
 * in the same statement, so no process keeps serving a cached copy of it. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "store/keys.h"
#include "store/pg_util.h"

#define LIST_MAX 1000

#define KEY_COLUMNS \
    "k.id, k.user_id, u.username, u.role, u.active, k.name, k.scopes, " \
    PROFILE_PG_US("k.expires_at") ", k.rate_limit_requests, k.rate_limit_window_s, " \
    PROFILE_PG_US("k.created_at") ", " PROFILE_PG_US("k.last_used_at") ", " \
    PROFILE_PG_US("k.revoked_at") ", " PROFILE_PG_US("k.previous_valid_until")

#define SELECT_KEY "SELECT " KEY_COLUMNS " FROM api_keys k JOIN users u ON u.id = k.user_id "

/* Appends a KEY feed entry for every row the statement's CTE "k" returns. */
#define FEED_KEYS " INSERT INTO revocations (kind, subject) SELECT 'key', id FROM k"

static int int_or_none(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? -1 : (int)profile_pg_int64(res, row, col);
}

static void read_key(apr_pool_t *p, const PGresult *res, int row, profile_key_t *k)
{
    k->id = profile_pg_str(p, res, row, 0);
    k->user_id = profile_pg_int64(res, row, 1);
    k->owner_username = profile_pg_str(p, res, row, 2);
    k->owner_role = profile_role_parse(PQgetvalue(res, row, 3));
    k->owner_active = profile_pg_bool(res, row, 4);
    k->name = profile_pg_str(p, res, row, 5);
    k->scopes = (unsigned)profile_pg_int64(res, row, 6);
    k->expires_at = profile_pg_time(res, row, 7);
    k->rate_limit_requests = int_or_none(res, row, 8);
    k->rate_limit_window_s = int_or_none(res, row, 9);
    k->created_at = profile_pg_time(res, row, 10);
    k->last_used_at = profile_pg_time(res, row, 11);
    k->revoked_at = profile_pg_time(res, row, 12);
    k->previous_valid_until = profile_pg_time(res, row, 13);
}

/* One key out of res (cleared). */
static profile_store_rc_t one_key(apr_pool_t *p, PGresult *res, profile_key_t *out)
{
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    else if (rc == PROFILE_STORE_OK)
        read_key(p, res, 0, out);
    PQclear(res);
    return rc;
}

/* OK when the statement touched a row, else NOT_FOUND; clears res. */
static profile_store_rc_t touched(PGresult *res)
{
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK && profile_pg_affected(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    PQclear(res);
    return rc;
}

static const char *int_param(char buf[PROFILE_PG_NUM_LEN], int v)
{
    return v < 0 ? NULL : profile_pg_int64_param(buf, v);
}

profile_store_rc_t profile_keys_create(PGconn *c, const char *id, apr_int64_t user_id,
                                       const char *name, const char *secret_hash, unsigned scopes,
                                       apr_time_t expires_at, int rl_requests, int rl_window_s)
{
    char b_user[PROFILE_PG_NUM_LEN], b_scopes[PROFILE_PG_NUM_LEN], b_exp[PROFILE_PG_NUM_LEN];
    char b_req[PROFILE_PG_NUM_LEN], b_win[PROFILE_PG_NUM_LEN];
    const char *params[8] = { id, profile_pg_int64_param(b_user, user_id), name, secret_hash,
                              profile_pg_int64_param(b_scopes, scopes),
                              profile_pg_time_param(b_exp, expires_at),
                              int_param(b_req, rl_requests), int_param(b_win, rl_window_s) };

    /* A rate limit is both numbers or neither. */
    if (!params[6] || !params[7])
        params[6] = params[7] = NULL;
    return profile_pg_done(profile_pg_exec(c,
        "INSERT INTO api_keys (id, user_id, name, secret_hash, scopes, expires_at,"
        " rate_limit_requests, rate_limit_window_s)"
        " VALUES ($1, $2, $3, $4, $5, " PROFILE_PG_TS(6) ", $7, $8)", 8, params),
        PGRES_COMMAND_OK);
}

/* Hashes are compared in SQL: the hash of a secret gives a timing observer nothing. */
profile_store_rc_t profile_keys_lookup(PGconn *c, apr_pool_t *p, const char *id,
                                       const char *secret_hash, profile_key_t *out)
{
    const char *params[2] = { id, secret_hash };

    return one_key(p, profile_pg_exec(c, SELECT_KEY
        "WHERE k.id = $1 AND k.revoked_at IS NULL AND (k.secret_hash = $2"
        " OR (k.previous_secret_hash = $2 AND k.previous_valid_until > now()))", 2, params), out);
}

profile_store_rc_t profile_keys_get(PGconn *c, apr_pool_t *p, const char *id, profile_key_t *out)
{
    const char *params[1] = { id };
    return one_key(p, profile_pg_exec(c, SELECT_KEY "WHERE k.id = $1", 1, params), out);
}

profile_store_rc_t profile_keys_list(PGconn *c, apr_pool_t *p, apr_int64_t user_id,
                                     apr_array_header_t **out)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, user_id) };
    PGresult *res = profile_pg_exec(c, SELECT_KEY
        "WHERE $1::bigint = 0 OR k.user_id = $1"
        " ORDER BY k.created_at DESC, k.id LIMIT " APR_STRINGIFY(LIST_MAX), 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;

    *out = apr_array_make(p, rows > 0 ? rows : 1, sizeof(profile_key_t));
    for (i = 0; i < rows; i++)
        read_key(p, res, i, apr_array_push(*out));
    PQclear(res);
    return rc;
}

/* An already revoked key keeps its first revoked_at; it still gets a feed entry (harmless). */
profile_store_rc_t profile_keys_revoke(PGconn *c, const char *id)
{
    const char *params[1] = { id };
    return touched(profile_pg_exec(c,
        "WITH k AS (UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = $1 RETURNING id)" FEED_KEYS, 1, params));
}

/* A revoked key cannot be rotated (NOT_FOUND). Rotating again within the grace period ends
 * the grace of the secret before. */
profile_store_rc_t profile_keys_rotate(PGconn *c, const char *id, const char *new_secret_hash,
                                       int grace_s)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[3] = { id, new_secret_hash,
                              profile_pg_int64_param(b, grace_s < 0 ? 0 : grace_s) };
    return touched(profile_pg_exec(c,
        "WITH k AS (UPDATE api_keys SET previous_secret_hash = secret_hash,"
        " previous_valid_until = now() + make_interval(secs => $3::int), secret_hash = $2"
        " WHERE id = $1 AND revoked_at IS NULL RETURNING id)" FEED_KEYS, 3, params));
}

profile_store_rc_t profile_keys_revoke_user(PGconn *c, apr_int64_t user_id)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, user_id) };
    return profile_pg_done(profile_pg_exec(c,
        "WITH k AS (UPDATE api_keys SET revoked_at = now()"
        " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id)" FEED_KEYS, 1, params),
        PGRES_COMMAND_OK);
}

/* Never moves last_used_at backwards (processes write their minute's mark in any order). */
profile_store_rc_t profile_keys_touch(PGconn *c, const char *id, apr_time_t used_at)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[2] = { id, profile_pg_int64_param(b, used_at) };
    return touched(profile_pg_exec(c,
        "UPDATE api_keys SET last_used_at = greatest(last_used_at, " PROFILE_PG_TS(2) ")"
        " WHERE id = $1", 2, params));
}
