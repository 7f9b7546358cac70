/* Hand-off from the worker threads (persister, coordinator, history) to the WebSocket loop:
 * a mutex-protected FIFO. Appending to an empty queue wakes the loop (live_server_wake →
 * lws_cancel_service); the loop takes the whole queue at once (ws/hub_loop.h).
 *
 * Bounds: committed frames (publish) are never dropped; when the loop falls more than
 * LIVE_HUB_FRAMES_WARN frames behind it logs an error at most once a minute. Remote
 * notifications are capped (LIVE_HUB_REMOTE_MAX queued; the next one for a session carries a
 * higher offset anyway). History results are bounded by the loop's own outstanding requests. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/history.h"
#include "ws/hub.h"
#include "ws/hub_loop.h"
#include "ws/server.h"

#define LIVE_HUB_FRAMES_WARN 100000
#define LIVE_HUB_REMOTE_MAX  10000
#define LIVE_HUB_LOG_EVERY_US (60 * 1000000LL)

static pthread_mutex_t hub_lock = PTHREAD_MUTEX_INITIALIZER;
static live_hub_msg_t *hub_head, *hub_tail;
static size_t hub_frames, hub_remotes;
static int64_t hub_behind_logged_us, hub_drop_logged_us;
static uint64_t hub_dropped;

static void copy_id(char dst[65], const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n > 64)
        n = 64;
    if (n)
        memcpy(dst, id, n);
    dst[n] = '\0';
}

/* Appends m (under the lock); wakes the loop when the queue was empty. */
static void enqueue(live_hub_msg_t *m)
{
    int was_empty, log_behind = 0;
    size_t frames;
    int64_t now = live_now_us();

    pthread_mutex_lock(&hub_lock);
    was_empty = hub_head == NULL;
    m->next = NULL;
    if (hub_tail)
        hub_tail->next = m;
    else
        hub_head = m;
    hub_tail = m;
    hub_frames += m->nframes;
    if (m->kind == LIVE_HUB_REMOTE)
        hub_remotes++;
    frames = hub_frames;
    if (frames > LIVE_HUB_FRAMES_WARN && now - hub_behind_logged_us >= LIVE_HUB_LOG_EVERY_US) {
        hub_behind_logged_us = now;
        log_behind = 1;
    }
    pthread_mutex_unlock(&hub_lock);
    if (log_behind)
        LIVE_ERROR("websocket loop is %zu frames behind the persister", frames);
    if (was_empty)
        live_server_wake();
}

void live_hub_publish(const char *session_id, live_frame_t *frames)
{
    live_hub_msg_t *m;
    size_t n = 0;

    if (!frames)
        return;
    for (live_frame_t *f = frames; f; f = f->next)
        n++;
    m = calloc(1, sizeof(*m));
    if (!m) {
        /* Committed and not lost: clients resume with ?since= from the database. */
        LIVE_ERROR("out of memory: %zu committed frames of %s not streamed", n,
                   session_id ? session_id : "?");
        live_frame_free_chain(frames);
        return;
    }
    m->kind = LIVE_HUB_PUBLISH;
    copy_id(m->session_id, session_id);
    m->frames = frames;
    m->nframes = n;
    enqueue(m);
}

void live_hub_remote(const char *session_id, int64_t last_offset)
{
    live_hub_msg_t *m;
    int64_t now;
    int drop, log_drop = 0;
    uint64_t dropped = 0;

    pthread_mutex_lock(&hub_lock);
    drop = hub_remotes >= LIVE_HUB_REMOTE_MAX;
    if (drop) {
        now = live_now_us();
        dropped = ++hub_dropped;
        if (now - hub_drop_logged_us >= LIVE_HUB_LOG_EVERY_US) {
            hub_drop_logged_us = now;
            log_drop = 1;
        }
    }
    pthread_mutex_unlock(&hub_lock);
    if (drop) {
        if (log_drop)
            LIVE_ERROR("websocket loop behind: %llu remote notifications dropped so far",
                       (unsigned long long)dropped);
        return;
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->kind = LIVE_HUB_REMOTE;
    copy_id(m->session_id, session_id);
    m->last_offset = last_offset;
    enqueue(m);
}

void live_hub_history(struct live_history_result *res)
{
    live_hub_msg_t *m;

    if (!res)
        return;
    m = calloc(1, sizeof(*m));
    if (!m) {
        /* The requester times out its request and retries. */
        LIVE_ERROR("out of memory: history result for %s dropped", res->session_id);
        live_history_result_free(res);
        return;
    }
    m->kind = LIVE_HUB_HISTORY;
    copy_id(m->session_id, res->session_id);
    m->history = res;
    enqueue(m);
}

live_hub_msg_t *live_hub_take(void)
{
    live_hub_msg_t *head;

    pthread_mutex_lock(&hub_lock);
    head = hub_head;
    hub_head = hub_tail = NULL;
    hub_frames = 0;
    hub_remotes = 0;
    pthread_mutex_unlock(&hub_lock);
    return head;
}

int live_hub_pending(void)
{
    int pending;

    pthread_mutex_lock(&hub_lock);
    pending = hub_head != NULL;
    pthread_mutex_unlock(&hub_lock);
    return pending;
}

void live_hub_msg_free(live_hub_msg_t *m)
{
    if (!m)
        return;
    live_frame_free_chain(m->frames);
    if (m->history)
        live_history_result_free(m->history);
    free(m);
}

void live_hub_clear(void)
{
    live_hub_msg_t *m = live_hub_take();

    while (m) {
        live_hub_msg_t *next = m->next;
        live_hub_msg_free(m);
        m = next;
    }
}
