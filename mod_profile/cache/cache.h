/* The shared cache layer in front of PostgreSQL: the shared-memory table (cache_table.h) or,
 * when ProfileRedis is set, Redis (so every node shares it). Layer failures (Redis down) are
 * misses for reads and are ignored for writes; they are logged once per outage. */
#ifndef PROFILE_CACHE_H
#define PROFILE_CACHE_H

#include <jansson.h>
#include "profile.h"
#include "cache/cache_entry.h"

/* post_config: the shared-memory table (always made: it also backs single flight when Redis
 * is not used), sized by ProfileCacheMaxEntries and ProfileCacheMaxMemory of the main server. */
apr_status_t profile_cache_setup(server_rec *s);
/* child_init: nothing to do for shm; the Redis pool is shared (util/redis_pool.h). */

/* "shm" or "redis" for s. */
const char *profile_cache_layer_name(server_rec *s);

/* 1 hit (entry copied into p), 0 miss, -1 the layer failed (treat as a miss). Entries past
 * stale_until are misses. */
int profile_cache_get(server_rec *s, apr_pool_t *p, const char *username, apr_time_t now,
                      profile_cache_entry_t *e);
/* 0 stored, -1 not stored (too big, or the layer failed). */
int profile_cache_put(server_rec *s, apr_pool_t *p, const char *username,
                      const profile_cache_entry_t *e);
/* 1 removed, 0 absent, -1 the layer failed. */
int profile_cache_delete(server_rec *s, apr_pool_t *p, const char *username);
/* Entries past expires_at removed, or -1 when the layer failed. */
apr_int64_t profile_cache_clear_expired(server_rec *s, apr_pool_t *p, apr_time_t now);

/* {"layer":"shm"|"redis","entries","capacity","memory_bytes","max_memory_bytes",
 *  "evictions","expired"} or, when the layer failed, {"layer":…,"error":"…"}. */
json_t *profile_cache_layer_stats(server_rec *s, apr_pool_t *p, apr_time_t now);

#endif
