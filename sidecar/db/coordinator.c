/* The coordinator thread (see db/coordinator.h): registers this sidecar, LISTENs on
 * live_sessions and live_events, renews its sessions' leases, stops the ones it lost or that
 * /disconnect marked 'stopping', claims new work, and forwards other sidecars' commits to the
 * WebSocket loop.
 *
 * The thread owns its connection. It waits in poll() on the connection's socket and a wake
 * pipe for at most heartbeat_s; a failed pass is retried after 1 s, doubling up to
 * heartbeat_s. Every statement is one autocommit PQexecParams, bounded by statement_timeout.
 * live_sessions_start/stop are only called under `gate` after checking `quiesced`, so once
 * live_coordinator_quiesce returns the coordinator starts and stops nothing more. Each local
 * session is stopped at most once by the coordinator (the `stopped` set). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE              /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/coordinator.h"
#include "db/pg.h"
#include "session/session.h"
#include "ws/hub.h"

#ifndef LIVE_VERSION
#define LIVE_VERSION "dev"
#endif

#define LIVE_ID_LEN 65
#define LIVE_COORD_LOG_INTERVAL_US (10 * 1000000LL)

/* Registration and heartbeat: one upsert, so a row removed meanwhile comes back. $5: this
 * process registers for the first time (started_at restarts). */
static const char SQL_UPSERT_SIDECAR[] =
    "INSERT INTO live_sidecars AS s (id, version, lease_s, stopping)"
    " VALUES ($1, $2, $3::integer, $4::boolean)"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), version = EXCLUDED.version,"
    " lease_s = EXCLUDED.lease_s, stopping = EXCLUDED.stopping,"
    " started_at = CASE WHEN $5::boolean THEN now() ELSE s.started_at END";

/* Rows are locked in id order, as the persister locks them, so the two never deadlock. */
static const char SQL_RENEW[] =
    "UPDATE live_sessions s SET lease_until = now() + $2::integer * interval '1 second'"
    " FROM (SELECT id FROM live_sessions"
    "       WHERE owner = $1 AND status IN ('connecting', 'live', 'stopping')"
    "       ORDER BY id FOR UPDATE) o"
    " WHERE s.id = o.id"
    " RETURNING s.id, s.status";

static const char SQL_CLAIM[] =
    "UPDATE live_sessions s"
    " SET owner = $1, lease_until = now() + $2::integer * interval '1 second',"
    " claims = s.claims + 1"
    " FROM (SELECT id FROM live_sessions"
    " WHERE status IN ('connecting', 'live', 'stopping')"
    " AND (owner IS NULL OR owner = $1 OR lease_until < now())"
    " AND NOT (id = ANY ($4::text[]))"
    " ORDER BY created_at LIMIT $3::integer"
    " FOR UPDATE SKIP LOCKED) c"
    " WHERE s.id = c.id"
    " RETURNING s.id, s.username, s.source, s.options::text, s.last_offset,"
    " s.source_position, s.claims, s.status";

/* Claimed but not started (quiesced meanwhile, or the start was refused): give them back at
 * once and undo the claim count. */
static const char SQL_RELEASE[] =
    "UPDATE live_sessions SET owner = NULL, lease_until = NULL,"
    " claims = greatest(claims - 1, 0)"
    " WHERE owner = $1 AND id = ANY ($2::text[])"
    " AND status IN ('connecting', 'live', 'stopping')";

static const char SQL_UNREGISTER[] = "DELETE FROM live_sidecars WHERE id = $1";

static struct {
    live_config_t cfg;
    pthread_t thread;
    int started;
    int wake_rd, wake_wr;
    atomic_int quit;
    /* Thread-owned. */
    PGconn *conn;
    int listen_pid;              /* backend pid the LISTENs were issued on (0: none) */
    int registered;              /* the upsert worked at least once in this process */
    char lease[16];
    char (*local)[LIVE_ID_LEN];  /* ids running here (a snapshot per pass) */
    int n_local, cap;
    char (*stopped)[LIVE_ID_LEN];/* local ids the coordinator already stopped */
    int n_stopped;
    char (*release)[LIVE_ID_LEN];/* claimed in this pass but not started */
    int n_release;
    char *array_buf;             /* text[] literal of local ids */
    size_t array_len;
    int64_t lost_log_us;
} co = { .wake_rd = -1, .wake_wr = -1 };

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int quiesced;             /* guarded by gate */

static int is_quiesced(void)
{
    pthread_mutex_lock(&gate);
    int q = quiesced;
    pthread_mutex_unlock(&gate);
    return q;
}

