/* Background work of a child process; see worker.h. Each thread allocates from an unmanaged
 * pool of its own, so it never shares an allocator with the MPM's threads. Threads are
 * chosen over mod_watchdog
 * because watchdog callbacks of the parent would fetch from TikTok as root, and per-child
 * watchdogs run only where mod_watchdog is loaded; two plain threads per child need nothing
 * from the operator and stop with the child. */
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <string.h>
#include <unistd.h>

#include "profiles/worker.h"
#include "profiles/resolve.h"
#include "profiles/username.h"
#include "cache/flight.h"
#include "config/config.h"
#include "store/advisory.h"
#include "store/pg_pool.h"
#include "store/revalidation.h"

#define REFRESH_QUEUE 64
/* How often the job thread looks for work when it has none, and how often a thread that is
 * not the poller asks whether the poller role is free. */
#define JOB_POLL_US apr_time_from_sec(1)
#define ROLE_RETRY_US apr_time_from_sec(5)

typedef struct {
    server_rec *s;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *wake;
    int stopping;
    char queue[REFRESH_QUEUE][PROFILE_TIKTOK_NAME_MAX + 1];
    int head, count;
    apr_thread_t *refresher, *jobs;
    const char *worker_name;   /* host:pid, recorded on claimed items */
} profile_worker_t;

static profile_worker_t *worker;

/* Sleeps up to us or until stopping; returns whether the worker is stopping. */
static int pause_unless_stopping(profile_worker_t *w, apr_interval_time_t us)
{
    int stopping;
    apr_thread_mutex_lock(w->lock);
    if (!w->stopping)
        apr_thread_cond_timedwait(w->wake, w->lock, us);
    stopping = w->stopping;
    apr_thread_mutex_unlock(w->lock);
    return stopping;
}

/* Whether username waits in the queue already (called with the lock held). */
static int queued(const profile_worker_t *w, const char *username)
{
    int i;
    for (i = 0; i < w->count; i++)
        if (strcmp(w->queue[(w->head + i) % REFRESH_QUEUE], username) == 0)
            return 1;
    return 0;
}

void profile_worker_refresh(const char *username)
{
    profile_worker_t *w = worker;

    if (!w || strlen(username) > PROFILE_TIKTOK_NAME_MAX)
        return;
    apr_thread_mutex_lock(w->lock);
    if (!w->stopping && w->count < REFRESH_QUEUE && !queued(w, username)) {
        strcpy(w->queue[(w->head + w->count) % REFRESH_QUEUE], username);
        w->count++;
        apr_thread_cond_broadcast(w->wake);
    }
    apr_thread_mutex_unlock(w->lock);
}

