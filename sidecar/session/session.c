/* The captures this sidecar runs (session/session.h): a registry of sessions under one mutex,
 * each with its source, its inbox of events waiting for the persister (bounded: a source's
 * emit blocks while it is full) and its pending status changes. The persister takes batches
 * through session/session_batch.h and frees a session after its last write.
 *
 * A session's source is started and stopped outside the registry lock; src_state says who
 * handles it (the starter while STARTING, whoever moved it to STOPPING), and refs keeps the
 * session alive while a thread works on it without the lock. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "session/persister.h"
#include "session/session.h"
#include "session/session_private.h"

live_registry_t live_reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

void live_session_free_items(live_item_t *it)
{
    while (it) {
        live_item_t *next = it->next;
        live_event_free(it->ev);
        free(it);
        it = next;
    }
}

void live_session_free(live_session_t *s)
{
    live_session_free_items(s->head);
    live_event_free(s->live_ev);
    pthread_cond_destroy(&s->not_full);
    free(s);
}

live_session_t *live_session_unref_locked(live_session_t *s)
{
    return --s->refs == 0 ? s : NULL;
}

void live_session_remove_locked(live_session_t *s)
{
    if (s->slot >= 0) {
        live_reg.slots[s->slot] = NULL;
        live_reg.count--;
        s->slot = -1;
    }
}

static live_session_t *find_locked(const char *id)
{
    for (int i = 0; i < live_reg.cap; i++)
        if (live_reg.slots[i] && strcmp(live_reg.slots[i]->id, id) == 0)
            return live_reg.slots[i];
    return NULL;
}

/* [a-z_]{1,64} or "" */
static void copy_reason(char *dst, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    dst[0] = '\0';
    if (n == 0 || n > 64 || strspn(reason, "abcdefghijklmnopqrstuvwxyz_") != n)
        return;
    memcpy(dst, reason, n + 1);
}

/* At most 1024 bytes cut on a character boundary; not UTF-8 → non-ASCII bytes become '?'. */
static void copy_detail(char *dst, const char *detail)
{
    size_t n = detail ? strlen(detail) : 0;
    json_t *check;

    if (n > 1024) {
        n = 1024;
        while (n > 0 && ((unsigned char)detail[n] & 0xc0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, detail, n);
    dst[n] = '\0';
    check = json_stringn(dst, n);
    if (!check)
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)dst[i] >= 0x80)
                dst[i] = '?';
    json_decref(check);
}

/* ---- the sink the session gives its source ---------------------------------------------- */

/* block: wait for room in the inbox (replay); otherwise drop ev when it is full (a live
 * source cannot pause its upstream) and return 1. */
static int enqueue(live_session_t *s, live_event_t *ev, int64_t position, int block)
{
    live_item_t *it = calloc(1, sizeof(*it));
    int kick;

    if (!it) {
        LIVE_ERROR("session %s: out of memory, event dropped", s->id);
        live_event_free(ev);
        return 0;
    }
    it->kind = LIVE_ITEM_EVENT;
    it->ev = ev;
    it->position = position;
    pthread_mutex_lock(&live_reg.lock);
    while (block && !s->stopping && s->queued >= live_reg.cfg.inbox_max_events)
        pthread_cond_wait(&s->not_full, &live_reg.lock);
    if (!block && !s->stopping && s->queued >= live_reg.cfg.inbox_max_events) {
        /* Logged on the first drop and then at every power of two. */
        uint64_t n = ++s->dropped;
        pthread_mutex_unlock(&live_reg.lock);
        if ((n & (n - 1)) == 0)
            LIVE_WARN("session %s: the database falls behind: %llu live events dropped so far",
                      s->id, (unsigned long long)n);
        live_session_free_items(it);
        return 1;
    }
    if (s->stopping) {
        pthread_mutex_unlock(&live_reg.lock);
        live_session_free_items(it);
        return -1;
    }
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->queued++;
    live_reg.waiting++;
    kick = live_reg.waiting >= live_reg.cfg.batch_max_events;
    pthread_mutex_unlock(&live_reg.lock);
    if (kick)
        live_persister_kick();
    return 0;
}

