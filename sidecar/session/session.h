/* Captures this sidecar runs: a session owns its source and an inbox of events waiting for the
 * persister. Thread-safe; the coordinator starts and stops sessions, the persister drains them.
 *
 * An event's path: source thread → live_session inbox → persister (offsets, one transaction
 * per batch) → live_hub_publish → WebSocket loop → clients. Nothing reaches a client before
 * it is committed, so ?since= resumes without gaps even after a crash. */
#ifndef LIVE_SESSION_H
#define LIVE_SESSION_H

#include <stdint.h>
#include <jansson.h>

#include "core/config.h"
#include "events/event.h"
#include "source/source.h"

/* What the coordinator claimed (a live_sessions row). */
typedef struct {
    char id[65];
    char username[LIVE_USERNAME_MAX + 1];
    char source[16];
    json_t *options;             /* borrowed during live_sessions_start */
    int64_t last_offset;         /* events already written */
    int64_t source_position;
    int resumed;                 /* claimed before (by us or another sidecar) */
    int stopping;                /* status 'stopping' (its owner died): only finalise it */
} live_claim_t;

typedef enum {
    LIVE_STOP_FINAL,     /* /disconnect: write what is pending, then the final "ended" event */
    LIVE_STOP_RELEASE,   /* drain: write what is pending, give the lease back, no final event */
    LIVE_STOP_LOST       /* another sidecar owns it now: drop what is pending, write nothing */
} live_stop_mode_t;

int  live_sessions_init(const live_config_t *cfg);
/* Starts a capture for claim (its source thread included). 0, or -1 when the id already runs
 * here or max_sessions is reached. A source that cannot start becomes a failed session (the
 * persister writes it). */
int  live_sessions_start(const live_claim_t *claim);
/* Stops the source of id (if it runs here) and marks the session for the persister. */
void live_sessions_stop(const char *id, live_stop_mode_t mode);
void live_sessions_stop_all(live_stop_mode_t mode);
/* Ids running here (for the heartbeat): fills ids (up to max), returns the count. */
int  live_sessions_list(char (*ids)[65], int max);
int  live_sessions_count(void);
/* 1 while the session has events or a final write pending (drain waits for 0 everywhere). */
int  live_sessions_pending(void);
/* Frees every session (after the persister stopped). */
void live_sessions_shutdown(void);

#endif
