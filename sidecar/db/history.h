/* The history thread: reads a session's state and its events after an offset for the
 * WebSocket loop (?since= beyond the memory buffer, subscribing to a session not captured
 * here, following another sidecar's session). Requests are queued (bounded); each result is
 * handed back with live_hub_history. */
#ifndef LIVE_HISTORY_H
#define LIVE_HISTORY_H

#include <stdint.h>

#include "core/config.h"
#include "ws/frame.h"

typedef struct {
    uint64_t request_id;         /* echoed in the result */
    char session_id[65];
    int64_t after;               /* events with offset > after, ascending */
    int limit;                   /* at most this many (<= history_batch) */
} live_history_request_t;

typedef struct live_history_result {
    uint64_t request_id;
    char session_id[65];
    int error;                   /* the read failed: nothing else is set */
    int found;                   /* the session exists */
    char status[16];             /* its status column */
    int64_t last_offset;         /* its last_offset column */
    live_frame_t *frames;        /* the events read (final flag set on an ended/failed status
                                    event that is the session's last while it is final) */
} live_history_result_t;

int  live_history_start(const live_config_t *cfg);
/* 0 when queued, -1 when the queue is full (the caller retries or closes with 1013). */
int  live_history_submit(const live_history_request_t *req);
void live_history_result_free(live_history_result_t *res);
void live_history_stop(void);

#endif