static void wake_thread(void)
{
    if (co.wake_wr >= 0) {
        char b = 1;
        ssize_t n = write(co.wake_wr, &b, 1);
        (void)n;                 /* full pipe: a wake is pending anyway */
    }
}

static void drain_wake(void)
{
    char buf[64];
    while (read(co.wake_rd, buf, sizeof buf) > 0)
        ;
}

static int in_set(char (*set)[LIVE_ID_LEN], int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(set[i], id) == 0)
            return 1;
    return 0;
}

static void set_add(char (*set)[LIVE_ID_LEN], int *n, int cap, const char *id)
{
    if (*n < cap && !in_set(set, *n, id))
        snprintf(set[(*n)++], LIVE_ID_LEN, "%s", id);
}

/* ids as a PostgreSQL text[] literal (a parameter value, never SQL): {"a","b"}. */
static const char *array_literal(char (*ids)[LIVE_ID_LEN], int n)
{
    size_t o = 0;
    co.array_buf[o++] = '{';
    for (int i = 0; i < n; i++) {
        if (o + 2 * LIVE_ID_LEN + 4 >= co.array_len)
            break;
        if (i > 0)
            co.array_buf[o++] = ',';
        co.array_buf[o++] = '"';
        for (const char *p = ids[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                co.array_buf[o++] = '\\';
            co.array_buf[o++] = *p;
        }
        co.array_buf[o++] = '"';
    }
    co.array_buf[o++] = '}';
    co.array_buf[o] = '\0';
    return co.array_buf;
}

/* A failed statement or socket: LISTEN again on the next connection. */
static void conn_failed(void)
{
    if (co.conn && PQstatus(co.conn) != CONNECTION_OK)
        co.listen_pid = 0;
}

/* A usable connection that LISTENs; -1 when the database cannot be reached. */
static int coord_connect(void)
{
    co.conn = live_pg_ensure(co.conn, &co.cfg, "coordinator");
    if (!co.conn) {
        co.listen_pid = 0;
        return -1;
    }
    if (co.listen_pid != 0 && co.listen_pid == PQbackendPID(co.conn))
        return 0;
    PGresult *r = PQexec(co.conn, "LISTEN live_sessions; LISTEN live_events");
    int ok = live_pg_ok(r, "coordinator: LISTEN");
    PQclear(r);
    if (!ok) {
        conn_failed();
        return -1;
    }
    co.listen_pid = PQbackendPID(co.conn);
    return 0;
}

static int upsert_sidecar(int stopping)
{
    const char *v[5] = { co.cfg.sidecar_id, LIVE_VERSION, co.lease, stopping ? "true" : "false",
                         co.registered ? "false" : "true" };
    PGresult *r = PQexecParams(co.conn, SQL_UPSERT_SIDECAR, 5, NULL, v, NULL, NULL, 0);
    int ok = live_pg_ok(r, "coordinator: heartbeat of live_sidecars");
    PQclear(r);
    if (!ok)
        return -1;
    if (!co.registered)
        LIVE_INFO("coordinator: sidecar %s registered (version %s, lease %s s)",
                  co.cfg.sidecar_id, LIVE_VERSION, co.lease);
    co.registered = 1;
    return 0;
}

/* Stops id unless quiesced or already stopped by us. */
static void stop_session(const char *id, live_stop_mode_t mode)
{
    pthread_mutex_lock(&gate);
    if (!quiesced && !in_set(co.stopped, co.n_stopped, id)) {
        if (mode == LIVE_STOP_LOST)
            LIVE_WARN("session %s: lease lost (no longer owned by %s), stopping it without "
                      "writing", id, co.cfg.sidecar_id);
        else
            LIVE_INFO("session %s: disconnect requested, finishing it", id);
        live_sessions_stop(id, mode);
        set_add(co.stopped, &co.n_stopped, co.cap, id);
    }
    pthread_mutex_unlock(&gate);
}

/* Heartbeat of the sessions: renew the leases of what this sidecar owns, stop what it no
 * longer owns and what /disconnect marked stopping. */
static int renew_leases(void)
{
    co.n_local = live_sessions_list(co.local, co.cap);
    if (co.n_local < 0)
        co.n_local = 0;
    if (co.n_local > co.cap)
        co.n_local = co.cap;
    /* Forget stopped sessions that are gone. */
    int keep = 0;
    for (int i = 0; i < co.n_stopped; i++)
        if (in_set(co.local, co.n_local, co.stopped[i]))
            memmove(co.stopped[keep++], co.stopped[i], LIVE_ID_LEN);
    co.n_stopped = keep;

    const char *v[2] = { co.cfg.sidecar_id, co.lease };
    PGresult *r = PQexecParams(co.conn, SQL_RENEW, 2, NULL, v, NULL, NULL, 0);
    if (!live_pg_ok(r, "coordinator: lease renewal")) {
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < co.n_local; i++) {
        int owned = 0;
        for (int j = 0; j < rows && !owned; j++)
            owned = strcmp(PQgetvalue(r, j, 0), co.local[i]) == 0;
        if (!owned)
            stop_session(co.local[i], LIVE_STOP_LOST);
    }
    for (int j = 0; j < rows; j++) {
        const char *id = PQgetvalue(r, j, 0);
        if (strcmp(PQgetvalue(r, j, 1), "stopping") == 0 && in_set(co.local, co.n_local, id))
            stop_session(id, LIVE_STOP_FINAL);
    }
    PQclear(r);
    return 0;
}

static void copy_field(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* One claimed row → live_sessions_start (or the release list). */
static void start_claim(PGresult *r, int row)
{
    live_claim_t claim;
    memset(&claim, 0, sizeof claim);
    copy_field(claim.id, sizeof claim.id, PQgetvalue(r, row, 0));
    copy_field(claim.username, sizeof claim.username, PQgetvalue(r, row, 1));
    copy_field(claim.source, sizeof claim.source, PQgetvalue(r, row, 2));
    const char *opts = PQgetvalue(r, row, 3);
    claim.last_offset = strtoll(PQgetvalue(r, row, 4), NULL, 10);
    claim.source_position = strtoll(PQgetvalue(r, row, 5), NULL, 10);
    long claims = strtol(PQgetvalue(r, row, 6), NULL, 10);
    claim.resumed = claims > 1;
    claim.stopping = strcmp(PQgetvalue(r, row, 7), "stopping") == 0;

    json_error_t jerr;
    json_t *options = json_loads(opts, 0, &jerr);
    if (options && !json_is_object(options)) {
        json_decref(options);
        options = NULL;
    }
    if (!options) {
        LIVE_WARN("session %s: options are not a JSON object (%s), using none", claim.id,
                  jerr.text);
        options = json_object();
    }
    claim.options = options;

    pthread_mutex_lock(&gate);
    if (quiesced) {
        set_add(co.release, &co.n_release, co.cap, claim.id);
    } else if (live_sessions_start(&claim) != 0) {
        /* max_sessions reached: give it back. Still held here (finishing): keep it. */
        co.n_local = live_sessions_list(co.local, co.cap);
        if (co.n_local < 0 || co.n_local > co.cap)
            co.n_local = co.n_local < 0 ? 0 : co.cap;
        if (!in_set(co.local, co.n_local, claim.id)) {
            LIVE_WARN("session %s: claimed but could not start here, giving it back", claim.id);
            set_add(co.release, &co.n_release, co.cap, claim.id);
        } else {
            LIVE_WARN("session %s: claimed but it is still held here", claim.id);
        }
    } else {
        LIVE_INFO("session %s: claimed by %s (username %s, source %s, claim %ld, last offset "
                  "%lld, position %lld%s)", claim.id, co.cfg.sidecar_id, claim.username,
                  claim.source, claims, (long long)claim.last_offset,
                  (long long)claim.source_position, claim.stopping ? ", stopping" : "");
        /* A session claimed while stopping finishes by itself: no FINAL from us. */
        if (claim.stopping)
            set_add(co.stopped, &co.n_stopped, co.cap, claim.id);
    }
    pthread_mutex_unlock(&gate);
    json_decref(options);
}

static int release_unstarted(void)
{
    if (co.n_release == 0)
        return 0;
    const char *v[2] = { co.cfg.sidecar_id, array_literal(co.release, co.n_release) };
    PGresult *r = PQexecParams(co.conn, SQL_RELEASE, 2, NULL, v, NULL, NULL, 0);
    int ok = live_pg_ok(r, "coordinator: release of unstarted claims");
    PQclear(r);
    if (ok)
        co.n_release = 0;        /* else retried on the next pass */
    return ok ? 0 : -1;
}

/* Claims up to max_sessions minus what runs here, skipping the ids running here. */
static int claim_sessions(void)
{
    int room = co.cfg.max_sessions - live_sessions_count();
    if (room <= 0 || is_quiesced())
        return 0;
    char limit[16];
    snprintf(limit, sizeof limit, "%d", room);
    const char *v[4] = { co.cfg.sidecar_id, co.lease, limit,
                         array_literal(co.local, co.n_local) };
    PGresult *r = PQexecParams(co.conn, SQL_CLAIM, 4, NULL, v, NULL, NULL, 0);
    if (!live_pg_ok(r, "coordinator: claim")) {
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++)
        start_claim(r, i);
    PQclear(r);
    return 0;
}

/* One pass: connection, heartbeat, leases, claims. 0 or -1 (retry with backoff). */
static int coord_pass(void)
{
    if (coord_connect() < 0)
        return -1;
    int q = is_quiesced();
    if (upsert_sidecar(q) < 0 || release_unstarted() < 0)
        goto failed;
    if (q)
        return 0;
    if (renew_leases() < 0 || claim_sessions() < 0 || release_unstarted() < 0)
        goto failed;
    return 0;
failed:
    conn_failed();
    return -1;
}

/* "<session_id> <last_offset>" from another sidecar's persister. */
static void remote_commit(const char *payload)
{
    const char *sp = strchr(payload, ' ');
    size_t len = sp ? (size_t)(sp - payload) : 0;
    if (len == 0 || len >= LIVE_ID_LEN) {
        LIVE_DEBUG("coordinator: ignoring live_events payload of unexpected shape");
        return;
    }
    char id[LIVE_ID_LEN];
    for (size_t i = 0; i < len; i++) {
        char c = payload[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-')) {
            LIVE_DEBUG("coordinator: ignoring live_events payload with a bad session id");
            return;
        }
        id[i] = c;
    }
    id[len] = '\0';
    char *end = NULL;
    errno = 0;
    long long off = strtoll(sp + 1, &end, 10);
    if (errno || end == sp + 1 || *end != '\0' || off < 0) {
        LIVE_DEBUG("coordinator: ignoring live_events payload with a bad offset");
        return;
    }
    live_hub_remote(id, (int64_t)off);
}

/* Notifications libpq has already parsed; *work set when a pass is wanted. */
static void handle_notifies(int *work)
{
    PGnotify *n;
    if (!co.conn)
        return;
    while ((n = PQnotifies(co.conn)) != NULL) {
        if (strcmp(n->relname, "live_events") == 0)
            remote_commit(n->extra ? n->extra : "");
        else if (strcmp(n->relname, "live_sessions") == 0 && !is_quiesced())
            *work = 1;
        PQfreemem(n);
    }
}

/* The socket is readable: read it. -1 when the connection broke. */
static int read_socket(void)
{
    if (PQconsumeInput(co.conn) && PQstatus(co.conn) == CONNECTION_OK)
        return 0;
    int64_t now = live_now_us();
    if (now - co.lost_log_us >= LIVE_COORD_LOG_INTERVAL_US) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(co.conn));
        LIVE_WARN("coordinator: database connection lost: %s", msg);
        co.lost_log_us = now;
    }
    co.listen_pid = 0;
    return -1;
}

