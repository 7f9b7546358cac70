/* Per-process cache of validated database API keys, keyed by the SHA-256 hex of the key.
 * Entries live PROFILE_KEY_CACHE_TTL at most and are dropped as soon as the revocation
 * feed names their key or owner. Thread-safe; entries are copied out to the caller's pool. */
#ifndef PROFILE_KEY_CACHE_H
#define PROFILE_KEY_CACHE_H

#include <apr_pools.h>
#include <apr_tables.h> /* store/keys.h uses apr_array_header_t */
#include "store/keys.h"

#define PROFILE_KEY_CACHE_TTL apr_time_from_sec(60)
#define PROFILE_KEY_CACHE_MAX 10000
/* last_used_at is written at most this often per key and process. */
#define PROFILE_KEY_TOUCH_INTERVAL apr_time_from_sec(60)

typedef struct profile_key_cache_t profile_key_cache_t;

/* NULL when the lock cannot be made. p must not be used by other threads. */
profile_key_cache_t *profile_key_cache_create(apr_pool_t *p);

/* 1 and *out (strings copied into p) when hash is cached and fresh. *touch is set to 1 for
 * the one request that should now write last_used_at. */
int profile_key_cache_get(profile_key_cache_t *c, apr_pool_t *p, const char *hash_hex,
                          apr_time_t now, profile_key_t *out, int *touch);

/* Read before the database lookup; a put with an older generation is ignored, so a lookup that
 * raced with a revocation never caches the revoked key. */
apr_uint64_t profile_key_cache_generation(profile_key_cache_t *c);
void profile_key_cache_put(profile_key_cache_t *c, apr_uint64_t generation, const char *hash_hex,
                           const profile_key_t *key, apr_time_t now, apr_time_t touched_at);

void profile_key_cache_drop_key(profile_key_cache_t *c, const char *key_id);
void profile_key_cache_drop_user(profile_key_cache_t *c, apr_int64_t user_id);
void profile_key_cache_clear(profile_key_cache_t *c);

#endif
