/* The WebSocket loop's side of the hub (ws/hub.h): it takes the queued messages in the order
 * the worker threads queued them. Main thread only, except live_hub_pending. */
#ifndef LIVE_HUB_LOOP_H
#define LIVE_HUB_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "ws/frame.h"

struct live_history_result;

typedef enum { LIVE_HUB_PUBLISH, LIVE_HUB_REMOTE, LIVE_HUB_HISTORY } live_hub_kind_t;

typedef struct live_hub_msg {
    struct live_hub_msg *next;
    live_hub_kind_t kind;
    char session_id[65];
    int64_t last_offset;                 /* REMOTE */
    live_frame_t *frames;                /* PUBLISH (owned) */
    size_t nframes;
    struct live_history_result *history; /* HISTORY (owned) */
} live_hub_msg_t;

/* Takes everything queued, oldest first (NULL when empty). */
live_hub_msg_t *live_hub_take(void);
/* Frees one message and what it still owns (frames, history result). */
void live_hub_msg_free(live_hub_msg_t *m);
/* 1 while messages wait (any thread). */
int  live_hub_pending(void);
/* Frees whatever is still queued (shutdown). */
void live_hub_clear(void);

#endif