static void *coord_main(void *arg)
{
    int hb_ms = co.cfg.heartbeat_s * 1000;
    int backoff_ms = 0, work = 1;
    int64_t next_us = 0;
    (void)arg;

    while (!atomic_load(&co.quit)) {
        /* A pass when it is due, or at once on a wake while the database answers (while it
         * fails, the backoff decides). */
        if (live_now_us() >= next_us || (work && backoff_ms == 0)) {
            work = 0;
            if (coord_pass() == 0) {
                backoff_ms = 0;
                next_us = live_now_us() + (int64_t)hb_ms * 1000;
            } else {
                backoff_ms = backoff_ms ? backoff_ms * 2 : 1000;
                if (backoff_ms > hb_ms)
                    backoff_ms = hb_ms;
                next_us = live_now_us() + (int64_t)backoff_ms * 1000;
            }
            handle_notifies(&work);   /* those read during the statements */
            continue;
        }

        struct pollfd fds[2] = { { .fd = co.wake_rd, .events = POLLIN },
                                 { .fd = -1, .events = POLLIN } };
        /* The socket only while the connection LISTENs and reads cleanly. */
        if (co.conn && co.listen_pid != 0 && PQstatus(co.conn) == CONNECTION_OK)
            fds[1].fd = PQsocket(co.conn);
        int64_t wait_ms = (next_us - live_now_us() + 999) / 1000;
        if (wait_ms < 0)
            wait_ms = 0;
        if (wait_ms > hb_ms)
            wait_ms = hb_ms;
        int rc = poll(fds, 2, (int)wait_ms);
        if (rc < 0)
            continue;            /* EINTR */
        if (fds[0].revents) {
            drain_wake();
            if (is_quiesced())
                work = 1;        /* write stopping = true now */
        }
        if (atomic_load(&co.quit))
            break;
        if (fds[1].fd >= 0 && fds[1].revents) {
            if (read_socket() == 0) {
                handle_notifies(&work);
            } else if (backoff_ms == 0) {
                backoff_ms = 1000;                       /* reconnect in 1 s */
                next_us = live_now_us() + 1000 * 1000;
            }
        }
    }

    if (co.conn && co.registered && PQstatus(co.conn) == CONNECTION_OK) {
        const char *v[1] = { co.cfg.sidecar_id };
        PGresult *r = PQexecParams(co.conn, SQL_UNREGISTER, 1, NULL, v, NULL, NULL, 0);
        if (live_pg_ok(r, "coordinator: unregister"))
            LIVE_INFO("coordinator: sidecar %s unregistered", co.cfg.sidecar_id);
        PQclear(r);
    }
    PQfinish(co.conn);
    co.conn = NULL;
    return NULL;
}

