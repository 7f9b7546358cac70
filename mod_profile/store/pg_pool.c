/* Per-process PostgreSQL connection pool; see pg_pool.h.
 *
 * Policy:
 * - Connections are opened on demand, never more than max at once (counting ones being opened).
 * - Given-back connections go on a LIFO stack. Up to min of them stay open however long they are
 *   idle; the ones beyond min are closed after PROFILE_DB_IDLE_TTL of idleness (checked on
 *   acquire and release, no extra thread).
 * - When all max are checked out, acquire waits up to timeout_s for one to come back.
 * - A failed connect starts a back-off (1 s, doubling up to 8 s) during which acquire fails at
 *   once; after it, one request probes the database while the others keep failing fast.
 *   The outage is logged once when it starts and once when it ends.
 * - An idle connection is checked before it is handed out, so connections killed by a server
 *   restart are dropped and replaced without restarting httpd.
 *
 * Connection parameters: the operator's conninfo is expanded by libpq (expand_dbname=1) after
 * our defaults for connect_timeout and TCP keepalives, so values the operator wrote win.
 * statement_timeout is passed in "options" after the conninfo, appended to the operator's own
 * options; it is left out when the operator's options already set statement_timeout. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <string.h>

#include "store/pg_pool.h"

#define PROFILE_DB_IDLE_TTL apr_time_from_sec(60)
#define PROFILE_DB_BACKOFF_MAX_S 8
#define PROFILE_DB_CHECKOUTS_KEY "profile-db-checkouts"
#define PROFILE_DB_MAX_PARAMS 8
#define PROFILE_DB_STALE_BATCH 8   /* stale connections closed per acquire or release */

/* Logs for request r, or for the pool's server when a background thread (r NULL) acquires. */
#define PROFILE_DB_LOG(pool, r, level, ...) do { \
        if (r) \
            ap_log_rerror(APLOG_MARK, level, 0, r, __VA_ARGS__); \
        else \
            ap_log_error(APLOG_MARK, level, 0, (pool)->s, __VA_ARGS__); \
    } while (0)

typedef struct {
    PGconn *conn;
    apr_time_t since;          /* when it was given back */
} profile_db_idle_t;

struct profile_db_pool_t {
    server_rec *s;
    const char *keywords[PROFILE_DB_MAX_PARAMS + 1];
    const char *values[PROFILE_DB_MAX_PARAMS + 1];
    int min, max, timeout_s;
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
#endif
    profile_db_idle_t *idle;   /* stack of n_idle, the most recently given back on top */
    int n_idle;
    int total;                 /* open or being opened */
    int failing;               /* the last connect failed */
    int probing;               /* a connect after a failure is running */
    int backoff_s;
    apr_time_t retry_at;       /* end of the back-off */
    int closed;                /* the child pool is being destroyed */
};

/* One checked-out connection; kept in a list on the userdata of the pool it is bound to. */
typedef struct profile_db_checkout_t {
    profile_db_pool_t *pool;
    PGconn *conn;
    int broken;
    struct profile_db_checkout_t *next;
} profile_db_checkout_t;

static void pool_lock(profile_db_pool_t *pool)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(pool->mutex);
#else
    (void)pool;
#endif
}

static void pool_unlock(profile_db_pool_t *pool)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(pool->mutex);
#else
    (void)pool;
#endif
}

static void pool_signal(profile_db_pool_t *pool)
{
#if APR_HAS_THREADS
    apr_thread_cond_signal(pool->cond);
#else
    (void)pool;
#endif
}

/* Waits until signalled or deadline; returns 0 once the deadline has passed. Call locked. */
static int pool_wait(profile_db_pool_t *pool, apr_time_t deadline)
{
#if APR_HAS_THREADS
    apr_time_t left = deadline - apr_time_now();
    if (left <= 0)
        return 0;
    apr_thread_cond_timedwait(pool->cond, pool->mutex, left);
    return 1;
#else
    (void)pool;
    (void)deadline;
    return 0; /* one thread: nobody can give a connection back meanwhile */
#endif
}