static void *APR_THREAD_FUNC refresher_main(apr_thread_t *t, void *data)
{
    profile_worker_t *w = data;
    apr_pool_t *p;
    char name[PROFILE_TIKTOK_NAME_MAX + 1];

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (;;) {
        int tier;
        apr_thread_mutex_lock(w->lock);
        while (!w->stopping && w->count == 0)
            apr_thread_cond_wait(w->wake, w->lock);
        if (w->stopping) {
            apr_thread_mutex_unlock(w->lock);
            break;
        }
        strcpy(name, w->queue[w->head]);
        w->head = (w->head + 1) % REFRESH_QUEUE;
        w->count--;
        apr_thread_mutex_unlock(w->lock);

        profile_refresh(w->s, p, name, 0, &tier);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_interval_time_t item_lease(server_rec *s)
{
    return 2 * apr_time_from_msec(profile_fetch_lease_ms(s)) + apr_time_from_sec(5);
}

/* One claimed item: refresh it and record the outcome. 0, or -1 when the connection failed. */
static int run_one_item(profile_worker_t *w, PGconn *c, apr_pool_t *p)
{
    apr_int64_t item;
    const char *username, *outcome;
    int tier;
    profile_store_rc_t rc = profile_store_reval_claim(c, p, w->worker_name, item_lease(w->s),
                                                      &item, &username);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return pause_unless_stopping(w, JOB_POLL_US), 0;
    if (rc != PROFILE_STORE_OK)
        return -1;
    outcome = profile_refresh(w->s, p, username, 1, &tier);
    /* NOT_FOUND: the lease ran out meanwhile and the item is another worker's now. */
    return profile_store_reval_finish(c, item, "done", outcome, tier) == PROFILE_STORE_ERROR
               ? -1 : 0;
}

static void *APR_THREAD_FUNC jobs_main(apr_thread_t *t, void *data)
{
    profile_worker_t *w = data;
    profile_db_pool_t *pool = profile_server_config(w->s)->db_pool;
    apr_pool_t *role_pool, *p;

    apr_pool_create_unmanaged_ex(&role_pool, NULL, NULL);
    apr_pool_create(&p, role_pool);
    while (!pause_unless_stopping(w, ROLE_RETRY_US)) {
        int retry_after, got = 0;
        /* The connection that holds the poller role stays checked out while it does. */
        PGconn *c = profile_db_acquire_pool(pool, role_pool, &retry_after);

        if (c && profile_store_try_advisory_lock(c, PROFILE_LOCK_REVALIDATION_POLLER, &got)
                     != PROFILE_STORE_OK)
            profile_db_mark_broken_pool(pool, role_pool, c);
        if (got) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, w->s, APLOGNO(10801)
                         "this process now runs revalidation jobs (%s)", w->worker_name);
            while (!w->stopping) {
                int failed = run_one_item(w, c, p);
                apr_pool_clear(p);
                if (failed) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, APLOGNO(10802)
                                 "revalidation jobs: database failed (%s); retrying",
                                 PQerrorMessage(c));
                    profile_db_mark_broken_pool(pool, role_pool, c);
                    break;
                }
            }
        }
        /* Gives the connection back (closing it when broken, which frees the lock). A held
         * lock would outlive the pool checkout, so a healthy holder never gets here before
         * stopping. */
        apr_pool_clear(role_pool);
        apr_pool_create(&p, role_pool);
    }
    apr_pool_destroy(role_pool);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_status_t worker_stop(void *data)
{
    profile_worker_t *w = data;
    apr_status_t rv;

    apr_thread_mutex_lock(w->lock);
    w->stopping = 1;
    apr_thread_cond_broadcast(w->wake);
    apr_thread_mutex_unlock(w->lock);
    if (w->refresher)
        apr_thread_join(&rv, w->refresher);
    if (w->jobs)
        apr_thread_join(&rv, w->jobs);
    worker = NULL;
    return APR_SUCCESS;
}

void profile_worker_child_init(apr_pool_t *pchild, server_rec *s)
{
    profile_worker_t *w = apr_pcalloc(pchild, sizeof(*w));
    char host[256];

    w->s = s;
    if (gethostname(host, sizeof(host)) != 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    w->worker_name = apr_psprintf(pchild, "%s:%" APR_PID_T_FMT, host, getpid());
    if (apr_thread_mutex_create(&w->lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS
        || apr_thread_cond_create(&w->wake, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10803)
                     "cannot start the profile worker: stale profiles are not refreshed "
                     "and revalidation jobs wait for another process");
        return;
    }
    /* A pre-cleanup runs before pchild's subpools (the threads' own) and its other cleanups
     * (the database and curl pools the threads use) are destroyed. */
    apr_pool_pre_cleanup_register(pchild, w, worker_stop);
    if (apr_thread_create(&w->refresher, NULL, refresher_main, w, pchild) != APR_SUCCESS)
        w->refresher = NULL;
    if (profile_server_config(s)->db_pool
        && apr_thread_create(&w->jobs, NULL, jobs_main, w, pchild) != APR_SUCCESS)
        w->jobs = NULL;
    if (!w->refresher || (profile_server_config(s)->db_pool && !w->jobs))
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, APLOGNO(10804)
                     "cannot start a profile worker thread");
    worker = w->refresher ? w : NULL;
}
