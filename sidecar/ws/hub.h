/* Hand-off from the worker threads to the WebSocket loop (the main thread). Each call queues
 * and wakes the loop (lws_cancel_service); the loop drains the queue in order. */
#ifndef LIVE_HUB_H
#define LIVE_HUB_H

#include <stdint.h>

#include "ws/frame.h"

struct live_history_result;

/* Persister, after COMMIT: frames of session_id with contiguous ascending offsets (takes the
 * chain). The last frame has final set when the session ended with this batch. */
void live_hub_publish(const char *session_id, live_frame_t *frames);
/* Coordinator: another sidecar committed session_id up to last_offset. */
void live_hub_remote(const char *session_id, int64_t last_offset);
/* History thread: the answer to a live_history_submit (takes res). */
void live_hub_history(struct live_history_result *res);

#endif
