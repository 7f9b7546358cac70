/* /monitoring/ping, /monitoring/detailed (component health) and /monitoring/metrics
 * (request counts and latency over the last minutes, and rate-limit counts, from shared
 * memory). */
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_main.h>
#include <scoreboard.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "lifecycle/lifecycle.h"
#include "metrics/metrics_shm.h"
#include "monitoring/probes.h"
#include "monitoring/system.h"
#include "ratelimit/rl_stats.h"
#include "routes/routes.h"
#include "store/pg_pool.h"
#include "util/respond.h"

#define TIME_WINDOW_PARAM "time_window"
#define TIME_WINDOW_DEFAULT 5
#define TIME_WINDOW_MAX 60
#define DISK_LOW_PERCENT 5.0

static const char *const class_names[PROFILE_METRICS_STATUS_CLASSES] = {
    "1xx", "2xx", "3xx", "4xx", "5xx"
};

/* Rounds to `digits` decimals so the JSON shows 1.234 rather than 1.2340000000000002. */
static json_t *rounded(double v, int digits)
{
    double scale = 1.0;

    while (digits-- > 0)
        scale *= 10.0;
    return json_real((double)(apr_int64_t)(v * scale + 0.5) / scale);
}

int profile_handle_monitoring_ping(profile_request_t *pr)
{
    return profile_send_json(pr, HTTP_OK,
                             json_pack("{s:b,s:s}", "pong", 1, "timestamp",
                                       profile_iso8601(pr->r->pool, apr_time_now())));
}

/* {"status","round_trip_ms"} plus "error" when unhealthy. */
static json_t *probe_json(const profile_probe_t *probe)
{
    json_t *o = json_object();

    json_object_set_new(o, "status", json_string(probe->healthy ? "healthy" : "unhealthy"));
    json_object_set_new(o, "round_trip_ms",
                        probe->healthy ? rounded(probe->round_trip_ms, 3) : json_null());
    if (!probe->healthy)
        json_object_set_new(o, "error", json_string(probe->error));
    return o;
}

/* The first line of a libpq message, which ends in a newline. */
static const char *pg_message(apr_pool_t *p, const char *msg)
{
    apr_size_t len = strcspn(msg, "\r\n");

    return len ? apr_pstrndup(p, msg, len) : "SELECT 1 failed";
}

static json_t *database_component(profile_request_t *pr, int *healthy)
{
    request_rec *r = pr->r;
    profile_db_pool_t *pool = pr->sconf->db_pool;
    profile_db_pool_stats_t stats;
    profile_probe_t probe = { 0, 0.0, NULL };
    json_t *o, *pool_json = json_null();
    int retry_after_s = 1;
    PGconn *conn;

    if (!pool)
        probe.error = "ProfileDatabase is not configured";
    else {
        profile_db_pool_stats(pool, &stats);
        pool_json = json_pack("{s:i,s:i,s:i}", "in_use", stats.in_use, "idle", stats.idle,
                              "max", stats.max);
        conn = profile_db_acquire(pool, r, &retry_after_s);
        if (!conn) {
            /* The pool has logged why. */
            profile_db_pool_stats(pool, &stats);
            probe.error = stats.down ? "the database is unreachable"
                                     : "no free database connection";
        }
        else {
            apr_time_t start = apr_time_now();
            PGresult *res = PQexecParams(conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0);

            probe.round_trip_ms = (double)(apr_time_now() - start) / 1000.0;
            if (PQresultStatus(res) == PGRES_TUPLES_OK)
                probe.healthy = 1;
            else {
                probe.error = pg_message(r->pool, PQerrorMessage(conn));
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10565)
                              "database probe failed: %s", probe.error);
                profile_db_mark_broken(pool, r, conn);
            }
            PQclear(res);
        }
    }
    *healthy = probe.healthy;
    o = probe_json(&probe);
    json_object_set_new(o, "pool", pool_json);
    return o;
}

static json_t *dependency_component(request_rec *r, const profile_probe_t *probe,
                                    const char *name, int *healthy)
{
    if (!probe->healthy)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10566)
                      "%s probe failed: %s", name, probe->error);
    *healthy = *healthy && probe->healthy;
    return probe_json(probe);
}

