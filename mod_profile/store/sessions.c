/* Login sessions and refresh-token rotation; see sessions.h.
 *
 * Locking: every statement that changes a family locks its auth_sessions row first, and
 * rotation locks the token row after it, so two refreshes of one family queue on the family
 * row and cannot deadlock; revocations touch only the family row. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "store/pg_util.h"
#include "store/sessions.h"

#define LIST_MAX 100

profile_store_rc_t profile_sessions_create(PGconn *c, const char *family_id, apr_int64_t user_id,
                                           const char *token_hash, apr_time_t expires_at,
                                           const char *ip, const char *user_agent)
{
    char b_user[PROFILE_PG_NUM_LEN], b_exp[PROFILE_PG_NUM_LEN], ua[PROFILE_PG_USER_AGENT_MAX];
    const char *params[6] = { family_id, profile_pg_int64_param(b_user, user_id), token_hash,
                              profile_pg_int64_param(b_exp, expires_at), ip,
                              profile_pg_clean_text(ua, sizeof(ua), user_agent) };

    return profile_pg_done(profile_pg_exec(c,
        "WITH s AS (INSERT INTO auth_sessions (id, user_id, expires_at, ip, user_agent)"
        "  VALUES ($1, $2, " PROFILE_PG_TS(4) ", $5, $6) RETURNING id)"
        " INSERT INTO refresh_tokens (token_hash, family_id, expires_at)"
        " SELECT $3, id, " PROFILE_PG_TS(4) " FROM s", 6, params), PGRES_COMMAND_OK);
}

/* What rotation found under its locks. */
typedef struct {
    const char *family_id;
    apr_int64_t user_id;
    int family_live;           /* not revoked, not expired */
    int token_used;
    int token_live;            /* not expired */
} refresh_state_t;

/* Locks the family of token_hash, then the token, and reads their state; NOT_FOUND when
 * there is no such token. Runs inside the rotation's transaction. */
