/* Tables profiles (the persistent cache layer) and live_profiles (the live tier); see
 * profiles.h. Expiry is judged by the caller's clock where the interface passes one (clear,
 * stats) and by the database's otherwise. */
#include <apr_strings.h>

#include "store/pg_util.h"
#include "store/profiles.h"

/* Buffer size for a stored nickname (longer ones are cut; the column's CHECK matches). */
#define NICKNAME_MAX 256

/* The body goes as a binary text parameter of exactly body_len bytes, so it needs no
 * terminator and the stored bytes are the ones the ETag was computed over. */
static PGresult *exec_put(PGconn *c, const char *const *params, int body_len)
{
    static const int formats[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
    const int lengths[8] = { 0, 0, 0, body_len, 0, 0, 0, 0 };
    PGresult *res = PQexecParams(c,
        "INSERT INTO profiles (username, status, tier, body, etag, fetched_at, expires_at,"
        " stale_until) VALUES ($1, $2, $3, $4, $5, " PROFILE_PG_TS(6) ", " PROFILE_PG_TS(7) ", "
        PROFILE_PG_TS(8) ") ON CONFLICT (username) DO UPDATE SET status = EXCLUDED.status,"
        " tier = EXCLUDED.tier, body = EXCLUDED.body, etag = EXCLUDED.etag,"
        " fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at,"
        " stale_until = EXCLUDED.stale_until", 8, NULL, params, lengths, formats, 0);
    return res ? res : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

profile_store_rc_t profile_store_profile_get(PGconn *c, apr_pool_t *p, const char *username,
                                             profile_cache_entry_t *out)
{
    const char *params[1] = { username };
    PGresult *res = profile_pg_exec(c,
        "SELECT status, coalesce(tier, -1), body, etag, " PROFILE_PG_US("fetched_at") ", "
        PROFILE_PG_US("expires_at") ", " PROFILE_PG_US("stale_until") " FROM profiles"
        " WHERE username = $1 AND stale_until > now()", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        out->status = (int)profile_pg_int64(res, 0, 0);
        out->tier = (int)profile_pg_int64(res, 0, 1);
        out->body = profile_pg_str(p, res, 0, 2);
        out->body_len = (apr_size_t)PQgetlength(res, 0, 2);
        out->etag = (apr_uint64_t)profile_pg_int64(res, 0, 3);
        out->fetched_at = profile_pg_time(res, 0, 4);
        out->expires_at = profile_pg_time(res, 0, 5);
        out->stale_until = profile_pg_time(res, 0, 6);
    }
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_store_profile_put(PGconn *c, const char *username,
                                             const profile_cache_entry_t *e)
{
    char b_status[PROFILE_PG_NUM_LEN], b_tier[PROFILE_PG_NUM_LEN], b_etag[PROFILE_PG_NUM_LEN];
    char b_fetched[PROFILE_PG_NUM_LEN], b_expires[PROFILE_PG_NUM_LEN], b_stale[PROFILE_PG_NUM_LEN];
    const char *params[8] = { username, profile_pg_int64_param(b_status, e->status),
                              e->tier < 0 ? NULL : profile_pg_int64_param(b_tier, e->tier),
                              e->body ? e->body : "",
                              profile_pg_int64_param(b_etag, (apr_int64_t)e->etag),
                              profile_pg_int64_param(b_fetched, e->fetched_at),
                              profile_pg_int64_param(b_expires, e->expires_at),
                              profile_pg_int64_param(b_stale, e->stale_until) };

    /* No layer stores a body the cache layers refuse (cache_entry.h); sending one would only
     * have the column's CHECK refuse it. */
    if (e->body && e->body_len > PROFILE_CACHE_BODY_MAX)
        return PROFILE_STORE_ERROR;
    return profile_pg_done(exec_put(c, params, e->body ? (int)e->body_len : 0),
                           PGRES_COMMAND_OK);
}

profile_store_rc_t profile_store_profile_delete(PGconn *c, const char *username, int *removed)
{
    const char *params[1] = { username };
    PGresult *res = profile_pg_exec(c, "DELETE FROM profiles WHERE username = $1", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    *removed = rc == PROFILE_STORE_OK ? profile_pg_affected(res) : 0;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_store_profile_clear_expired(PGconn *c, apr_time_t now,
                                                       apr_int64_t *removed)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, now) };
    PGresult *res = profile_pg_exec(c,
        "DELETE FROM profiles WHERE expires_at <= " PROFILE_PG_TS(1), 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    *removed = rc == PROFILE_STORE_OK ? apr_atoi64(PQcmdTuples(res)) : 0;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_store_profile_stats(PGconn *c, apr_time_t now,
                                               profile_store_profile_stats_t *out)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, now) };
    PGresult *res = profile_pg_exec(c,
        "SELECT count(*), coalesce(sum(octet_length(body)), 0),"
        " count(*) FILTER (WHERE expires_at <= " PROFILE_PG_TS(1) ") FROM profiles", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) != 1)
        rc = PROFILE_STORE_ERROR;
    if (rc == PROFILE_STORE_OK) {
        out->entries = profile_pg_int64(res, 0, 0);
        out->bytes = profile_pg_int64(res, 0, 1);
        out->expired = profile_pg_int64(res, 0, 2);
    }
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_store_live_get(PGconn *c, apr_pool_t *p, const char *username,
                                          profile_live_seen_t *out)
{
    const char *params[1] = { username };
    PGresult *res = profile_pg_exec(c,
        "SELECT user_id, nickname, avatar_url, " PROFILE_PG_US("seen_at")
        " FROM live_profiles WHERE username = $1", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        out->user_id = profile_pg_str(p, res, 0, 0);
        out->nickname = profile_pg_str(p, res, 0, 1);
        out->avatar_url = profile_pg_str(p, res, 0, 2);
        out->seen_at = profile_pg_time(res, 0, 3);
    }
    PQclear(res);
    return rc;
}

/* A nickname is what a live stream showed: cut and cleaned so the database never refuses it. */
profile_store_rc_t profile_store_live_put(PGconn *c, const char *username,
                                          const profile_live_seen_t *seen)
{
    char b_seen[PROFILE_PG_NUM_LEN], nick[NICKNAME_MAX];
    const char *params[5] = { username, seen->user_id,
                              profile_pg_clean_text(nick, sizeof(nick), seen->nickname),
                              seen->avatar_url, profile_pg_int64_param(b_seen, seen->seen_at) };

    return profile_pg_done(profile_pg_exec(c,
        "INSERT INTO live_profiles (username, user_id, nickname, avatar_url, seen_at)"
        " VALUES ($1, $2, $3, $4, " PROFILE_PG_TS(5) ") ON CONFLICT (username) DO UPDATE"
        " SET user_id = EXCLUDED.user_id, nickname = EXCLUDED.nickname,"
        " avatar_url = EXCLUDED.avatar_url, seen_at = EXCLUDED.seen_at"
        " WHERE live_profiles.seen_at <= EXCLUDED.seen_at", 5, params), PGRES_COMMAND_OK);
}