/* "/var/log/apache2/" → "/var/log/apache2", so equal directories compare equal. */
static const char *trim_dir(apr_pool_t *p, const char *dir)
{
    apr_size_t len = strlen(dir);

    while (len > 1 && dir[len - 1] == '/')
        len--;
    return apr_pstrndup(p, dir, len);
}

/* The directory of the main server's error log, NULL when it is not a file. */
static const char *log_dir(apr_pool_t *p)
{
    const char *fname = ap_server_conf ? ap_server_conf->error_fname : NULL;
    const char *path;

    if (!fname || *fname == '|' || strncasecmp(fname, "syslog", 6) == 0)
        return NULL;
    path = ap_server_root_relative(p, fname);
    return path ? trim_dir(p, ap_make_dirstr_parent(p, path)) : NULL;
}

static void add_disk_path(apr_pool_t *p, json_t *paths, const char *dir, int *ok)
{
    profile_disk_usage_t du;
    apr_status_t rv;
    char buf[120];

    rv = profile_disk_usage(dir, &du);
    if (rv != APR_SUCCESS) {
        json_array_append_new(paths, json_pack("{s:s,s:s}", "path", dir, "error",
                                               apr_strerror(rv, buf, sizeof(buf))));
        *ok = 0;
        return;
    }
    if (du.free_percent < DISK_LOW_PERCENT)
        *ok = 0;
    json_array_append_new(paths, json_pack("{s:s,s:I,s:I,s:o}", "path", apr_pstrdup(p, dir),
                                           "free_bytes", (json_int_t)du.free_bytes,
                                           "total_bytes", (json_int_t)du.total_bytes,
                                           "free_percent", rounded(du.free_percent, 2)));
}

static json_t *disk_component(request_rec *r, int *ok)
{
    const char *run = ap_runtime_dir_relative(r->pool, "");
    const char *logs = log_dir(r->pool);
    json_t *paths = json_array();

    *ok = 1;
    if (run) {
        run = trim_dir(r->pool, run);
        add_disk_path(r->pool, paths, run, ok);
    }
    if (logs && (!run || strcmp(logs, run) != 0))
        add_disk_path(r->pool, paths, logs, ok);
    return json_pack("{s:s,s:o}", "status", *ok ? "healthy" : "degraded", "paths", paths);
}

/* The master process: our parent, unless httpd runs as a single process (-X). */
static pid_t master_pid(void)
{
    if (ap_exists_config_define("ONE_PROCESS") || ap_exists_config_define("DEBUG"))
        return getpid();
    return getppid();
}

static json_t *memory_component(request_rec *r)
{
    int limit = ap_scoreboard_image ? ap_scoreboard_image->global->server_limit : 0;
    pid_t *pids = apr_palloc(r->pool, sizeof(pid_t) * (apr_size_t)(limit + 2));
    apr_uint64_t rss;
    int i, n = 0, counted;

    pids[n++] = master_pid();
    pids[n++] = getpid();
    for (i = 0; i < limit; i++)
        pids[n++] = ap_scoreboard_image->parent[i].pid;
    profile_processes_rss(pids, n, &rss, &counted);
    return json_pack("{s:s,s:I,s:i}", "status", "healthy", "rss_bytes", (json_int_t)rss,
                     "processes", counted);
}

