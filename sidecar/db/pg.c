/* PostgreSQL connections of the sidecar (see db/pg.h): connect with bounded timeouts, notice
 * whether a connection still works, reconnect it, and log database failures without flooding
 * the log (one line per purpose or statement every LIVE_PG_LOG_INTERVAL_US, with a count of
 * what was held back).
 *
 * Connection parameters: our defaults for connect_timeout and TCP keepalives come first, then
 * the operator's conninfo (expanded by libpq, so what the operator wrote wins), then
 * application_name "profile-live <purpose>" and "options" with statement_timeout appended to
 * the operator's own options (left out when those already set statement_timeout). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/pg.h"

#define LIVE_PG_LOG_INTERVAL_US (10 * 1000000LL)
#define LIVE_PG_LIMITS 32           /* distinct keys the log limiter remembers */
#define LIVE_PG_KEY_MAX 64
#define LIVE_PG_MSG_MAX 512
#define LIVE_PG_MAX_PARAMS 12

typedef struct {
    char key[LIVE_PG_KEY_MAX];
    int64_t last_us;                /* last line logged for key (0: none yet) */
    unsigned suppressed;            /* failures not logged since */
    int failing;                    /* the last attempt failed (connect keys) */
} pg_limit_t;

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static pg_limit_t limits[LIVE_PG_LIMITS];

/* The slot of key, taking over the least recently logged one when the table is full.
 * Called with limit_lock held. */
static pg_limit_t *limit_slot(const char *key)
{
    pg_limit_t *free_slot = NULL, *oldest = &limits[0];
    for (int i = 0; i < LIVE_PG_LIMITS; i++) {
        pg_limit_t *l = &limits[i];
        if (l->key[0] == '\0') {
            if (!free_slot)
                free_slot = l;
            continue;
        }
        if (strncmp(l->key, key, LIVE_PG_KEY_MAX - 1) == 0)
            return l;
        if (l->last_us < oldest->last_us)
            oldest = l;
    }
    pg_limit_t *l = free_slot ? free_slot : oldest;
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    return l;
}

/* A failure under key: 1 when it may be logged now (*suppressed: how many were held back
 * since the last line), 0 when it is held back. */
static int limit_failure(const char *key, unsigned *suppressed)
{
    int64_t now = live_now_us();
    int log_it = 0;
    pthread_mutex_lock(&limit_lock);
    pg_limit_t *l = limit_slot(key);
    l->failing = 1;
    if (l->last_us == 0 || now - l->last_us >= LIVE_PG_LOG_INTERVAL_US || now < l->last_us) {
        *suppressed = l->suppressed;
        l->suppressed = 0;
        l->last_us = now;
        log_it = 1;
    } else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&limit_lock);
    return log_it;
}

/* A success under key: 1 when the previous attempt had failed (worth a line). */
static int limit_success(const char *key)
{
    int was = 0;
    pthread_mutex_lock(&limit_lock);
    for (int i = 0; i < LIVE_PG_LIMITS; i++) {
        pg_limit_t *l = &limits[i];
        if (l->key[0] != '\0' && strncmp(l->key, key, LIVE_PG_KEY_MAX - 1) == 0) {
            was = l->failing;
            l->failing = 0;
            l->suppressed = 0;
            l->last_us = 0;       /* the next outage is logged at once */
            break;
        }
    }
    pthread_mutex_unlock(&limit_lock);
    return was;
}