/* Takes up to PROFILE_DB_STALE_BATCH idle connections beyond min that idled longer than the
 * TTL off the stack (the oldest are at the bottom) into out; returns how many. Call locked. */
static int take_stale(profile_db_pool_t *pool, apr_time_t now, PGconn **out)
{
    int n = 0, i;
    while (n < PROFILE_DB_STALE_BATCH && pool->n_idle - n > pool->min
           && now - pool->idle[n].since > PROFILE_DB_IDLE_TTL) {
        out[n] = pool->idle[n].conn;
        n++;
    }
    if (n > 0) {
        for (i = n; i < pool->n_idle; i++)
            pool->idle[i - n] = pool->idle[i];
        pool->n_idle -= n;
        pool->total -= n;
    }
    return n;
}

static void close_all(PGconn **conns, int n)
{
    int i;
    for (i = 0; i < n; i++)
        PQfinish(conns[i]);
}

static void log_notice(void *arg, const char *message)
{
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, (server_rec *)arg, "PostgreSQL: %s", message);
}

/* An idle connection is usable when the server has not closed it meanwhile: reading what is
 * pending (a FATAL notice on shutdown) and then the end of stream marks it CONNECTION_BAD. */
static int idle_conn_alive(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return 0;
    if (!PQconsumeInput(conn) || !PQconsumeInput(conn))
        return 0;
    (void)PQisBusy(conn); /* parses what was read, e.g. the shutdown notice */
    return PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* libpq's error text on one line (it never holds the password). */
static const char *conn_error(apr_pool_t *p, PGconn *conn)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    char *out = apr_palloc(p, strlen(msg) + 1), *o = out;

    for (; *msg; msg++) {
        if (!apr_isspace(*msg))
            *o++ = *msg;
        else if (o > out && o[-1] != ' ')
            *o++ = ' ';
    }
    if (o > out && o[-1] == ' ')
        o--;
    *o = '\0';
    return out;
}

static apr_status_t pool_cleanup(void *data)
{
    profile_db_pool_t *pool = data;
    int i;
    pool_lock(pool);
    for (i = 0; i < pool->n_idle; i++)
        PQfinish(pool->idle[i].conn);
    pool->total -= pool->n_idle;
    pool->n_idle = 0;
    pool->closed = 1;
    pool_unlock(pool);
    return APR_SUCCESS;
}

static void add_param(profile_db_pool_t *pool, int *n, const char *keyword, const char *value)
{
    pool->keywords[*n] = keyword;
    pool->values[*n] = value;
    (*n)++;
}

/* Our defaults first, then the operator's conninfo, then statement_timeout (see the top).
 * ProfileDatabase has checked that the string parses; one without "=" that is not a URI is a
 * plain database name, as libpq takes it. */
static void build_params(profile_db_pool_t *pool, apr_pool_t *p, const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err), *o;
    const char *options = NULL;
    int n = 0;

    PQfreemem(err);
    for (o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "options") && o->val && *o->val)
            options = apr_pstrdup(p, o->val);
    PQconninfoFree(opts);

    add_param(pool, &n, "connect_timeout", apr_itoa(p, pool->timeout_s));
    /* A server that vanished without closing the socket is noticed within about timeout_s. */
    add_param(pool, &n, "keepalives_idle", apr_itoa(p, pool->timeout_s));
    add_param(pool, &n, "keepalives_interval", "1");
    add_param(pool, &n, "keepalives_count", "3");
    add_param(pool, &n, "fallback_application_name", "mod_profile");
    add_param(pool, &n, "dbname", conninfo);
    if (!options || !strstr(options, "statement_timeout")) {
        const char *st = apr_psprintf(p, "-c statement_timeout=%d", pool->timeout_s * 1000);
        add_param(pool, &n, "options", options ? apr_pstrcat(p, options, " ", st, NULL) : st);
    }
    pool->keywords[n] = NULL;
    pool->values[n] = NULL;
}

