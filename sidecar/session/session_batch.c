/* The persister's side of the session registry (session/session_batch.h): batches taken
 * round-robin from the inboxes with each session's status items, and what happens to the
 * sessions once the persister committed (or gave up on) a batch. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "session/session_private.h"

static live_item_t *end_item_locked(live_session_t *s)
{
    live_item_t *it = calloc(1, sizeof(*it));

    if (!it)
        return NULL;
    it->position = -1;
    if (!s->final_reported && s->mode == LIVE_STOP_RELEASE) {
        it->kind = LIVE_ITEM_RELEASE;
        return it;
    }
    it->kind = LIVE_ITEM_FINAL;
    if (s->final_reported) {
        snprintf(it->status, sizeof(it->status), "%s", s->final_status);
        memcpy(it->reason, s->final_reason, sizeof(it->reason));
        memcpy(it->detail, s->final_detail, sizeof(it->detail));
    } else {
        snprintf(it->status, sizeof(it->status), "ended");
        snprintf(it->reason, sizeof(it->reason), "disconnected");
    }
    it->ev = live_event_status(it->status, it->reason[0] ? it->reason : NULL);
    if (!it->ev) {
        free(it);
        return NULL;
    }
    return it;
}

static live_batch_entry_t *entry_of(live_batch_entry_t **entries, int i)
{
    return entries[i] ? entries[i] : (entries[i] = calloc(1, sizeof(**entries)));
}

static void entry_add(live_batch_entry_t *e, live_item_t *first, live_item_t *last, int n)
{
    if (e->last)
        e->last->next = first;
    else
        e->items = first;
    e->last = last;
    last->next = NULL;
    e->count += n;
}

static int source_done(const live_session_t *s)
{
    return s->src_state == LIVE_SRC_NONE || s->src_state == LIVE_SRC_STOPPED;
}

/* Lock held: up to n inbox items of s into e. */
static int take_events(live_session_t *s, live_batch_entry_t *e, int n)
{
    live_item_t *first = s->head, *last = NULL;
    int k = 0;

    while (k < n && s->head) {
        last = s->head;
        s->head = last->next;
        k++;
    }
    if (!s->head)
        s->tail = NULL;
    if (k) {
        entry_add(e, first, last, k);
        s->queued -= k;
        live_reg.waiting -= k;
    }
    return k;
}

/* Lock held: the "live" status (before this batch's events) and, once the inbox is empty
 * and the source done, the end item. */
static void take_status(live_session_t *s, live_batch_entry_t **entries, int i)
{
    live_item_t *it;

    if (s->live_ev && entry_of(entries, i) && (it = calloc(1, sizeof(*it)))) {
        it->kind = LIVE_ITEM_LIVE;
        it->ev = s->live_ev;
        it->position = -1;
        s->live_ev = NULL;
        it->next = entries[i]->items;
        entries[i]->items = it;
        if (!entries[i]->last)
            entries[i]->last = it;
        entries[i]->count++;
    }
    if (s->note_set && !s->ended && entry_of(entries, i) && (it = calloc(1, sizeof(*it)))) {
        it->kind = LIVE_ITEM_NOTE;
        it->position = -1;
        memcpy(it->status, s->note_status, sizeof(it->status));
        memcpy(it->reason, s->note_reason, sizeof(it->reason));
        memcpy(it->detail, s->note_detail, sizeof(it->detail));
        entry_add(entries[i], it, it, 1);
        s->note_set = 0;
    }
    if (!s->ended && !s->head && (s->final_reported || (s->stop_requested && source_done(s))) &&
        entry_of(entries, i) && (it = end_item_locked(s)) != NULL) {
        entry_add(entries[i], it, it, 1);
        entries[i]->ends = 1;
        s->ended = 1;
    }
}

