/* The history thread (see db/history.h): a bounded FIFO of requests from the WebSocket loop,
 * served one at a time on the thread's own connection. Each request is one statement that
 * reads the session's status and last_offset together with the events after the requested
 * offset (one snapshot, so last_offset and the events agree); the result goes back with
 * live_hub_history. A request whose read fails on a connection that broke meanwhile (a
 * server restart while idle) is retried once on a new connection. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/history.h"
#include "db/pg.h"
#include "events/event.h"
#include "ws/hub.h"

#define LIVE_HISTORY_QUEUE 1024

static const char SQL_HISTORY[] =
    "SELECT s.status, s.last_offset, e.\"offset\", e.type, e.body"
    " FROM live_sessions s"
    " LEFT JOIN LATERAL (SELECT le.\"offset\", le.type, le.body FROM live_events le"
    " WHERE le.session_id = s.id AND le.\"offset\" > $2::bigint"
    " ORDER BY le.\"offset\" LIMIT $3::integer) e ON true"
    " WHERE s.id = $1"
    " ORDER BY e.\"offset\"";

static struct {
    live_config_t cfg;
    pthread_t thread;
    int started;                 /* guarded by lock */
    int quit;                    /* guarded by lock */
    live_history_request_t queue[LIVE_HISTORY_QUEUE];
    int head, count;             /* guarded by lock */
    PGconn *conn;                /* the thread's */
} hi;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static int is_final_status(const char *s)
{
    return strcmp(s, "ended") == 0 || strcmp(s, "failed") == 0;
}

/* The body's "status" is ended or failed. */
static int body_is_final(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "status"));
    int final = st && is_final_status(st);
    json_decref(j);
    return final;
}

/* The rows of SQL_HISTORY → res. -1 on a row the loop could not use or out of memory. */
static int fill_result(live_history_result_t *res, PGresult *r)
{
    int rows = PQntuples(r);
    live_frame_t *head = NULL, **tail = &head;

    if (rows == 0)
        return 0;                /* found stays 0 */
    res->found = 1;
    snprintf(res->status, sizeof res->status, "%s", PQgetvalue(r, 0, 0));
    res->last_offset = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    int session_final = is_final_status(res->status);

    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, 2))
            continue;            /* the session has no event after `after` */
        int64_t offset = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        const char *type_name = PQgetvalue(r, i, 3);
        const char *body = PQgetvalue(r, i, 4);
        size_t len = (size_t)PQgetlength(r, i, 4);
        live_event_type_t type;
        if (live_event_type_parse(type_name, strlen(type_name), &type) != 0) {
            LIVE_ERROR("history: session %s event %lld has an unknown type", res->session_id,
                       (long long)offset);
            goto failed;
        }
        int final = type == LIVE_EV_STATUS && session_final && offset == res->last_offset
                    && body_is_final(body, len);
        live_frame_t *f = live_frame_new(offset, type, final, body, len);
        if (!f) {
            LIVE_ERROR("history: out of memory reading session %s", res->session_id);
            goto failed;
        }
        *tail = f;
        tail = &f->next;
    }
    res->frames = head;
    return 0;
failed:
    live_frame_free_chain(head);
    return -1;
}

static live_history_result_t *history_read(const live_history_request_t *req)
{
    live_history_result_t *res = calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->request_id = req->request_id;
    memcpy(res->session_id, req->session_id, sizeof res->session_id);
    res->session_id[sizeof res->session_id - 1] = '\0';

    int limit = req->limit;
    int batch = hi.cfg.history_batch > 0 ? hi.cfg.history_batch : 1000;
    if (limit <= 0 || limit > batch)
        limit = batch;
    char after[24], lim[16];
    snprintf(after, sizeof after, "%lld", (long long)(req->after < 0 ? 0 : req->after));
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[3] = { res->session_id, after, lim };

    for (int attempt = 0; attempt < 2; attempt++) {
        hi.conn = live_pg_ensure(hi.conn, &hi.cfg, "history");
        if (!hi.conn)
            break;
        PGresult *r = PQexecParams(hi.conn, SQL_HISTORY, 3, NULL, v, NULL, NULL, 0);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && attempt == 0 && PQstatus(hi.conn) != CONNECTION_OK) {
            PQclear(r);          /* the connection broke: once more on a new one */
            continue;
        }
        if (!live_pg_ok(r, "history: read events")) {
            PQclear(r);
            break;
        }
        int rc = fill_result(res, r);
        PQclear(r);
        if (rc == 0)
            return res;
        break;
    }
    /* error: nothing else is set */
    res->error = 1;
    res->found = 0;
    res->status[0] = '\0';
    res->last_offset = 0;
    res->frames = NULL;
    return res;
}

static void *history_main(void *arg)
{
    live_history_request_t req;
    (void)arg;

    /* Connect up front, so the first client does not wait for it (a failure is retried on
     * the first request). */
    hi.conn = live_pg_connect(&hi.cfg, "history");
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!hi.quit && hi.count == 0)
            pthread_cond_wait(&cond, &lock);
        if (hi.quit) {
            pthread_mutex_unlock(&lock);
            break;
        }
        req = hi.queue[hi.head];
        hi.head = (hi.head + 1) % LIVE_HISTORY_QUEUE;
        hi.count--;
        pthread_mutex_unlock(&lock);

        live_history_result_t *res = history_read(&req);
        if (!res) {
            LIVE_ERROR("history: out of memory answering a request for session %s",
                       req.session_id);
            continue;
        }
        pthread_mutex_lock(&lock);
        int quit = hi.quit;
        pthread_mutex_unlock(&lock);
        if (quit) {              /* shutting down: nobody waits for it */
            live_history_result_free(res);
            break;
        }
        live_hub_history(res);
    }
    PQfinish(hi.conn);
    hi.conn = NULL;
    return NULL;
}

int live_history_start(const live_config_t *cfg)
{
    pthread_mutex_lock(&lock);
    if (hi.started) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    hi.cfg = *cfg;
    hi.quit = 0;
    hi.head = hi.count = 0;
    hi.conn = NULL;
    int rc = pthread_create(&hi.thread, NULL, history_main, NULL);
    if (rc != 0) {
        pthread_mutex_unlock(&lock);
        LIVE_ERROR("history: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    hi.started = 1;
    pthread_mutex_unlock(&lock);
    return 0;
}

int live_history_submit(const live_history_request_t *req)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (hi.started && !hi.quit && hi.count < LIVE_HISTORY_QUEUE) {
        live_history_request_t *slot = &hi.queue[(hi.head + hi.count) % LIVE_HISTORY_QUEUE];
        *slot = *req;
        slot->session_id[sizeof slot->session_id - 1] = '\0';
        hi.count++;
        pthread_cond_signal(&cond);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void live_history_result_free(live_history_result_t *res)
{
    if (!res)
        return;
    live_frame_free_chain(res->frames);
    free(res);
}

void live_history_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!hi.started) {
        pthread_mutex_unlock(&lock);
        return;
    }
    hi.quit = 1;
    hi.count = 0;                /* queued requests are dropped (plain structs) */
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(hi.thread, NULL);
    pthread_mutex_lock(&lock);
    hi.started = 0;
    pthread_mutex_unlock(&lock);
}
