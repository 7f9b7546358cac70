/* The persister thread (session/persister.h): every batch_interval_ms, or at once when kicked
 * (a status change, a full batch waiting), it takes a batch from the sessions' inboxes
 * (session/session_batch.h) and writes it in ONE transaction (session/persist_tx.c); only
 * after the COMMIT are the frames published to the WebSocket loop. A failed transaction is
 * rolled back and the SAME batch retried (backoff 100 ms doubling to 2 s) before anything
 * else is taken, so events are never lost, reordered or numbered differently from what is
 * finally committed. live_persister_stop writes what is pending until the deadline. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "session/persist_tx.h"
#include "session/persister.h"
#include "session/session_batch.h"

#define BACKOFF_MIN_US 100000
#define BACKOFF_MAX_US 2000000
#define LOG_EVERY_US   (10 * 1000000)  /* repeated failures: one line per this much */
#define DRAIN_POLL_US  10000           /* stopping, nothing takeable yet: look again after */

static struct {
    live_config_t cfg;
    pthread_once_t once;
    pthread_mutex_t lock;
    pthread_cond_t cond;               /* CLOCK_MONOTONIC */
    pthread_t thread;
    int running, kicked, stop;
    int64_t deadline_us;
    int64_t logged_at, recovered_at;   /* thread only: the log's limiter */
    int suppressed, attempts;
} P = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER };

static void init_once(void)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&P.cond, &attr);
    pthread_condattr_destroy(&attr);
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits up to wait_us; less when kicked (wake_on_kick) or stopped, except that a pause
 * (pause: a backoff, a drain poll) is only cut short by the stop deadline. */
static void wait_for_work(int64_t wait_us, int wake_on_kick, int pause)
{
    int64_t until = mono_us() + wait_us;

    pthread_mutex_lock(&P.lock);
    for (;;) {
        int64_t now = mono_us(), end = until;
        struct timespec ts;
        if (P.stop && !pause)
            break;
        if (P.stop && now + (P.deadline_us - live_now_us()) < end)
            end = now + (P.deadline_us - live_now_us());
        if ((wake_on_kick && P.kicked) || now >= end)
            break;
        ts.tv_sec = end / 1000000;
        ts.tv_nsec = (long)(end % 1000000) * 1000;
        pthread_cond_timedwait(&P.cond, &P.lock, &ts);
    }
    if (wake_on_kick)
        P.kicked = 0;
    pthread_mutex_unlock(&P.lock);
}

static void failed(const live_batch_t *batch, int64_t backoff)
{
    int64_t now = mono_us();

    P.attempts++;
    if (P.logged_at && now - P.logged_at < LOG_EVERY_US) {
        P.suppressed++;
        return;
    }
    if (P.suppressed)
        LIVE_ERROR("persister: a batch of %d events is not written (%s); retrying in %lld ms "
                   "(%d more failures since the last report)", batch->events, live_tx_error(),
                   (long long)(backoff / 1000), P.suppressed);
    else
        LIVE_ERROR("persister: a batch of %d events is not written (%s); retrying in %lld ms",
                   batch->events, live_tx_error(), (long long)(backoff / 1000));
    P.logged_at = now;
    P.suppressed = 0;
}

static void recovered(void)
{
    int64_t now = mono_us();

    if (!P.recovered_at || now - P.recovered_at >= LOG_EVERY_US) {
        LIVE_INFO("persister: writing again after %d failed attempts", P.attempts);
        P.recovered_at = now;
    }
    P.attempts = 0;
}

static void *persister_thread(void *arg)
{
    live_batch_t batch = { 0 };
    int full = 0;
    int64_t backoff = 0;

    (void)arg;
    for (;;) {
        int stopping;
        int64_t deadline;

        if (backoff)
            wait_for_work(backoff, 0, 1);
        else if (!full && !batch.entries)
            wait_for_work((int64_t)P.cfg.batch_interval_ms * 1000, 1, 0);
        pthread_mutex_lock(&P.lock);
        stopping = P.stop;
        deadline = P.deadline_us;
        pthread_mutex_unlock(&P.lock);
        if (stopping && live_now_us() >= deadline)
            break;
        if (!batch.entries)            /* a failed batch is retried before anything else */
            full = live_sessions_batch_take(&batch, P.cfg.batch_max_events) >=
                   P.cfg.batch_max_events;
        if (!batch.entries) {
            if (stopping && !live_sessions_pending())
                break;
            if (stopping)
                wait_for_work(DRAIN_POLL_US, 0, 1);
            continue;
        }
        if (live_tx_write(&batch) != 0) {
            backoff = !backoff ? BACKOFF_MIN_US
                    : backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : backoff * 2;
            failed(&batch, backoff);
            continue;
        }
        if (backoff)
            recovered();
        backoff = 0;
        live_tx_publish(&batch);
        live_sessions_batch_done(&batch);   /* frees the batch, clears batch.entries */
        full = full || live_sessions_waiting() >= P.cfg.batch_max_events;
    }
    if (batch.entries) {
        LIVE_ERROR("persister: stopped with %d events not written (%s), %d more waiting",
                   batch.events, live_tx_error(), live_sessions_waiting());
        live_sessions_batch_drop(&batch);
    }
    live_tx_close();
    return NULL;
}

int live_persister_start(const live_config_t *cfg)
{
    pthread_once(&P.once, init_once);
    P.cfg = *cfg;
    if (P.cfg.batch_max_events < 1)
        P.cfg.batch_max_events = 1;
    if (P.cfg.batch_interval_ms < 1)
        P.cfg.batch_interval_ms = 1;
    P.stop = P.kicked = 0;
    P.logged_at = P.recovered_at = 0;
    P.suppressed = P.attempts = 0;
    live_tx_init(&P.cfg);
    if (pthread_create(&P.thread, NULL, persister_thread, NULL) != 0) {
        LIVE_ERROR("persister: cannot start its thread");
        return -1;
    }
    pthread_setname_np(P.thread, "live-persister");
    P.running = 1;
    return 0;
}

void live_persister_kick(void)
{
    pthread_once(&P.once, init_once);
    pthread_mutex_lock(&P.lock);
    P.kicked = 1;
    pthread_cond_signal(&P.cond);
    pthread_mutex_unlock(&P.lock);
}

void live_persister_stop(int64_t deadline_us)
{
    if (!P.running)
        return;
    pthread_mutex_lock(&P.lock);
    P.stop = 1;
    P.deadline_us = deadline_us;
    pthread_cond_signal(&P.cond);
    pthread_mutex_unlock(&P.lock);
    pthread_join(P.thread, NULL);
    P.running = 0;
}