int live_sessions_batch_take(live_batch_t *batch, int max)
{
    live_batch_entry_t **entries, *tail = NULL;
    live_session_t *free_list[16];
    int nfree = 0, taken = 0, progress = 1, busy = 0, items = 0;

    batch->entries = NULL;
    batch->events = 0;
    pthread_mutex_lock(&live_reg.lock);
    entries = live_reg.slots ? calloc((size_t)live_reg.cap + 1, sizeof(*entries)) : NULL;
    if (!entries) {
        pthread_mutex_unlock(&live_reg.lock);
        return 0;
    }
    for (int i = 0; i < live_reg.cap; i++)
        busy += live_reg.slots[i] && live_reg.slots[i]->queued > 0;
    /* Round-robin: passes of an equal share each, starting one session further each time. */
    while (taken < max && progress) {
        int share = (max - taken) / (busy > 0 ? busy : 1);
        progress = 0;
        for (int k = 0; k < live_reg.cap && taken < max; k++) {
            int i = (live_reg.cursor + k) % live_reg.cap, n;
            live_session_t *s = live_reg.slots[i];
            if (!s || !s->head || !entry_of(entries, i))
                continue;
            n = take_events(s, entries[i], share < 1 ? 1 : share < max - taken ? share
                                                                             : max - taken);
            taken += n;
            progress |= n > 0;
        }
    }
    for (int k = 0; k < live_reg.cap; k++) {
        int i = (live_reg.cursor + k) % live_reg.cap;
        live_session_t *s = live_reg.slots[i];
        if (!s)
            continue;
        if (s->lost) {                        /* nothing to write: freed once idle */
            if (s->in_flight == 0 && source_done(s) && nfree < 16) {
                live_session_remove_locked(s);
                if (live_session_unref_locked(s))
                    free_list[nfree++] = s;
            }
            continue;
        }
        take_status(s, entries, i);
        if (entries[i] && entries[i]->count == 0) {
            free(entries[i]);
            entries[i] = NULL;
        }
        if (!entries[i])
            continue;
        entries[i]->session = s;
        memcpy(entries[i]->id, s->id, sizeof(s->id));
        entries[i]->last_offset = s->last_offset;
        s->in_flight += entries[i]->count;
        items += entries[i]->count;
        for (live_item_t *it = entries[i]->items; it; it = it->next)
            batch->events += it->ev != NULL;
        if (tail)
            tail->next = entries[i];
        else
            batch->entries = entries[i];
        tail = entries[i];
        pthread_cond_broadcast(&s->not_full); /* room in the inbox again */
    }
    live_reg.cursor = (live_reg.cursor + 1) % live_reg.cap;
    pthread_mutex_unlock(&live_reg.lock);
    free(entries);
    for (int i = 0; i < nfree; i++)
        live_session_free(free_list[i]);
    return items;
}

static void batch_free(live_batch_t *batch)
{
    live_batch_entry_t *e = batch->entries;

    while (e) {
        live_batch_entry_t *next = e->next;
        live_session_free_items(e->items);
        free(e);
        e = next;
    }
    batch->entries = NULL;
    batch->events = 0;
}

void live_sessions_batch_done(live_batch_t *batch)
{
    live_stopper_t *list;
    int n = 0, cap = 0;

    for (live_batch_entry_t *e = batch->entries; e; e = e->next)
        cap++;
    list = calloc((size_t)cap + 1, sizeof(*list));
    pthread_mutex_lock(&live_reg.lock);
    for (live_batch_entry_t *e = batch->entries; e; e = e->next) {
        live_session_t *s = e->session;
        s->in_flight -= e->count;
        if (e->lost) {
            LIVE_WARN("session %s: not owned by this sidecar any more, %d events dropped",
                      s->id, e->count);
            if (list)
                list[n++] = live_session_stop_locked(s, LIVE_STOP_LOST);
        } else {
            s->last_offset = e->committed_offset;
        }
        if (e->ends && !e->lost && list) {    /* its last write: out of the registry */
            /* (stops a source that ended by itself; nothing is left to drop) */
            list[n++] = live_session_stop_locked(s, LIVE_STOP_LOST);
            live_session_remove_locked(s);
            s->refs--;                        /* the registry's reference */
        }
    }
    pthread_mutex_unlock(&live_reg.lock);
    for (int i = 0; i < n; i++)
        live_session_finish_stop(&list[i]);
    free(list);
    batch_free(batch);
}

void live_sessions_batch_drop(live_batch_t *batch)
{
    pthread_mutex_lock(&live_reg.lock);
    for (live_batch_entry_t *e = batch->entries; e; e = e->next)
        e->session->in_flight -= e->count;
    pthread_mutex_unlock(&live_reg.lock);
    batch_free(batch);
}
