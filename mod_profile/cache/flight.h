/* Single flight: at most one upstream fetch per username at a time across every child
 * process (shared memory), or across every node when ProfileRedis is set (SET NX PX).
 * A lease expires by itself, so a fetcher that dies does not block the name for long. */
#ifndef PROFILE_FLIGHT_H
#define PROFILE_FLIGHT_H

#include "profile.h"

/* post_config: the shared-memory lease table (kept across graceful restarts). */
apr_status_t profile_flight_setup(server_rec *s);

/* 1: the caller now holds the lease for username (until lease_ms pass or it releases it);
 * 0: someone else holds it. When the backing store fails, 1 (a second fetch beats none). */
int profile_flight_acquire(server_rec *s, apr_pool_t *p, const char *username, int lease_ms);
/* Drops the caller's lease (only if it still holds it). */
void profile_flight_release(server_rec *s, apr_pool_t *p, const char *username);

#endif