static int sink_emit(void *ctx, live_event_t *ev, int64_t position)
{
    return enqueue(ctx, ev, position, 1);
}

static int sink_emit_nowait(void *ctx, live_event_t *ev, int64_t position)
{
    return enqueue(ctx, ev, position, 0);
}

static void sink_state(void *ctx, live_source_state_t state, const char *reason,
                       const char *detail)
{
    live_session_t *s = ctx;
    live_event_t *ev = NULL;

    if (state == LIVE_SOURCE_LIVE)
        ev = live_event_status("live", NULL);
    pthread_mutex_lock(&live_reg.lock);
    if (state == LIVE_SOURCE_CONNECTING || state == LIVE_SOURCE_LIVE) {
        /* The row shows why a source is not live (yet or again), and clears it once it is. */
        if (!s->final_reported && !s->lost) {
            int live = state == LIVE_SOURCE_LIVE;
            s->note_set = 1;
            snprintf(s->note_status, sizeof(s->note_status), "%s", live ? "live" : "connecting");
            copy_reason(s->note_reason, live ? NULL : reason);
            copy_detail(s->note_detail, live ? NULL : detail);
            if (!live && reason)
                LIVE_INFO("session %s: source connecting: %s", s->id, s->note_reason);
        }
        if (ev && !s->live_seen && !s->stopping) {
            s->live_ev = ev;
            s->live_seen = 1;
            ev = NULL;
        }
    } else if (!s->final_reported && !s->lost) {
        int failed = state == LIVE_SOURCE_FAILED;
        s->final_reported = 1;
        s->stopping = 1;
        snprintf(s->final_status, sizeof(s->final_status), "%s", failed ? "failed" : "ended");
        copy_reason(s->final_reason, reason);
        if (failed && !s->final_reason[0])
            snprintf(s->final_reason, sizeof(s->final_reason), "source_failed");
        copy_detail(s->final_detail, detail);
        pthread_cond_broadcast(&s->not_full);
        LIVE_INFO("session %s: source %s%s%s", s->id, s->final_status,
                  s->final_reason[0] ? ": " : "", s->final_reason);
    }
    pthread_mutex_unlock(&live_reg.lock);
    live_event_free(ev);
    live_persister_kick();
}

/* ---- start / stop ----------------------------------------------------------------------- */

int live_sessions_init(const live_config_t *cfg)
{
    pthread_mutex_lock(&live_reg.lock);
    live_reg.cfg = *cfg;
    if (live_reg.cfg.inbox_max_events < 1)
        live_reg.cfg.inbox_max_events = 1;
    live_reg.cap = cfg->max_sessions > 0 ? cfg->max_sessions : 1;
    live_reg.slots = calloc((size_t)live_reg.cap, sizeof(*live_reg.slots));
    live_reg.count = live_reg.cursor = live_reg.waiting = 0;
    pthread_mutex_unlock(&live_reg.lock);
    return live_reg.slots ? 0 : -1;
}

/* Lock held: the source cannot run (any more); marks the session failed. */
static void fail_locked(live_session_t *s, const char *reason, const char *detail)
{
    s->final_reported = 1;
    s->stopping = 1;
    snprintf(s->final_status, sizeof(s->final_status), "failed");
    copy_reason(s->final_reason, reason);
    copy_detail(s->final_detail, detail);
}

