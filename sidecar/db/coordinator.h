/* The coordinator thread: registers this sidecar in live_sidecars, LISTENs on live_sessions
 * and live_events, and every heartbeat (or at once on a NOTIFY):
 *   - renews its sessions' leases (a session it no longer owns is stopped LIVE_STOP_LOST);
 *   - stops the sessions /disconnect marked 'stopping' (LIVE_STOP_FINAL);
 *   - claims sessions that are unowned, leased by itself (a restart) or whose lease ran out,
 *     with FOR UPDATE SKIP LOCKED, up to max_sessions, and starts them (live_sessions_start);
 *   - passes NOTIFY live_events to the WebSocket loop (live_hub_remote) so clients of a
 *     session captured by another sidecar follow it through PostgreSQL. */
#ifndef LIVE_COORDINATOR_H
#define LIVE_COORDINATOR_H

#include "core/config.h"

int  live_coordinator_start(const live_config_t *cfg);
/* Drain: stop claiming and renewing (the persister releases the leases). */
void live_coordinator_quiesce(void);
/* Ends the thread and removes this sidecar from live_sidecars. */
void live_coordinator_stop(void);

#endif
