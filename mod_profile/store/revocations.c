/* The revocation feed; see revocations.h. The schema makes seq follow commit order (a trigger
 * draws it under a lock), so a reader that has seen seq N can never miss a smaller one. */
#include <apr_strings.h>
#include <apr_tables.h>
#include <string.h>

#include "store/pg_util.h"
#include "store/revocations.h"

/* Live jti revocations are loaded whole at start-up; beyond this many (a flood of logouts
 * within one access-token lifetime) the oldest are left out rather than exhausting memory. */
#define LIVE_JTIS_MAX "100000"

#define COLUMNS "seq, kind, subject, " PROFILE_PG_US("at") ", " PROFILE_PG_US("until")

static const char *const kind_names[] = { "jti", "key", "user" };

static void read_entries(apr_pool_t *p, const PGresult *res, apr_array_header_t **out)
{
    int i, rows = PQntuples(res);

    *out = apr_array_make(p, rows > 0 ? rows : 1, sizeof(profile_revocation_t));
    for (i = 0; i < rows; i++) {
        profile_revocation_t *e = apr_array_push(*out);
        const char *kind = PQgetvalue(res, i, 1);
        e->seq = profile_pg_int64(res, i, 0);
        e->kind = !strcmp(kind, "jti") ? PROFILE_REVOKED_JTI
                  : !strcmp(kind, "key") ? PROFILE_REVOKED_KEY : PROFILE_REVOKED_USER;
        e->subject = profile_pg_str(p, res, i, 2);
        e->at = profile_pg_time(res, i, 3);
        e->until = profile_pg_time(res, i, 4);
    }
}

/* Runs a query for entries; *out is empty on failure. */
static profile_store_rc_t query_entries(PGconn *c, apr_pool_t *p, const char *sql, int n,
                                        const char *const *params, apr_array_header_t **out)
{
    PGresult *res = profile_pg_exec(c, sql, n, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK)
        read_entries(p, res, out);
    else
        *out = apr_array_make(p, 1, sizeof(profile_revocation_t));
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_revocations_add(PGconn *c, profile_revocation_kind_t kind,
                                           const char *subject, apr_time_t until)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[3] = { kind_names[kind], subject, profile_pg_time_param(b, until) };

    return profile_pg_done(profile_pg_exec(c,
        "INSERT INTO revocations (kind, subject, until) VALUES ($1, $2, " PROFILE_PG_TS(3) ")",
        3, params), PGRES_COMMAND_OK);
}

profile_store_rc_t profile_revocations_since(PGconn *c, apr_pool_t *p, apr_int64_t after, int limit,
                                             apr_array_header_t **out)
{
    char b_after[PROFILE_PG_NUM_LEN], b_limit[PROFILE_PG_NUM_LEN];
    const char *params[2] = { profile_pg_int64_param(b_after, after),
                              profile_pg_int64_param(b_limit, limit < 1 ? 1 : limit) };

    return query_entries(c, p, "SELECT " COLUMNS " FROM revocations WHERE seq > $1"
                               " ORDER BY seq LIMIT $2", 2, params, out);
}

profile_store_rc_t profile_revocations_head(PGconn *c, apr_int64_t *seq)
{
    PGresult *res = profile_pg_exec(c, "SELECT coalesce(max(seq), 0) FROM revocations", 0, NULL);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    *seq = rc == PROFILE_STORE_OK && PQntuples(res) == 1 ? profile_pg_int64(res, 0, 0) : 0;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_revocations_live_jtis(PGconn *c, apr_pool_t *p, apr_time_t now,
                                                 apr_array_header_t **out)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, now) };

    return query_entries(c, p, "SELECT " COLUMNS " FROM (SELECT * FROM revocations"
                               " WHERE kind = 'jti' AND until > " PROFILE_PG_TS(1)
                               " ORDER BY seq DESC LIMIT " LIVE_JTIS_MAX ") r ORDER BY seq",
                         1, params, out);
}
