/* Private to the session registry (session/session.c) and its batch side
 * (session/session_batch.c): a session's state and the registry, both under live_reg.lock. */
#ifndef LIVE_SESSION_PRIVATE_H
#define LIVE_SESSION_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include "session/session.h"
#include "session/session_batch.h"

/* Who handles a session's source: the starter while STARTING, whoever moved it to STOPPING;
 * NONE: it never had one (start failed, claimed while stopping). */
typedef enum {
    LIVE_SRC_NONE, LIVE_SRC_STARTING, LIVE_SRC_RUNNING, LIVE_SRC_STOPPING, LIVE_SRC_STOPPED
} live_src_state_t;

typedef struct live_session {
    char id[65];
    const live_source_ops_t *ops;
    live_source_t *src;
    live_src_state_t src_state;
    int refs;                    /* the registry's one + threads working without the lock */
    int slot;                    /* index in live_reg.slots, -1 once removed */
    live_item_t *head, *tail;    /* the inbox: source events in order */
    int queued;
    uint64_t dropped;            /* live events refused because the inbox was full */
    int in_flight;               /* items the persister holds */
    pthread_cond_t not_full;
    live_event_t *live_ev;       /* the "live" status event waiting to be taken */
    int live_seen;               /* the source went live during this claim */
    /* The source's latest state while it is not final (reconnecting, rate limited, live
     * again), waiting for the persister: note_status "connecting" or "live". */
    int note_set;
    char note_status[12], note_reason[65], note_detail[1025];
    int stopping;                /* emit refuses: stop asked or the source is done */
    int stop_requested;
    live_stop_mode_t mode;
    int final_reported;          /* the source ended or failed: final_* say how */
    char final_status[8], final_reason[65], final_detail[1025];
    int ended;                   /* the end item (FINAL / RELEASE) was taken */
    int lost;
    int64_t last_offset;
} live_session_t;

typedef struct {
    pthread_mutex_t lock;
    live_config_t cfg;
    live_session_t **slots;
    int cap, count, cursor;
    int waiting;                 /* source events in all inboxes */
} live_registry_t;

extern live_registry_t live_reg;

/* A session being stopped outside the lock: its source to stop, its dropped inbox. */
typedef struct {
    live_session_t *s;
    live_source_t *src;
    live_item_t *drop;
} live_stopper_t;

void live_session_free_items(live_item_t *it);
void live_session_free(live_session_t *s);
/* Lock held. Drops a reference: returns s when it is to be freed (outside the lock). */
live_session_t *live_session_unref_locked(live_session_t *s);
/* Lock held. Takes s out of the registry (its reference is the caller's to drop). */
void live_session_remove_locked(live_session_t *s);
/* Lock held. Applies mode to s and takes a reference for the caller, who then calls
 * live_session_finish_stop outside the lock (stops the source, drops a lost inbox). */
live_stopper_t live_session_stop_locked(live_session_t *s, live_stop_mode_t mode);
void live_session_finish_stop(const live_stopper_t *st);

#endif
