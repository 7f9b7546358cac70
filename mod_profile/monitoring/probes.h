/* Reachability probes of optional dependencies for /monitoring/detailed. Each opens a fresh
 * connection with short connect and read timeouts and never reports a secret. */
#ifndef PROFILE_PROBES_H
#define PROFILE_PROBES_H

#include <apr_pools.h>
#include "config/parse.h"

#define PROFILE_PROBE_CONNECT_TIMEOUT_MS 500
#define PROFILE_PROBE_REDIS_TIMEOUT_MS   500
#define PROFILE_PROBE_HTTP_TIMEOUT_MS    1000

typedef struct {
    int healthy;
    double round_trip_ms;      /* the PING / GET round trip; meaningful when healthy */
    const char *error;         /* why it is unhealthy, NULL when healthy */
} profile_probe_t;

/* AUTH (when a password is set), SELECT (db != 0) and PING, expecting PONG. */
void profile_probe_redis(apr_pool_t *p, const profile_redis_target_t *target,
                         profile_probe_t *out);

/* GET <base_url>/health; any 2xx is healthy. Needs curl_global_init() done at startup. */
void profile_probe_sidecar(apr_pool_t *p, const char *base_url, profile_probe_t *out);

#endif
