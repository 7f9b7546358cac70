/* Channels of the WebSocket loop: per session id a ring of recent committed frames, what is
 * known of the session and its subscribers (see ws/channel.h). Pure logic, main thread only. */
#include <stdlib.h>
#include <string.h>

#include "ws/channel.h"

#define LIVE_CHANNEL_BUCKETS 16384u

/* ---- intrusive list ---------------------------------------------------------------- */

void live_link_init(live_link_t *head)
{
    head->prev = head->next = head;
}

void live_link_add_tail(live_link_t *head, live_link_t *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

void live_link_del(live_link_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

int live_link_empty(const live_link_t *head)
{
    return head->next == head;
}

/* ---- ring ---------------------------------------------------------------------------- */

int live_ring_init(live_ring_t *r, uint32_t cap)
{
    /* The slots come with the first frame: a channel of an unknown session costs little. */
    r->slot = NULL;
    r->cap = cap < 1 ? 1 : cap;
    r->head = r->count = 0;
    return 0;
}

void live_ring_clear(live_ring_t *r)
{
    for (uint32_t i = 0; i < r->count; i++) {
        uint32_t idx = (r->head + i) % r->cap;
        free(r->slot[idx]);
        r->slot[idx] = NULL;
    }
    r->head = r->count = 0;
}

void live_ring_free(live_ring_t *r)
{
    if (!r->slot)
        return;
    live_ring_clear(r);
    free(r->slot);
    r->slot = NULL;
}

int64_t live_ring_first(const live_ring_t *r)
{
    return r->count ? r->slot[r->head]->offset : 0;
}

int64_t live_ring_last(const live_ring_t *r)
{
    return r->count ? r->slot[(r->head + r->count - 1) % r->cap]->offset : 0;
}

live_frame_t *live_ring_get(const live_ring_t *r, int64_t offset)
{
    int64_t first;

    if (!r->count)
        return NULL;
    first = r->slot[r->head]->offset;
    if (offset < first || offset - first >= (int64_t)r->count)
        return NULL;
    return r->slot[(r->head + (uint32_t)(offset - first)) % r->cap];
}

int live_ring_push(live_ring_t *r, live_frame_t *f)
{
    int gap = 0;

    f->next = NULL;
    if (!r->slot && !(r->slot = calloc(r->cap, sizeof(*r->slot)))) {
        free(f);
        return LIVE_RING_OOM;
    }
    if (r->count) {
        int64_t last = live_ring_last(r);
        if (f->offset <= last) {
            free(f);
            return LIVE_RING_DUP;
        }
        if (f->offset != last + 1) {
            live_ring_clear(r);
            gap = 1;
        }
    }
    if (r->count == r->cap) {
        free(r->slot[r->head]);
        r->slot[r->head] = NULL;
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    r->slot[(r->head + r->count) % r->cap] = f;
    r->count++;
    return gap ? LIVE_RING_GAP : LIVE_RING_APPENDED;
}

/* ---- table --------------------------------------------------------------------------- */

static uint32_t hash_id(const char *id)
{
    uint32_t h = 2166136261u;

    for (; *id; id++) {
        h ^= (unsigned char)*id;
        h *= 16777619u;
    }
    return h;
}

int live_channels_init(live_channels_t *t, int max, uint32_t ring_cap)
{
    memset(t, 0, sizeof(*t));
    t->buckets = calloc(LIVE_CHANNEL_BUCKETS, sizeof(*t->buckets));
    if (!t->buckets)
        return -1;
    t->nbuckets = LIVE_CHANNEL_BUCKETS;
    t->max = max > 0 ? max : LIVE_CHANNELS_MAX;
    t->ring_cap = ring_cap ? ring_cap : 1;
    return 0;
}

static void channel_free(live_channel_t *ch)
{
    live_ring_free(&ch->ring);
    free(ch);
}

void live_channels_destroy(live_channels_t *t)
{
    if (!t->buckets)
        return;
    for (uint32_t b = 0; b < t->nbuckets; b++) {
        live_channel_t *ch = t->buckets[b];
        while (ch) {
            live_channel_t *next = ch->hnext;
            channel_free(ch);
            ch = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

live_channel_t *live_channel_find(live_channels_t *t, const char *id)
{
    live_channel_t *ch = t->buckets[hash_id(id) % t->nbuckets];

    while (ch && strcmp(ch->id, id))
        ch = ch->hnext;
    return ch;
}

int live_channel_captured_now(const live_channel_t *ch, int64_t now)
{
    return ch->captured && now - ch->last_publish_us < LIVE_CAPTURE_GRACE_US;
}

static int idle(const live_channel_t *ch)
{
    return ch->nsubs == 0 && ch->fetch_id == 0;
}

static int expired(const live_channel_t *ch, int64_t now)
{
    if (!idle(ch) || now - ch->idle_since_us < LIVE_CHANNEL_IDLE_US)
        return 0;
    return !ch->captured || now - ch->last_publish_us >= LIVE_CHANNEL_KEEP_US;
}

/* Unlinks and frees the idle channel that has been idle longest (at the cap). */
static int evict_one(live_channels_t *t)
{
    live_channel_t **best = NULL;

    for (uint32_t b = 0; b < t->nbuckets; b++)
        for (live_channel_t **pp = &t->buckets[b]; *pp; pp = &(*pp)->hnext)
            if (idle(*pp) && (!best || (*pp)->idle_since_us < (*best)->idle_since_us))
                best = pp;
    if (!best)
        return -1;
    {
        live_channel_t *victim = *best;
        *best = victim->hnext;
        channel_free(victim);
        t->count--;
    }
    return 0;
}

int live_channels_room(live_channels_t *t, const char *id)
{
    if (live_channel_find(t, id) || t->count < t->max)
        return 1;
    for (uint32_t b = 0; b < t->nbuckets; b++)
        for (live_channel_t *ch = t->buckets[b]; ch; ch = ch->hnext)
            if (idle(ch))
                return 1;
    return 0;
}

live_channel_t *live_channel_get(live_channels_t *t, const char *id, int force, int64_t now)
{
    live_channel_t *ch = live_channel_find(t, id);
    size_t n = strlen(id);
    uint32_t b;

    if (ch)
        return ch;
    if (n == 0 || n > 64)
        return NULL;
    if (t->count >= t->max && evict_one(t) < 0 && !force)
        return NULL;
    ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    if (live_ring_init(&ch->ring, t->ring_cap) < 0) {
        free(ch);
        return NULL;
    }
    memcpy(ch->id, id, n + 1);
    ch->state = LIVE_CH_UNKNOWN;
    live_link_init(&ch->subs);
    ch->idle_since_us = now;
    b = hash_id(id) % t->nbuckets;
    ch->hnext = t->buckets[b];
    t->buckets[b] = ch;
    t->count++;
    return ch;
}

int live_channels_sweep(live_channels_t *t, int64_t now)
{
    int freed = 0;

    for (uint32_t b = 0; b < t->nbuckets; b++) {
        live_channel_t **pp = &t->buckets[b];
        while (*pp) {
            live_channel_t *ch = *pp;
            if (expired(ch, now)) {
                *pp = ch->hnext;
                channel_free(ch);
                t->count--;
                freed++;
            } else {
                pp = &ch->hnext;
            }
        }
    }
    return freed;
}

void live_channels_each(live_channels_t *t, void (*fn)(live_channel_t *, void *), void *arg)
{
    for (uint32_t b = 0; b < t->nbuckets; b++)
        for (live_channel_t *ch = t->buckets[b]; ch; ch = ch->hnext)
            fn(ch, arg);
}

/* ---- subscribers ----------------------------------------------------------------------- */

void live_channel_sub_add(live_channel_t *ch, live_link_t *link, int64_t now)
{
    /* Nobody followed it: what we know may be old unless our persister feeds it. An ended
     * session may have been started again under its id (/connect names it): ask again. */
    if ((ch->nsubs == 0 && !live_channel_captured_now(ch, now)) || ch->state == LIVE_CH_ENDED)
        ch->fresh = 0;
    live_link_add_tail(&ch->subs, link);
    ch->nsubs++;
}

void live_channel_sub_del(live_channel_t *ch, live_link_t *link, int64_t now)
{
    live_link_del(link);
    if (ch->nsubs > 0 && --ch->nsubs == 0)
        ch->idle_since_us = now;
}

/* ---- what arrives -------------------------------------------------------------------- */

static unsigned append_frames(live_channel_t *ch, live_frame_t *frames)
{
    unsigned flags = 0;

    while (frames) {
        live_frame_t *f = frames;
        frames = f->next;
        if (f->offset <= ch->last_offset || f->offset <= 0) {
            free(f);
            continue;
        }
        /* Out of memory the frame is only in the database: subscribers read it there. */
        ch->last_offset = f->offset;
        ch->state = f->final ? LIVE_CH_ENDED : LIVE_CH_ACTIVE;
        if (live_ring_push(&ch->ring, f) == LIVE_RING_GAP)
            flags |= LIVE_CH_F_RESET;
        flags |= LIVE_CH_F_APPENDED;
    }
    return flags;
}

unsigned live_channel_append(live_channel_t *ch, live_frame_t *frames, int publish,
                             int64_t now, int64_t *base)
{
    unsigned flags = 0;

    if (!frames)
        return 0;
    if (publish) {
        if (!ch->fresh || ch->state == LIVE_CH_UNKNOWN) {
            /* Our persister is authoritative: subscribers waiting to learn where "now" is
             * start with this batch; a ring that does not continue into it is dropped (a
             * recreated session restarts at 1). */
            int64_t first = frames->offset;
            if (ch->ring.count && first != live_ring_last(&ch->ring) + 1) {
                live_ring_clear(&ch->ring);
                flags |= LIVE_CH_F_RESET;
            }
            ch->last_offset = first - 1;
            ch->notified = first - 1;
            ch->fresh = 1;
            flags |= LIVE_CH_F_FRESHENED;
            if (base)
                *base = first - 1;
        }
        ch->db_final = 0;
        ch->captured = 1;
        ch->last_publish_us = now;
    }
    flags |= append_frames(ch, frames);
    if (!publish && ch->db_final && ch->state == LIVE_CH_ACTIVE &&
        ch->last_offset >= ch->notified)
        ch->state = LIVE_CH_ENDED;
    if (ch->notified < ch->last_offset)
        ch->notified = ch->last_offset;
    return flags;
}

static int status_final(const char *status)
{
    return status && (!strcmp(status, "ended") || !strcmp(status, "failed"));
}

unsigned live_channel_apply(live_channel_t *ch, int found, const char *status,
                            int64_t last_offset, live_frame_t *frames, int64_t now,
                            int64_t *base)
{
    unsigned flags = 0;
    int final = status_final(status);

    ch->fetch_id = 0;
    ch->fetch_kind = LIVE_FETCH_NONE;
    ch->fetch_errors = 0;
    ch->fetch_due_us = 0;
    if (!found) {
        live_frame_free_chain(frames);
        if (ch->fresh && (ch->state == LIVE_CH_ABSENT || live_channel_captured_now(ch, now)))
            return 0;
        if (ch->ring.count || ch->last_offset)
            flags |= LIVE_CH_F_RESET;
        live_ring_clear(&ch->ring);
        ch->last_offset = ch->notified = 0;
        ch->db_final = 0;
        ch->state = LIVE_CH_ABSENT;
        if (!ch->fresh) {
            ch->fresh = 1;
            flags |= LIVE_CH_F_FRESHENED;
            if (base)
                *base = 0;
        }
        return flags;
    }
    if (last_offset < 0)
        last_offset = 0;
    if (!ch->fresh) {
        /* A probe: the database says where the session stands. */
        if (ch->state == LIVE_CH_UNKNOWN || last_offset != ch->last_offset) {
            if (ch->ring.count)
                flags |= LIVE_CH_F_RESET;
            live_ring_clear(&ch->ring);
            ch->last_offset = last_offset;
        }
        ch->notified = last_offset;
        ch->db_final = final;
        ch->state = final && ch->last_offset >= ch->notified ? LIVE_CH_ENDED : LIVE_CH_ACTIVE;
        ch->fresh = 1;
        flags |= LIVE_CH_F_FRESHENED;
        if (base)
            *base = ch->last_offset;
        return flags | live_channel_append(ch, frames, 0, now, NULL);
    }
    /* Following (or a probe overtaken by our persister's publish). */
    if (last_offset > ch->notified) {
        ch->notified = last_offset;
        ch->db_final = final;
    } else if (last_offset == ch->notified) {
        ch->db_final = final;
    }
    flags |= live_channel_append(ch, frames, 0, now, NULL);
    /* Announced offsets the database does not have (a session deleted and recreated): stop
     * asking for them. */
    if (ch->notified > ch->last_offset && last_offset <= ch->last_offset)
        ch->notified = ch->last_offset;
    if (ch->db_final && ch->state == LIVE_CH_ACTIVE && ch->last_offset >= ch->notified)
        ch->state = LIVE_CH_ENDED;
    return flags;
}

void live_channel_remote(live_channel_t *ch, int64_t last_offset)
{
    if (last_offset > ch->notified) {
        ch->notified = last_offset;
        ch->db_final = 0;
    }
}

int live_channel_need_fetch(const live_channel_t *ch, int64_t now,
                            live_fetch_kind_t *kind, int64_t *after)
{
    if (ch->fetch_id || ch->nsubs == 0 || now < ch->fetch_due_us)
        return 0;
    if (!ch->fresh) {
        *kind = LIVE_FETCH_PROBE;
        *after = LIVE_PROBE_AFTER;
        return 1;
    }
    if (ch->notified > ch->last_offset && !live_channel_captured_now(ch, now)) {
        *kind = LIVE_FETCH_FOLLOW;
        *after = ch->last_offset;
        return 1;
    }
    return 0;
}

/* ---- subscriber decisions -------------------------------------------------------------- */

int64_t live_channel_start(const live_channel_t *ch, int64_t since, int64_t base)
{
    if (since >= 0)
        return since + 1;
    if (base < 0)
        base = 0;
    if (base >= ch->last_offset && ch->state == LIVE_CH_ENDED && ch->last_offset > 0)
        return ch->last_offset;
    return base + 1;
}

live_plan_t live_channel_plan(const live_channel_t *ch, int64_t next)
{
    if (!ch->fresh || ch->state == LIVE_CH_UNKNOWN)
        return LIVE_PLAN_WAIT;
    if (next <= ch->last_offset)
        return ch->ring.count && next >= live_ring_first(&ch->ring) ? LIVE_PLAN_RING
                                                                    : LIVE_PLAN_HISTORY;
    if (ch->state == LIVE_CH_ENDED)
        return LIVE_PLAN_END;
    return LIVE_PLAN_WAIT;
}

int64_t live_channel_lag(const live_channel_t *ch, int64_t next)
{
    int64_t lag = ch->last_offset - next + 1;

    return lag > 0 ? lag : 0;
}
