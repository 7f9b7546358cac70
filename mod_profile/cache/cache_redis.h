/* The Redis cache layer and the Redis single-flight leases, used when ProfileRedis is set:
 * every node then shares one cache and one set of leases. One round trip per operation.
 * Failures are -1; the first one of an outage is logged (a notice when Redis answers again),
 * and for a second after a failure no call is made (so an outage costs one timeout a second,
 * not one per request). */
#ifndef PROFILE_CACHE_REDIS_H
#define PROFILE_CACHE_REDIS_H

#include "profile.h"
#include "cache/cache_entry.h"

typedef struct {
    apr_int64_t entries;
    apr_int64_t bytes;         /* sum of keys and values, as accounted by the scripts */
    apr_int64_t evictions;
    apr_int64_t expired;       /* entries past expires_at */
} profile_cache_redis_stats_t;

/* 1 hit, 0 miss (entries past stale_until are deleted), -1 Redis failed. */
int profile_cache_redis_get(server_rec *s, apr_pool_t *p, const char *username,
                            apr_time_t now, profile_cache_entry_t *e);
/* 0 stored (evicting least recently used entries beyond max_entries or max_bytes), -1. */
int profile_cache_redis_put(server_rec *s, apr_pool_t *p, const char *username,
                            const profile_cache_entry_t *e, apr_int64_t max_entries,
                            apr_int64_t max_bytes);
/* 1 removed, 0 absent, -1. */
int profile_cache_redis_delete(server_rec *s, apr_pool_t *p, const char *username);
/* Entries past expires_at removed, or -1. */
apr_int64_t profile_cache_redis_clear_expired(server_rec *s, apr_pool_t *p, apr_time_t now);
/* 0 with *out set, or -1 with *why saying what failed. */
int profile_cache_redis_stats(server_rec *s, apr_pool_t *p, apr_time_t now,
                              profile_cache_redis_stats_t *out, const char **why);

/* 1 the lease "profile:flight:<username>" is now token's (for lease_ms), 0 someone else holds
 * it, -1 Redis failed. */
int profile_cache_redis_flight_acquire(server_rec *s, apr_pool_t *p, const char *username,
                                       const char *token, int lease_ms);
/* Deletes the lease if it still holds token. */
void profile_cache_redis_flight_release(server_rec *s, apr_pool_t *p, const char *username,
                                        const char *token);

#endif