int profile_handle_monitoring_detailed(profile_request_t *pr)
{
    request_rec *r = pr->r;
    json_t *components = json_object();
    int db_ok, deps_ok = 1, disk_ok;
    const char *status;

    json_object_set_new(components, "database", database_component(pr, &db_ok));
    if (pr->sconf->redis) {
        profile_probe_t probe;

        profile_probe_redis(r->pool, pr->sconf->redis, &probe);
        json_object_set_new(components, "redis",
                            dependency_component(r, &probe, "redis", &deps_ok));
    }
    if (pr->sconf->sidecar_url) {
        profile_probe_t probe;

        profile_probe_sidecar(r->pool, pr->sconf->sidecar_url, &probe);
        json_object_set_new(components, "sidecar",
                            dependency_component(r, &probe, "sidecar", &deps_ok));
    }
    json_object_set_new(components, "disk", disk_component(r, &disk_ok));
    json_object_set_new(components, "memory", memory_component(r));

    status = !db_ok ? "unhealthy" : (!deps_ok || !disk_ok) ? "degraded" : "healthy";
    return profile_send_json(pr, db_ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE,
                             json_pack("{s:s,s:s,s:I,s:s,s:o}", "status", status,
                                       "version", PROFILE_VERSION,
                                       "uptime_s", (json_int_t)profile_uptime_s(),
                                       "timestamp", profile_iso8601(r->pool, apr_time_now()),
                                       "components", components));
}

/* ?time_window=: 0 with *minutes set, or -1 with *bad pointing at the rejected value. */
static int time_window(request_rec *r, int *minutes, const char **bad)
{
    char *raw = profile_query_param(r->pool, r->args, TIME_WINDOW_PARAM);
    long v;

    *minutes = TIME_WINDOW_DEFAULT;
    if (!raw)
        return 0;
    if (ap_unescape_url(raw) != OK || profile_parse_int(r->pool, raw, 1, TIME_WINDOW_MAX, &v)) {
        *bad = raw;
        return -1;
    }
    *minutes = (int)v;
    return 0;
}

static apr_uint64_t classes_total(const apr_uint64_t *counts)
{
    apr_uint64_t total = 0;
    int c;

    for (c = 0; c < PROFILE_METRICS_STATUS_CLASSES; c++)
        total += counts[c];
    return total;
}

/* {"1xx":n,…,"5xx":n} added to o. */
static json_t *classes_json(json_t *o, const apr_uint64_t *counts)
{
    int c;

    for (c = 0; c < PROFILE_METRICS_STATUS_CLASSES; c++)
        json_object_set_new(o, class_names[c], json_integer((json_int_t)counts[c]));
    return o;
}

int profile_handle_monitoring_metrics(profile_request_t *pr)
{
    request_rec *r = pr->r;
    profile_metrics_t *m = profile_metrics_shm();
    profile_metrics_summary_t sum;
    json_t *by_route;
    apr_time_t now = apr_time_now();
    const char *bad = NULL;
    int minutes, i;

    if (time_window(r, &minutes, &bad) != 0)
        return profile_send_error(
            pr, HTTP_BAD_REQUEST, "invalid_parameter",
            json_pack("{s:s,s:i,s:i}", "parameter", TIME_WINDOW_PARAM, "minimum", 1, "maximum",
                      TIME_WINDOW_MAX),
            "time_window must be a whole number of minutes from 1 to %d, got '%.64s'",
            TIME_WINDOW_MAX, bad);
    if (!m)
        return profile_send_unavailable(pr, 60, "Request metrics are not available");
    by_route = json_object();
    profile_metrics_summarize(m, minutes, now, &sum);
    for (i = 0; i <= profile_route_count; i++) {
        apr_uint64_t total = classes_total(sum.by_route[i]);

        if (total)
            json_object_set_new(by_route, profile_route_label(r->pool, i),
                                classes_json(json_pack("{s:I}", "total", (json_int_t)total),
                                             sum.by_route[i]));
    }
    return profile_send_json(
        pr, HTTP_OK,
        json_pack("{s:i,s:s,s:I,s:{s:I,s:o,s:o},s:{s:o,s:o,s:o},s:o,s:o}",
                  "time_window_minutes", minutes,
                  "generated_at", profile_iso8601(r->pool, now),
                  "uptime_s", (json_int_t)profile_uptime_s(),
                  "requests", "total", (json_int_t)sum.total, "by_status_class",
                  classes_json(json_object(), sum.by_class),
                  "by_route", by_route,
                  "latency_ms", "p50", rounded(sum.p50_ms, 3), "p95", rounded(sum.p95_ms, 3),
                  "p99", rounded(sum.p99_ms, 3),
                  "error_rate", rounded(sum.error_rate, 4),
                  "rate_limits", profile_rl_stats_json()));
}