int live_sessions_start(const live_claim_t *claim)
{
    live_source_sink_t sink = { sink_emit, sink_emit_nowait, sink_state, NULL };
    live_session_t *s = calloc(1, sizeof(*s)), *gone;
    live_source_t *src;
    char err[256] = "";
    int slot = -1, starting;

    if (!s)
        return -1;
    pthread_mutex_lock(&live_reg.lock);
    if (!live_reg.slots || find_locked(claim->id) || live_reg.count >= live_reg.cap) {
        pthread_mutex_unlock(&live_reg.lock);
        free(s);
        return -1;
    }
    for (slot = 0; live_reg.slots[slot]; slot++)
        ;
    snprintf(s->id, sizeof(s->id), "%s", claim->id);
    pthread_cond_init(&s->not_full, NULL);
    s->last_offset = claim->last_offset;
    s->refs = 2;                                   /* the registry's and ours */
    s->slot = slot;
    s->ops = live_source_find(claim->source);
    if (claim->stopping) {                         /* its owner died while it was stopping */
        s->stop_requested = s->stopping = 1;
        s->mode = LIVE_STOP_FINAL;
    } else if (!s->ops) {
        fail_locked(s, "source_unavailable", "this sidecar has no such capture source");
    } else {
        s->src_state = LIVE_SRC_STARTING;
    }
    starting = s->src_state == LIVE_SRC_STARTING;
    live_reg.slots[slot] = s;
    live_reg.count++;
    pthread_mutex_unlock(&live_reg.lock);
    LIVE_INFO("session %s: starting (%s source, user %s, offset %lld, position %lld%s%s)",
              claim->id, claim->source, claim->username, (long long)claim->last_offset,
              (long long)claim->source_position, claim->resumed ? ", resumed" : "",
              claim->stopping ? ", stopping" : "");

    if (starting) {
        sink.ctx = s;
        src = s->ops->start(&live_reg.cfg, claim->id, claim->username, claim->options,
                            claim->source_position, &sink, err, sizeof(err));
        pthread_mutex_lock(&live_reg.lock);
        if (!src) {
            LIVE_WARN("session %s: the %s source cannot start: %s", claim->id, claim->source, err);
            fail_locked(s, "invalid_options", err[0] ? err : "the source cannot start");
            s->src_state = LIVE_SRC_NONE;
        } else if (s->stop_requested) {            /* stopped while starting */
            s->src_state = LIVE_SRC_STOPPING;
            pthread_mutex_unlock(&live_reg.lock);
            s->ops->stop(src);
            pthread_mutex_lock(&live_reg.lock);
            s->src_state = LIVE_SRC_STOPPED;
        } else {
            s->src = src;
            s->src_state = LIVE_SRC_RUNNING;
        }
        pthread_mutex_unlock(&live_reg.lock);
    }
    pthread_mutex_lock(&live_reg.lock);
    gone = live_session_unref_locked(s);
    pthread_mutex_unlock(&live_reg.lock);
    if (gone)
        live_session_free(gone);
    live_persister_kick();
    return 0;
}

live_stopper_t live_session_stop_locked(live_session_t *s, live_stop_mode_t mode)
{
    live_stopper_t st = { s, NULL, NULL };

    s->refs++;
    if (s->lost)
        return st;
    if (mode == LIVE_STOP_LOST) {
        s->lost = 1;
        st.drop = s->head;
        live_reg.waiting -= s->queued;
        s->head = s->tail = NULL;
        s->queued = 0;
        live_event_free(s->live_ev);
        s->live_ev = NULL;
    }
    if (!s->stop_requested || mode != LIVE_STOP_RELEASE)  /* FINAL beats RELEASE */
        s->mode = mode;
    s->stop_requested = s->stopping = 1;
    pthread_cond_broadcast(&s->not_full);                 /* a blocked emit returns -1 */
    if (s->src_state == LIVE_SRC_RUNNING) {
        st.src = s->src;
        s->src = NULL;
        s->src_state = LIVE_SRC_STOPPING;
    }
    return st;
}

