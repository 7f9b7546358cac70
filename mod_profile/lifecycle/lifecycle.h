/* Server lifecycle: shared memory in post_config, per-process pools in child_init. */
#ifndef PROFILE_LIFECYCLE_H
#define PROFILE_LIFECYCLE_H

#include "profile.h"

/* check_config (also run by apachectl -t): settings that need several directives. */
int profile_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
int profile_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
void profile_child_init(apr_pool_t *pchild, server_rec *s);

/* Seconds since the server started (graceful restarts do not reset it). */
apr_int64_t profile_uptime_s(void);

#endif
