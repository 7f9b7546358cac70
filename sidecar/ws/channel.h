/* Per session id, what the WebSocket loop knows (main thread only, no libwebsockets here so
 * the logic is unit-testable): a ring of the last session_buffer committed frames (ascending,
 * contiguous offsets), the last offset subscribers can be served up to, the session's state,
 * whether our persister captures it (publish) or it is followed through PostgreSQL (remote
 * notifications → history reads), and the list of its subscribers.
 *
 * Offsets: frames with offset <= last_offset exist in the database; those >= ring first are
 * in memory. A subscriber at `next` is served from the ring (RING), from the history thread
 * (HISTORY: next is older than the ring), waits (WAIT) or is done (END: the session ended
 * and everything up to its final event was sent). */
#ifndef LIVE_CHANNEL_H
#define LIVE_CHANNEL_H

#include <stdint.h>

#include "ws/frame.h"

#define LIVE_CHANNELS_MAX        10000
#define LIVE_CHANNEL_IDLE_US     (60 * 1000000LL)   /* unsubscribed channels kept this long */
#define LIVE_CHANNEL_KEEP_US     (600 * 1000000LL)  /* captured ones: after their last publish */
#define LIVE_CAPTURE_GRACE_US    (5 * 1000000LL)    /* a publish this recent: captured here now */
#define LIVE_PROBE_AFTER         INT64_MAX          /* history "after" that reads no events */

/* Intrusive circular list (subscribers of a channel, waiting lists). */
typedef struct live_link {
    struct live_link *prev, *next;
} live_link_t;

void live_link_init(live_link_t *head);
void live_link_add_tail(live_link_t *head, live_link_t *n);
void live_link_del(live_link_t *n);              /* n becomes a self-linked (empty) node */
int  live_link_empty(const live_link_t *head);

typedef struct {
    live_frame_t **slot;
    uint32_t cap, head, count;                   /* head: index of the oldest frame */
} live_ring_t;

int  live_ring_init(live_ring_t *r, uint32_t cap);   /* allocates nothing yet: 0 */
void live_ring_clear(live_ring_t *r);               /* frees the frames, keeps the slots */
void live_ring_free(live_ring_t *r);
int64_t live_ring_first(const live_ring_t *r);      /* 0 when empty */
int64_t live_ring_last(const live_ring_t *r);       /* 0 when empty */
/* The frame with that offset, or NULL. O(1). */
live_frame_t *live_ring_get(const live_ring_t *r, int64_t offset);
/* Appends f (taken, f->next ignored). offset <= last: freed (DUP). offset > last + 1 on a
 * non-empty ring: the ring restarts at f (GAP). A full ring drops its oldest frame. The slots
 * are allocated with the first frame: OOM (f freed) when that fails. */
enum { LIVE_RING_APPENDED, LIVE_RING_DUP, LIVE_RING_GAP, LIVE_RING_OOM };
int  live_ring_push(live_ring_t *r, live_frame_t *f);

typedef enum {
    LIVE_CH_UNKNOWN,      /* nothing known yet */
    LIVE_CH_ABSENT,       /* the database has no such session: subscribers get "waiting" */
    LIVE_CH_ACTIVE,
    LIVE_CH_ENDED         /* its final event is at last_offset */
} live_ch_state_t;

typedef enum { LIVE_FETCH_NONE, LIVE_FETCH_PROBE, LIVE_FETCH_FOLLOW } live_fetch_kind_t;

typedef struct live_channel {
    char id[65];
    struct live_channel *hnext;
    live_ring_t ring;
    live_ch_state_t state;
    int fresh;                 /* state/last_offset are current (probe, publish, following) */
    int64_t last_offset;       /* ring last, or a baseline from the database (ring empty) */
    int64_t notified;          /* highest committed offset heard of */
    int db_final;              /* the database said ended/failed at `notified` */
    int captured;              /* our persister published it */
    int64_t last_publish_us;
    uint64_t fetch_id;         /* outstanding channel request, 0 = none */
    live_fetch_kind_t fetch_kind;
    int64_t fetch_due_us;      /* no channel request before (backoff after an error) */
    int fetch_errors;
    live_link_t subs;          /* subscribers (embedded live_link_t) */
    int nsubs;
    int64_t idle_since_us;     /* when nsubs dropped to 0 */
} live_channel_t;

