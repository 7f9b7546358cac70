/* Open WebSocket streams per principal, counted across every child process: the table of
 * ws_table.h in a shared-memory block made once per server lifetime (kept across graceful
 * restarts), sized for every worker thread the MPM can run. */
#ifndef PROFILE_WS_SLOTS_H
#define PROFILE_WS_SLOTS_H

#include "profile.h"
#include "ws/ws_table.h"

/* post_config: sized ServerLimit × ThreadLimit (each open stream holds a worker thread). */
apr_status_t profile_ws_slots_setup(server_rec *s);

/* Counts a stream of principal for request r until r->pool is cleaned up (the tunnel ended).
 * OK; PROFILE_WS_OVER_LIMIT when principal already holds max streams (max 0: no cap);
 * PROFILE_WS_TABLE_FULL when no slot is free (logged once per process). *open: the
 * principal's open streams. */
int profile_ws_slots_acquire(request_rec *r, const char *principal, int max, int *open);

/* Open streams across every child process; -1 when the table is missing. */
int profile_ws_slots_open(void);

#endif