void live_session_finish_stop(const live_stopper_t *st)
{
    live_session_t *gone;

    live_session_free_items(st->drop);
    if (st->src)
        st->s->ops->stop(st->src);                        /* joins its thread */
    pthread_mutex_lock(&live_reg.lock);
    if (st->src)
        st->s->src_state = LIVE_SRC_STOPPED;
    gone = live_session_unref_locked(st->s);
    pthread_mutex_unlock(&live_reg.lock);
    if (gone)
        live_session_free(gone);
}

static const char *mode_name(live_stop_mode_t mode)
{
    return mode == LIVE_STOP_FINAL ? "final" : mode == LIVE_STOP_RELEASE ? "release" : "lost";
}

void live_sessions_stop(const char *id, live_stop_mode_t mode)
{
    live_session_t *s;
    live_stopper_t st;

    pthread_mutex_lock(&live_reg.lock);
    s = live_reg.slots ? find_locked(id) : NULL;
    if (s)
        st = live_session_stop_locked(s, mode);
    pthread_mutex_unlock(&live_reg.lock);
    if (!s)
        return;
    LIVE_INFO("session %s: stopping (%s)", id, mode_name(mode));
    live_session_finish_stop(&st);
    live_persister_kick();
}

void live_sessions_stop_all(live_stop_mode_t mode)
{
    live_stopper_t *list;
    int n = 0;

    pthread_mutex_lock(&live_reg.lock);
    list = calloc((size_t)live_reg.cap + 1, sizeof(*list));
    for (int i = 0; list && i < live_reg.cap; i++)
        if (live_reg.slots[i])                     /* every source is told at once */
            list[n++] = live_session_stop_locked(live_reg.slots[i], mode);
    pthread_mutex_unlock(&live_reg.lock);
    if (n)
        LIVE_INFO("stopping %d sessions (%s)", n, mode_name(mode));
    for (int i = 0; i < n; i++)
        live_session_finish_stop(&list[i]);
    free(list);
    live_persister_kick();
}

int live_sessions_list(char (*ids)[65], int max)
{
    int n = 0;

    pthread_mutex_lock(&live_reg.lock);
    for (int i = 0; i < live_reg.cap && n < max; i++)
        if (live_reg.slots[i] && !live_reg.slots[i]->lost)
            memcpy(ids[n++], live_reg.slots[i]->id, 65);
    pthread_mutex_unlock(&live_reg.lock);
    return n;
}

int live_sessions_count(void)
{
    int n;

    pthread_mutex_lock(&live_reg.lock);
    n = live_reg.count;
    pthread_mutex_unlock(&live_reg.lock);
    return n;
}

int live_sessions_pending(void)
{
    int pending = 0;

    pthread_mutex_lock(&live_reg.lock);
    for (int i = 0; i < live_reg.cap && !pending; i++) {
        live_session_t *s = live_reg.slots[i];
        pending = s && !s->lost && (s->queued || s->in_flight || s->live_ev ||
                                    ((s->stop_requested || s->final_reported) && !s->ended));
    }
    pthread_mutex_unlock(&live_reg.lock);
    return pending;
}

int live_sessions_waiting(void)
{
    int n;

    pthread_mutex_lock(&live_reg.lock);
    n = live_reg.waiting;
    pthread_mutex_unlock(&live_reg.lock);
    return n;
}

void live_sessions_shutdown(void)
{
    pthread_mutex_lock(&live_reg.lock);
    for (int i = 0; i < live_reg.cap; i++) {
        live_session_t *s = live_reg.slots[i];
        if (!s)
            continue;
        live_reg.slots[i] = NULL;
        s->stopping = 1;
        pthread_cond_broadcast(&s->not_full);
        pthread_mutex_unlock(&live_reg.lock);
        if (s->src_state == LIVE_SRC_RUNNING && s->src)
            s->ops->stop(s->src);
        live_session_free(s);
        pthread_mutex_lock(&live_reg.lock);
    }
    free(live_reg.slots);
    live_reg.slots = NULL;
    live_reg.cap = live_reg.count = live_reg.waiting = 0;
    pthread_mutex_unlock(&live_reg.lock);
}