typedef struct {
    live_channel_t **buckets;
    uint32_t nbuckets;
    int count, max;
    uint32_t ring_cap;
} live_channels_t;

int  live_channels_init(live_channels_t *t, int max, uint32_t ring_cap);
/* Frees every channel (their subscriber lists must be empty or be dropped by the caller). */
void live_channels_destroy(live_channels_t *t);
live_channel_t *live_channel_find(live_channels_t *t, const char *id);
/* Finds or creates. At the cap an idle channel (no subscriber, no request) is evicted; when
 * none can be, force = 0 gives NULL (force = 1, for publishes, exceeds the cap). */
live_channel_t *live_channel_get(live_channels_t *t, const char *id, int force, int64_t now);
/* 1 when id exists or one more channel can be made (for the upgrade filter). */
int  live_channels_room(live_channels_t *t, const char *id);
/* Frees channels without subscribers or request that have been idle long enough. Returns
 * how many were freed. */
int  live_channels_sweep(live_channels_t *t, int64_t now);
/* Calls fn for every channel (fn must not free channels). */
void live_channels_each(live_channels_t *t, void (*fn)(live_channel_t *, void *), void *arg);

int  live_channel_captured_now(const live_channel_t *ch, int64_t now);
/* A first subscriber on a channel not captured here makes it stale (re-probed). */
void live_channel_sub_add(live_channel_t *ch, live_link_t *link, int64_t now);
void live_channel_sub_del(live_channel_t *ch, live_link_t *link, int64_t now);

/* Result flags of live_channel_append / live_channel_apply. */
#define LIVE_CH_F_APPENDED  1u    /* new frames in the ring: wake subscribers */
#define LIVE_CH_F_FRESHENED 2u    /* became current: start pending subscribers from *base */
#define LIVE_CH_F_RESET     4u    /* the ring restarted (gap or a recreated session) */

/* Frames (chain, taken) in ascending order; publish = 1 from our persister, 0 from history.
 * *base: when FRESHENED, the offset after which a subscriber without ?since= starts. */
unsigned live_channel_append(live_channel_t *ch, live_frame_t *frames, int publish,
                             int64_t now, int64_t *base);
/* The answer to this channel's request (probe or follow); frames taken. status: the
 * session's status column. */
unsigned live_channel_apply(live_channel_t *ch, int found, const char *status,
                            int64_t last_offset, live_frame_t *frames, int64_t now,
                            int64_t *base);
/* Another sidecar committed up to last_offset. */
void live_channel_remote(live_channel_t *ch, int64_t last_offset);
/* 1 when a channel request should go out now (*kind, *after set). */
int  live_channel_need_fetch(const live_channel_t *ch, int64_t now,
                             live_fetch_kind_t *kind, int64_t *after);

/* Where a new subscriber starts: since >= 0 → since + 1; otherwise the event after base
 * (ch->last_offset, or the base a FRESHENED result gave), or the final event of an ended
 * session when nothing follows (so the client learns it ended). */
int64_t live_channel_start(const live_channel_t *ch, int64_t since, int64_t base);

typedef enum { LIVE_PLAN_WAIT, LIVE_PLAN_RING, LIVE_PLAN_HISTORY, LIVE_PLAN_END } live_plan_t;
live_plan_t live_channel_plan(const live_channel_t *ch, int64_t next);
/* Events a subscriber at next has not been sent yet. */
int64_t live_channel_lag(const live_channel_t *ch, int64_t next);

#endif
