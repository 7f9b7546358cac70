/* The shared-memory cache table of the server (see cache_table.h), made once per server
 * lifetime in post_config. */
#ifndef PROFILE_CACHE_SHM_H
#define PROFILE_CACHE_SHM_H

#include "profile.h"
#include "cache/cache_table.h"

/* post_config: sized by ProfileCacheMaxEntries and ProfileCacheMaxMemory of the main server
 * s; kept across graceful restarts while that size stays the same. */
apr_status_t profile_cache_shm_setup(server_rec *s);
/* The table, or NULL before post_config. */
profile_cache_table_t *profile_cache_shm_table(void);

#endif
