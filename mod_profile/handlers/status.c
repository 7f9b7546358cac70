/* GET /status: the service and its live-capture side at a glance, for any authenticated
 * principal: session counts by status, the sidecars and their heartbeats, and the WebSocket
 * streams open through this httpd (all child processes). Without the database it still
 * answers, with "status": "degraded". */
#include <apr_strings.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "lifecycle/lifecycle.h"
#include "store/live_sessions.h"
#include "store/pg_pool.h"
#include "util/respond.h"
#include "ws/ws_slots.h"

/* The sessions and sidecars objects, or 0 when the database cannot say (both stay NULL). */
static int live_state(profile_request_t *pr, json_t **sessions, json_t **sidecars)
{
    apr_pool_t *p = pr->r->pool;
    apr_int64_t counts[PROFILE_LIVE_STATUS_COUNT], total = 0;
    apr_array_header_t *list;
    int retry_after_s = 1, i;
    PGconn *c;

    *sessions = *sidecars = NULL;
    if (!pr->sconf->db_pool
        || !(c = profile_db_acquire(pr->sconf->db_pool, pr->r, &retry_after_s)))
        return 0;
    if (profile_live_status(c, p, counts, &list) != PROFILE_STORE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, pr->r, APLOGNO(10840)
                      "reading the live session status failed: %s", PQerrorMessage(c));
        if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)
            profile_db_mark_broken(pr->sconf->db_pool, pr->r, c);
        return 0;
    }
    *sessions = json_object();
    for (i = 0; i < PROFILE_LIVE_STATUS_COUNT; i++) {
        json_object_set_new(*sessions, profile_live_statuses[i],
                            json_integer((json_int_t)counts[i]));
        total += counts[i];
    }
    json_object_set_new(*sessions, "total", json_integer((json_int_t)total));
    *sidecars = json_array();
    for (i = 0; i < list->nelts; i++) {
        const profile_live_sidecar_t *sc = &APR_ARRAY_IDX(list, i, profile_live_sidecar_t);
        json_array_append_new(*sidecars,
            json_pack("{s:s,s:o,s:o,s:b,s:b,s:I}", "id", sc->id,
                      "version", sc->version ? json_string(sc->version) : json_null(),
                      "heartbeat_at", profile_time_json(p, sc->heartbeat_at),
                      "alive", sc->alive, "stopping", sc->stopping,
                      "sessions", (json_int_t)sc->sessions));
    }
    return 1;
}

int profile_handle_status(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *sessions, *sidecars, *o = json_object();
    int ok = live_state(pr, &sessions, &sidecars), open = profile_ws_slots_open();

    json_object_set_new(o, "status", json_string(ok ? "ok" : "degraded"));
    json_object_set_new(o, "service", json_string("profile-api"));
    json_object_set_new(o, "version", json_string(PROFILE_VERSION));
    json_object_set_new(o, "uptime_s", json_integer((json_int_t)profile_uptime_s()));
    json_object_set_new(o, "timestamp", json_string(profile_iso8601(p, apr_time_now())));
    json_object_set_new(o, "database", json_string(ok ? "ok" : "unavailable"));
    json_object_set_new(o, "principal", json_string(pr->principal->name));
    json_object_set_new(o, "sessions", sessions ? sessions : json_null());
    json_object_set_new(o, "sidecars", sidecars ? sidecars : json_null());
    json_object_set_new(o, "websockets", json_pack("{s:i}", "open", open < 0 ? 0 : open));
    return profile_send_json(pr, HTTP_OK, o);
}
