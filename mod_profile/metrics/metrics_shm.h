/* The server-wide metrics block in shared memory. */
#ifndef PROFILE_METRICS_SHM_H
#define PROFILE_METRICS_SHM_H

#include "profile.h"
#include "metrics/metrics.h"

/* post_config: creates the block once per server lifetime (kept across graceful restarts). */
apr_status_t profile_metrics_shm_setup(server_rec *s);

/* The block, or NULL before post_config. */
profile_metrics_t *profile_metrics_shm(void);

/* log_transaction hook: records requests the API answered. */
int profile_metrics_log_transaction(request_rec *r);

#endif