static profile_store_rc_t lock_token(PGconn *c, apr_pool_t *p, const char *token_hash,
                                     refresh_state_t *st)
{
    const char *params[2] = { token_hash, NULL };
    PGresult *res = profile_pg_exec(c,
        "SELECT id, user_id, revoked_at IS NULL AND expires_at > now() FROM auth_sessions"
        " WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) FOR UPDATE",
        1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        st->family_id = profile_pg_str(p, res, 0, 0);
        st->user_id = profile_pg_int64(res, 0, 1);
        st->family_live = profile_pg_bool(res, 0, 2);
    }
    PQclear(res);
    if (rc != PROFILE_STORE_OK)
        return rc;

    params[1] = st->family_id;
    res = profile_pg_exec(c, "SELECT used_at IS NOT NULL, expires_at > now() FROM refresh_tokens"
                             " WHERE token_hash = $1 AND family_id = $2 FOR UPDATE", 2, params);
    rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        st->token_used = profile_pg_bool(res, 0, 0);
        st->token_live = profile_pg_bool(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

/* A spent token came back: revoke the family and end its live token. */
static profile_store_rc_t revoke_reused(PGconn *c, const char *family_id)
{
    const char *params[1] = { family_id };
    profile_store_rc_t rc = profile_pg_done(profile_pg_exec(c,
        "UPDATE auth_sessions SET revoked_at = now() WHERE id = $1", 1, params),
        PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK)
        rc = profile_pg_done(profile_pg_exec(c,
            "UPDATE refresh_tokens SET expires_at = least(expires_at, now())"
            " WHERE family_id = $1 AND used_at IS NULL", 1, params), PGRES_COMMAND_OK);
    return rc;
}

static profile_store_rc_t rotate_live(PGconn *c, const char *token_hash, const char *family_id,
                                      const char *new_hash, apr_time_t new_expires_at,
                                      const char *ip, const char *user_agent)
{
    char b_exp[PROFILE_PG_NUM_LEN], ua[PROFILE_PG_USER_AGENT_MAX];
    const char *expires = profile_pg_int64_param(b_exp, new_expires_at);
    const char *spend[1] = { token_hash };
    const char *add[3] = { new_hash, family_id, expires };
    const char *touch[4] = { family_id, expires, ip,
                             profile_pg_clean_text(ua, sizeof(ua), user_agent) };
    profile_store_rc_t rc = profile_pg_done(profile_pg_exec(c,
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", 1, spend),
        PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK)
        rc = profile_pg_done(profile_pg_exec(c,
            "INSERT INTO refresh_tokens (token_hash, family_id, expires_at)"
            " VALUES ($1, $2, " PROFILE_PG_TS(3) ")", 3, add), PGRES_COMMAND_OK);
    if (rc == PROFILE_STORE_OK)
        rc = profile_pg_done(profile_pg_exec(c,
            "UPDATE auth_sessions SET last_used_at = now(), expires_at = " PROFILE_PG_TS(2) ","
            " ip = coalesce($3, ip), user_agent = coalesce($4, user_agent)"
            " WHERE id = $1", 4, touch), PGRES_COMMAND_OK);
    return rc;
}

/* Check order: a revoked or expired family knows no tokens at all; a spent token in a live
 * family is reuse, whatever its own expiry; otherwise the token must be unexpired. */
profile_store_rc_t profile_sessions_rotate(PGconn *c, apr_pool_t *p, const char *token_hash,
                                           const char *new_hash, apr_time_t new_expires_at,
                                           const char *ip, const char *user_agent,
                                           profile_refresh_result_t *result,
                                           apr_int64_t *user_id, const char **family_id)
{
    refresh_state_t st = { NULL, 0, 0, 0, 0 };
    profile_store_rc_t rc = profile_pg_begin(c);

    *result = PROFILE_REFRESH_UNKNOWN;
    if (rc == PROFILE_STORE_OK)
        rc = lock_token(c, p, token_hash, &st);
    if (rc == PROFILE_STORE_NOT_FOUND) {
        rc = PROFILE_STORE_OK;
    }
    else if (rc == PROFILE_STORE_OK && st.family_live && st.token_used) {
        if ((rc = revoke_reused(c, st.family_id)) == PROFILE_STORE_OK)
            *result = PROFILE_REFRESH_REUSED;
    }
    else if (rc == PROFILE_STORE_OK && st.family_live && st.token_live) {
        rc = rotate_live(c, token_hash, st.family_id, new_hash, new_expires_at, ip, user_agent);
        if (rc == PROFILE_STORE_OK)
            *result = PROFILE_REFRESH_ROTATED;
    }
    if (rc == PROFILE_STORE_OK)
        rc = profile_pg_commit(c);
    if (rc != PROFILE_STORE_OK) {
        profile_pg_rollback(c);
        *result = PROFILE_REFRESH_UNKNOWN;
        /* A new hash that collides with a stored one is a failure, not a client's conflict. */
        return PROFILE_STORE_ERROR;
    }
    if (*result != PROFILE_REFRESH_UNKNOWN) {
        *user_id = st.user_id;
        *family_id = st.family_id;
    }
    return PROFILE_STORE_OK;
}

profile_store_rc_t profile_sessions_revoke(PGconn *c, apr_int64_t user_id, const char *family_id)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[2] = { family_id, profile_pg_int64_param(b, user_id) };
    PGresult *res = profile_pg_exec(c, "UPDATE auth_sessions SET revoked_at = now()"
                                       " WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                                    2, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK && profile_pg_affected(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_sessions_revoke_all(PGconn *c, apr_int64_t user_id)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, user_id) };

    return profile_pg_done(profile_pg_exec(c, "UPDATE auth_sessions SET revoked_at = now()"
                                              " WHERE user_id = $1 AND revoked_at IS NULL",
                                           1, params), PGRES_COMMAND_OK);
}

profile_store_rc_t profile_sessions_list(PGconn *c, apr_pool_t *p, apr_int64_t user_id,
                                         apr_array_header_t **out)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, user_id) };
    PGresult *res = profile_pg_exec(c,
        "SELECT id, user_id, " PROFILE_PG_US("created_at") ", " PROFILE_PG_US("last_used_at") ", "
        PROFILE_PG_US("expires_at") ", " PROFILE_PG_US("revoked_at") ", ip, user_agent"
        " FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
        " ORDER BY created_at DESC, id LIMIT " APR_STRINGIFY(LIST_MAX), 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    int i, rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;

    *out = apr_array_make(p, rows > 0 ? rows : 1, sizeof(profile_session_t));
    for (i = 0; i < rows; i++) {
        profile_session_t *s = apr_array_push(*out);
        s->id = profile_pg_str(p, res, i, 0);
        s->user_id = profile_pg_int64(res, i, 1);
        s->created_at = profile_pg_time(res, i, 2);
        s->last_used_at = profile_pg_time(res, i, 3);
        s->expires_at = profile_pg_time(res, i, 4);
        s->revoked_at = profile_pg_time(res, i, 5);
        s->ip = profile_pg_str(p, res, i, 6);
        s->user_agent = profile_pg_str(p, res, i, 7);
    }
    PQclear(res);
    return rc;
}