profile_db_pool_t *profile_db_pool_create(apr_pool_t *p, server_rec *s, const char *conninfo,
                                          int min, int max, int timeout_s)
{
    profile_db_pool_t *pool = apr_pcalloc(p, sizeof(*pool));

    pool->s = s;
    pool->max = max < 1 ? 1 : max;
    pool->min = min < 0 ? 0 : (min > pool->max ? pool->max : min);
    pool->timeout_s = timeout_s < 1 ? 1 : timeout_s;
    pool->idle = apr_pcalloc(p, sizeof(*pool->idle) * (apr_size_t)pool->max);
    build_params(pool, p, conninfo);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&pool->mutex, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS
        || apr_thread_cond_create(&pool->cond, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10512)
                     "cannot create the database pool lock");
        return NULL;
    }
#endif
    /* Registered after the mutex, so it runs while the mutex still exists. */
    apr_pool_cleanup_register(p, pool, pool_cleanup, apr_pool_cleanup_null);
    return pool;
}

static apr_status_t checkout_release(void *data)
{
    profile_db_checkout_t *co = data;
    profile_db_pool_t *pool = co->pool;
    PGconn *stale[PROFILE_DB_STALE_BATCH], *drop = NULL;
    apr_time_t now = apr_time_now();
    int n_stale;

    pool_lock(pool);
    if (co->broken || pool->closed || PQstatus(co->conn) != CONNECTION_OK
        || PQtransactionStatus(co->conn) != PQTRANS_IDLE) {
        drop = co->conn;
        pool->total--;
    }
    else {
        pool->idle[pool->n_idle].conn = co->conn;
        pool->idle[pool->n_idle].since = now;
        pool->n_idle++;
    }
    n_stale = take_stale(pool, now, stale);
    pool_signal(pool);
    pool_unlock(pool);

    if (drop)
        PQfinish(drop);
    close_all(stale, n_stale);
    return APR_SUCCESS;
}

static PGconn *checkout(profile_db_pool_t *pool, apr_pool_t *p, PGconn *conn)
{
    profile_db_checkout_t *co = apr_pcalloc(p, sizeof(*co));
    void *head = NULL;

    apr_pool_userdata_get(&head, PROFILE_DB_CHECKOUTS_KEY, p);
    co->pool = pool;
    co->conn = conn;
    co->next = head;
    apr_pool_userdata_setn(co, PROFILE_DB_CHECKOUTS_KEY, NULL, p);
    apr_pool_cleanup_register(p, co, checkout_release, apr_pool_cleanup_null);
    return conn;
}

/* Opens a new connection; the caller has counted it in total already. probe says whether it
 * is the one attempt allowed after a back-off; only those (and the first failure) lengthen it,
 * so attempts that were already running when the outage began do not. */
static PGconn *connect_new(profile_db_pool_t *pool, apr_pool_t *p, request_rec *r, int probe)
{
    PGconn *conn = PQconnectdbParams(pool->keywords, pool->values, 1);
    int was_failing;

    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(conn, log_notice, pool->s);
        pool_lock(pool);
        was_failing = pool->failing;
        pool->failing = 0;
        pool->probing = 0;
        pool->backoff_s = 0;
        pool_unlock(pool);
        if (was_failing)
            PROFILE_DB_LOG(pool, r, APLOG_NOTICE, APLOGNO(10513)
                           "PostgreSQL is reachable again");
        return conn;
    }

    pool_lock(pool);
    was_failing = pool->failing;
    if (!was_failing || probe) {
        pool->failing = 1;
        pool->probing = 0;
        pool->backoff_s = pool->backoff_s ? pool->backoff_s * 2 : 1;
        if (pool->backoff_s > PROFILE_DB_BACKOFF_MAX_S)
            pool->backoff_s = PROFILE_DB_BACKOFF_MAX_S;
        pool->retry_at = apr_time_now() + apr_time_from_sec(pool->backoff_s);
    }
    pool->total--;
    pool_signal(pool);
    pool_unlock(pool);

    if (!was_failing)
        PROFILE_DB_LOG(pool, r, APLOG_ERR, APLOGNO(10514)
                       "cannot connect to PostgreSQL (retrying with back-off, logged once "
                       "per outage): %s", conn_error(p, conn));
    else
        PROFILE_DB_LOG(pool, r, APLOG_DEBUG, APLOGNO(10515)
                       "PostgreSQL still unreachable: %s", conn_error(p, conn));
    PQfinish(conn);
    return NULL;
}

