/* The WebSocket server (libwebsockets, on the main thread):
 *   GET /ws/comments/{session_id}[?since=N][&types=a,b]  (upgrade; identity headers signed by
 *       httpd are required, see common/live_identity.h). Refused before the upgrade with 403
 *       (identity), 400 (id or parameters), 404 (other path), 503 (draining, max_clients).
 *   GET /health  → 200 {"status":"ok"|"draining","sidecar_id":…,"sessions":n,"clients":n,
 *                       "channels":n}
 * Close codes: 1000 session ended (after its final status event), 1001 sidecar shutting down,
 * 1008 bad request after the upgrade (unused: everything is checked before it), 1011 history
 * unreadable, 1013 no room for another channel, 4008 client too slow. */
#ifndef LIVE_SERVER_H
#define LIVE_SERVER_H

#include "core/config.h"

int  live_server_create(const live_config_t *cfg);   /* binds; -1 (logged) on failure */
/* One turn of the event loop (main thread only): returns after some work, a wake, or at most
 * about a second. */
void live_server_service(void);
/* Any thread (the signal thread included): make live_server_service return soon. */
void live_server_wake(void);
/* Applies the reloadable settings (log level aside: client_queue, ping_interval,
 * max_clients). Main thread, between turns. */
void live_server_reload(const live_config_t *cfg);
/* Main thread: refuse new clients; close every client with 1001 once what was published to it
 * is sent (the persister's last frames included). */
void live_server_drain(void);
int  live_server_clients(void);
void live_server_destroy(void);

#endif
