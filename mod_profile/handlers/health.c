/* Liveness and readiness: /healthcheck, /health/live, /health/ready. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handlers.h"
#include "lifecycle/lifecycle.h"
#include "store/pg_pool.h"
#include "store/schema.h"
#include "util/respond.h"

/* The load balancers' hot path: formatted without building a JSON tree. Every value is a
 * constant or a number, so nothing needs escaping. */
int profile_handle_healthcheck(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const char *text = apr_psprintf(
        p, "{\"status\":\"healthy\",\"service\":\"profile-api\",\"version\":\"%s\","
           "\"uptime_s\":%" APR_INT64_T_FMT ",\"timestamp\":\"%s\"}",
        PROFILE_VERSION, profile_uptime_s(), profile_iso8601(p, apr_time_now()));
    return profile_send_json_text(pr, HTTP_OK, text, strlen(text));
}

int profile_handle_health_live(profile_request_t *pr)
{
    return profile_send_json(pr, HTTP_OK, json_pack("{s:s}", "status", "alive"));
}

static int not_ready(profile_request_t *pr, int retry_after_s, const char *database,
                     int applied, const char *why)
{
    apr_table_setn(pr->r->err_headers_out, "Retry-After", apr_itoa(pr->r->pool, retry_after_s));
    return profile_send_error(pr, HTTP_SERVICE_UNAVAILABLE, "not_ready",
                              json_pack("{s:s,s:o,s:i}", "database", database, "schema_version",
                                        applied >= 0 ? json_integer(applied) : json_null(),
                                        "required_schema_version", PROFILE_SCHEMA_VERSION),
                              "%s", why);
}

int profile_handle_health_ready(profile_request_t *pr)
{
    int retry_after_s = 1, applied = -1, current;
    PGconn *conn;

    if (!pr->sconf->db_pool)
        return not_ready(pr, 60, "unreachable", -1, "ProfileDatabase is not configured");
    conn = profile_db_acquire(pr->sconf->db_pool, pr->r, &retry_after_s);
    if (!conn)
        return not_ready(pr, retry_after_s, "unreachable", -1, "The database is unreachable");
    current = profile_schema_current(conn, &applied);
    if (current < 0) {
        profile_db_mark_broken(pr->sconf->db_pool, pr->r, conn);
        return not_ready(pr, 1, "unreachable", -1, "The database did not answer");
    }
    if (!current)
        return not_ready(pr, 30, "ok", applied,
                         "The database schema is behind this build: run `profilectl migrate`");
    return profile_send_json(pr, HTTP_OK, json_pack("{s:s,s:i}", "status", "ready",
                                                    "schema_version", applied));
}