static void free_state(void)
{
    free(co.local);
    free(co.stopped);
    free(co.release);
    free(co.array_buf);
    co.local = co.stopped = co.release = NULL;
    co.array_buf = NULL;
    if (co.wake_rd >= 0)
        close(co.wake_rd);
    if (co.wake_wr >= 0)
        close(co.wake_wr);
    co.wake_rd = co.wake_wr = -1;
}

int live_coordinator_start(const live_config_t *cfg)
{
    int fds[2];
    if (co.started)
        return -1;
    co.cfg = *cfg;
    if (co.cfg.lease_s < 1)
        co.cfg.lease_s = 1;
    if (co.cfg.heartbeat_s < 1)
        co.cfg.heartbeat_s = 1;
    if (co.cfg.max_sessions < 0)
        co.cfg.max_sessions = 0;
    snprintf(co.lease, sizeof co.lease, "%d", co.cfg.lease_s);
    co.cap = co.cfg.max_sessions + 64;       /* stopping sessions still listed, too */
    co.local = calloc((size_t)co.cap, LIVE_ID_LEN);
    co.stopped = calloc((size_t)co.cap, LIVE_ID_LEN);
    co.release = calloc((size_t)co.cap, LIVE_ID_LEN);
    co.array_len = (size_t)co.cap * (2 * LIVE_ID_LEN + 4) + 8;
    co.array_buf = malloc(co.array_len);
    co.n_local = co.n_stopped = co.n_release = 0;
    co.conn = NULL;
    co.listen_pid = 0;
    co.registered = 0;
    co.lost_log_us = 0;
    atomic_store(&co.quit, 0);
    pthread_mutex_lock(&gate);
    quiesced = 0;
    pthread_mutex_unlock(&gate);
    if (!co.local || !co.stopped || !co.release || !co.array_buf) {
        LIVE_ERROR("coordinator: out of memory");
        free_state();
        return -1;
    }
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        LIVE_ERROR("coordinator: cannot create its wake pipe: %s", strerror(errno));
        free_state();
        return -1;
    }
    co.wake_rd = fds[0];
    co.wake_wr = fds[1];
    int rc = pthread_create(&co.thread, NULL, coord_main, NULL);
    if (rc != 0) {
        LIVE_ERROR("coordinator: cannot start its thread: %s", strerror(rc));
        free_state();
        return -1;
    }
    co.started = 1;
    LIVE_INFO("coordinator: started for sidecar %s (lease %d s, heartbeat %d s, max %d "
              "sessions)", co.cfg.sidecar_id, co.cfg.lease_s, co.cfg.heartbeat_s,
              co.cfg.max_sessions);
    return 0;
}

void live_coordinator_quiesce(void)
{
    pthread_mutex_lock(&gate);
    int was = quiesced;
    quiesced = 1;
    pthread_mutex_unlock(&gate);
    if (!was && co.started) {
        LIVE_INFO("coordinator: draining: no more claims or lease renewals");
        wake_thread();
    }
}

void live_coordinator_stop(void)
{
    if (!co.started)
        return;
    atomic_store(&co.quit, 1);
    wake_thread();
    pthread_join(co.thread, NULL);
    co.started = 0;
    free_state();
    LIVE_INFO("coordinator: stopped");
}
