/* The WebSocket loop's outstanding history requests (main thread only): at most
 * LIVE_WS_HISTORY_MAX at once, each owned by a subscriber or a channel, with
 * LIVE_WS_HISTORY_CHANNEL slots kept for channel probes and follows so subscribers catching
 * up cannot starve them. */
#ifndef LIVE_REQUESTS_H
#define LIVE_REQUESTS_H

#include <stdint.h>

#define LIVE_WS_HISTORY_MAX     128
#define LIVE_WS_HISTORY_CHANNEL 16

/* Queues a read of session_id's events after `after` (at most limit). 0 with *id set, or -1
 * when no slot is free or the history queue is full. owner: a subscriber (for_channel 0) or
 * a channel (for_channel 1). */
int  live_req_submit(const char *session_id, int64_t after, int limit, int for_channel,
                     void *owner, uint64_t *id);
/* Frees the slot of id: 1 with its owner (NULL when forgotten) in *owner and *for_channel,
 * 0 when id is not outstanding. */
int  live_req_take(uint64_t id, void **owner, int *for_channel);
/* The owner went away: its result will be dropped (the slot stays busy until it comes). */
void live_req_forget(uint64_t id);
int  live_req_count(void);
void live_req_reset(void);

#endif