static int seconds_until(apr_time_t when, apr_time_t now)
{
    apr_time_t left = when - now;
    int s = (int)((left + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    return s < 1 ? 1 : s;
}

/* The checkout is bound to p; r, when there is one, is what log lines belong to. */
static PGconn *acquire(profile_db_pool_t *pool, apr_pool_t *p, request_rec *r,
                       int *retry_after_s)
{
    apr_time_t deadline;
    PGconn *stale[PROFILE_DB_STALE_BATCH], *conn;
    int n_stale;

    *retry_after_s = 1;
    if (!pool)
        return NULL;
    deadline = apr_time_now() + apr_time_from_sec(pool->timeout_s);

    pool_lock(pool);
    for (;;) {
        apr_time_t now = apr_time_now();
        n_stale = take_stale(pool, now, stale);
        if (n_stale > 0) {
            pool_unlock(pool);
            close_all(stale, n_stale);
            pool_lock(pool);
            continue;
        }
        if (pool->n_idle > 0) {
            conn = pool->idle[--pool->n_idle].conn;
            pool_unlock(pool);
            if (idle_conn_alive(conn))
                return checkout(pool, p, conn);
            PROFILE_DB_LOG(pool, r, APLOG_INFO, APLOGNO(10516)
                           "dropping a pooled PostgreSQL connection the server closed");
            PQfinish(conn);
            pool_lock(pool);
            pool->total--;
            continue;
        }
        if (pool->failing && (now < pool->retry_at || pool->probing)) {
            *retry_after_s = pool->probing ? 1 : seconds_until(pool->retry_at, now);
            pool_unlock(pool);
            return NULL;
        }
        if (pool->total < pool->max) {
            int probe = pool->failing;
            pool->total++;
            pool->probing = probe;
            pool_unlock(pool);
            conn = connect_new(pool, p, r, probe);
            if (conn)
                return checkout(pool, p, conn);
            pool_lock(pool);
            *retry_after_s = seconds_until(pool->retry_at, apr_time_now());
            pool_unlock(pool);
            return NULL;
        }
        if (!pool_wait(pool, deadline)) {
            pool_unlock(pool);
            PROFILE_DB_LOG(pool, r, APLOG_WARNING, APLOGNO(10517)
                           "all %d PostgreSQL connections of this process stayed busy for %d s "
                           "(ProfileDatabasePool, ProfileDatabaseTimeout)",
                           pool->max, pool->timeout_s);
            return NULL;
        }
    }
}

PGconn *profile_db_acquire(profile_db_pool_t *pool, request_rec *r, int *retry_after_s)
{
    return acquire(pool, r->pool, r, retry_after_s);
}

PGconn *profile_db_acquire_pool(profile_db_pool_t *pool, apr_pool_t *p, int *retry_after_s)
{
    return acquire(pool, p, NULL, retry_after_s);
}

void profile_db_mark_broken_pool(profile_db_pool_t *pool, apr_pool_t *p, PGconn *conn)
{
    void *data = NULL;
    profile_db_checkout_t *co;

    apr_pool_userdata_get(&data, PROFILE_DB_CHECKOUTS_KEY, p);
    for (co = data; co; co = co->next)
        if (co->pool == pool && co->conn == conn)
            co->broken = 1;
}

void profile_db_mark_broken(profile_db_pool_t *pool, request_rec *r, PGconn *conn)
{
    profile_db_mark_broken_pool(pool, r->pool, conn);
}

void profile_db_pool_stats(profile_db_pool_t *pool, profile_db_pool_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!pool)
        return;
    pool_lock(pool);
    out->in_use = pool->total - pool->n_idle;
    out->idle = pool->n_idle;
    out->max = pool->max;
    out->down = pool->failing;
    pool_unlock(pool);
}
