/* The persister thread: every batch_interval_ms (or sooner when batch_max_events wait) it
 * takes the sessions' inboxes, numbers the events, writes them with the sessions' counters,
 * source positions, status changes and the comment authors' live profile tier in ONE
 * transaction, then publishes the committed frames to the WebSocket loop (live_hub_publish)
 * and NOTIFY live_events '<session_id> <last_offset>' for other sidecars.
 * When PostgreSQL is down it retries with backoff; nothing is published before it commits. */
#ifndef LIVE_PERSISTER_H
#define LIVE_PERSISTER_H

#include "core/config.h"

int  live_persister_start(const live_config_t *cfg);
/* Wakes the thread at once (a session stopped, an inbox filled up). */
void live_persister_kick(void);
/* Writes everything pending (bounded by deadline_us, epoch µs), then ends the thread. */
void live_persister_stop(int64_t deadline_us);

#endif
