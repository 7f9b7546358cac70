/* Between the session registry (session.c) and the persister (persister.c) only: batches of
 * inbox items taken round-robin across sessions, and what the persister reports back after
 * its transaction. A taken batch belongs to the persister until it hands it back with
 * live_sessions_batch_done (committed) or live_sessions_batch_drop (given up at shutdown);
 * a failed transaction keeps the batch and retries it as it is, so nothing is lost,
 * reordered or numbered differently from what is finally committed. */
#ifndef LIVE_SESSION_BATCH_H
#define LIVE_SESSION_BATCH_H

#include <stdint.h>

#include "events/event.h"
#include "session/session.h"

typedef enum {
    LIVE_ITEM_EVENT,     /* an event of the source */
    LIVE_ITEM_LIVE,      /* the status event "live" (once per claim): status 'live', started_at */
    LIVE_ITEM_FINAL,     /* the final status event (ended|failed): the session's last write */
    LIVE_ITEM_RELEASE,   /* no event: give the lease back, status unchanged (drain) */
    LIVE_ITEM_NOTE       /* no event: the source's state while not final: status
                            connecting|live, error_reason/error_detail ("" clears them) */
} live_item_kind_t;

typedef struct live_item {
    struct live_item *next;
    live_item_kind_t kind;
    live_event_t *ev;            /* owned; NULL for RELEASE */
    int64_t position;            /* source position after ev; -1: leaves it as it is */
    /* FINAL and NOTE: the row's status, error_reason and error_detail. */
    char status[12];             /* "ended" | "failed"; NOTE: "connecting" | "live" */
    char reason[65];             /* "" or ^[a-z_]{1,64}$ (never "" when failed) */
    char detail[1025];           /* "" or valid UTF-8, at most 1024 bytes */
} live_item_t;

struct live_session;             /* private to session.c */

/* One session's share of a batch: its items in inbox order. */
typedef struct live_batch_entry {
    struct live_batch_entry *next;
    struct live_session *session;
    char id[65];
    int64_t last_offset;         /* the registry's copy when taken (the row is authoritative) */
    live_item_t *items, *last;
    int count;
    int ends;                    /* the last item is FINAL or RELEASE */
    /* Set by the persister before live_sessions_batch_done: */
    int lost;                    /* not owned by this sidecar any more: nothing was written */
    int64_t committed_offset;    /* the session's last_offset after the commit */
} live_batch_entry_t;

typedef struct {
    live_batch_entry_t *entries; /* sessions in the order taken */
    int events;                  /* items that carry an event */
} live_batch_t;

/* Takes up to max source events (status items ride along) from the sessions' inboxes,
 * round-robin so a busy session cannot starve the others, plus each session's pending
 * "live" status and, once its inbox is empty and its source is done, its final or release
 * item. Sessions lost (LIVE_STOP_LOST) with nothing in flight are freed here. Fills *batch
 * (empty when there is nothing to do) and returns the number of items taken. */
int  live_sessions_batch_take(live_batch_t *batch, int max);
/* After COMMIT: updates the sessions' offsets, stops lost sessions, frees the sessions whose
 * last write this was, and frees the batch. */
void live_sessions_batch_done(live_batch_t *batch);
/* Given up (shutdown deadline): frees the batch; its sessions stay until shutdown. */
void live_sessions_batch_drop(live_batch_t *batch);
/* Source events waiting in inboxes (not taken yet). */
int  live_sessions_waiting(void);

#endif