/* libpq's text on one line, whitespace runs folded (it never holds the password). */
static void one_line(const char *msg, char *out, size_t len)
{
    size_t o = 0;
    if (len == 0)
        return;
    for (; msg && *msg && o + 1 < len; msg++) {
        unsigned char c = (unsigned char)*msg;
        if (c > ' ' && c != 0x7F)
            out[o++] = (char)c;
        else if (o > 0 && out[o - 1] != ' ')
            out[o++] = ' ';
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void log_notice(void *arg, const char *message)
{
    char line[LIVE_PG_MSG_MAX];
    (void)arg;
    one_line(message, line, sizeof line);
    LIVE_DEBUG("database: server notice: %s", line);
}

static void connect_failed(PGconn *conn, const char *purpose, const char *action)
{
    char key[LIVE_PG_KEY_MAX], msg[LIVE_PG_MSG_MAX];
    unsigned suppressed = 0;
    snprintf(key, sizeof key, "connect %s", purpose);
    if (!limit_failure(key, &suppressed))
        return;
    one_line(conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof msg);
    if (suppressed)
        LIVE_ERROR("database: cannot %s (%s): %s (%u more failures since the last report)",
                   action, purpose, msg, suppressed);
    else
        LIVE_ERROR("database: cannot %s (%s): %s", action, purpose, msg);
}

static void connect_succeeded(PGconn *conn, const char *purpose)
{
    char key[LIVE_PG_KEY_MAX];
    snprintf(key, sizeof key, "connect %s", purpose);
    PQsetNoticeProcessor(conn, log_notice, NULL);
    if (limit_success(key))
        LIVE_INFO("database: connection (%s) is back", purpose);
    else
        LIVE_DEBUG("database: connected (%s), server pid %d", purpose, PQbackendPID(conn));
}

/* The "options" value of the operator's conninfo (malloc'd), or NULL. */
static char *conninfo_options(const char *conninfo)
{
    char *err = NULL, *found = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val && o->val[0])
            found = strdup(o->val);
    PQconninfoFree(opts);
    return found;
}

PGconn *live_pg_connect(const live_config_t *cfg, const char *purpose)
{
    const char *keywords[LIVE_PG_MAX_PARAMS + 1], *values[LIVE_PG_MAX_PARAMS + 1];
    char connect_s[16], idle_s[16], user_timeout[16], app[128], *options = NULL;
    int timeout_ms = cfg->db_timeout_ms > 0 ? cfg->db_timeout_ms : 5000;
    int timeout_s = (timeout_ms + 999) / 1000;
    int n = 0;

    if (!purpose)
        purpose = "db";
    /* libpq takes whole seconds and treats anything below 2 as 2. */
    snprintf(connect_s, sizeof connect_s, "%d", timeout_s < 2 ? 2 : timeout_s);
    snprintf(idle_s, sizeof idle_s, "%d", timeout_s);
    snprintf(user_timeout, sizeof user_timeout, "%d", timeout_ms);
    snprintf(app, sizeof app, "profile-live %s", purpose);

#define ADD(k, v) do { keywords[n] = (k); values[n] = (v); n++; } while (0)
    ADD("connect_timeout", connect_s);
    /* A server that vanished without closing the socket is noticed within about the timeout:
     * keepalives while idle, tcp_user_timeout while data waits to be acknowledged. */
    ADD("keepalives", "1");
    ADD("keepalives_idle", idle_s);
    ADD("keepalives_interval", "1");
    ADD("keepalives_count", "3");
    ADD("tcp_user_timeout", user_timeout);
    ADD("dbname", cfg->database);
    ADD("application_name", app);

    char *own = cfg->database[0] ? conninfo_options(cfg->database) : NULL;
    if (!own || !strstr(own, "statement_timeout")) {
        size_t len = (own ? strlen(own) + 1 : 0) + 64;
        options = malloc(len);
        if (options) {
            snprintf(options, len, "%s%s-c statement_timeout=%d", own ? own : "", own ? " " : "",
                     timeout_ms);
            ADD("options", options);
        }
    }
#undef ADD
    keywords[n] = NULL;
    values[n] = NULL;

    PGconn *conn = PQconnectdbParams(keywords, values, 1);
    free(options);
    free(own);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        connect_failed(conn, purpose, "connect");
        PQfinish(conn);
        return NULL;
    }
    connect_succeeded(conn, purpose);
    return conn;
}

/* An idle connection is usable when the server has not closed it meanwhile: reading what is
 * pending (a FATAL notice on shutdown, notifications) and then the end of stream marks it
 * CONNECTION_BAD. */
static int conn_alive(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return 0;
    if (!PQconsumeInput(conn))
        return 0;
    (void)PQisBusy(conn);        /* parses what was read */
    return PQstatus(conn) == CONNECTION_OK;
}

PGconn *live_pg_ensure(PGconn *conn, const live_config_t *cfg, const char *purpose)
{
    if (!purpose)
        purpose = "db";
    if (!conn)
        return live_pg_connect(cfg, purpose);
    if (conn_alive(conn)) {
        PGTransactionStatusType ts = PQtransactionStatus(conn);
        if (ts == PQTRANS_IDLE)
            return conn;
        /* Left inside a (failed) transaction: give it up so no lock stays held. */
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *r = PQexec(conn, "ROLLBACK");
            int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (ok && PQtransactionStatus(conn) == PQTRANS_IDLE)
                return conn;
        }
        /* A command still in flight or a rollback that failed: start over. */
    }
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        connect_failed(conn, purpose, "reconnect");
        PQfinish(conn);
        return NULL;
    }
    connect_succeeded(conn, purpose);
    return conn;
}

int live_pg_ok(PGresult *res, const char *what)
{
    char msg[LIVE_PG_MSG_MAX];
    unsigned suppressed = 0;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (!what)
        what = "query";
    if (res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
        return 1;
    if (!limit_failure(what, &suppressed))
        return 0;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary)
        primary = res ? PQresultErrorMessage(res) : NULL;
    if (!primary || !primary[0])
        primary = res ? PQresStatus(st) : "no result (out of memory or connection lost)";
    one_line(primary, msg, sizeof msg);
    if (suppressed)
        LIVE_ERROR("database: %s failed: %s%s%s (%u more failures since the last report)", what,
                   state ? state : "", state ? " " : "", msg, suppressed);
    else
        LIVE_ERROR("database: %s failed: %s%s%s", what, state ? state : "", state ? " " : "", msg);
    return 0;
}
