/* The shared cache layer (see cache.h): each call goes to Redis when the server has
 * ProfileRedis, else to the shared-memory table. Redis failures are logged and throttled in
 * cache_redis.c. */
#include "cache/cache.h"
#include "cache/cache_redis.h"
#include "cache/cache_shm.h"
#include "config/config.h"

/* The main server's limits, read in post_config: one cache per httpd, whatever the virtual
 * host (Redis gets the same bounds as the table). */
static apr_int64_t max_entries;
static apr_int64_t max_memory;

static int uses_redis(server_rec *s)
{
    return profile_server_config(s)->redis != NULL;
}

apr_status_t profile_cache_setup(server_rec *s)
{
    const profile_profiles_config_t *c = &profile_server_config(s)->profiles;

    max_entries = profile_cache_max_entries(c);
    max_memory = (apr_int64_t)profile_cache_max_memory(c);
    return profile_cache_shm_setup(s);
}

const char *profile_cache_layer_name(server_rec *s)
{
    return uses_redis(s) ? "redis" : "shm";
}

int profile_cache_get(server_rec *s, apr_pool_t *p, const char *username, apr_time_t now,
                      profile_cache_entry_t *e)
{
    profile_cache_table_t *t;

    if (uses_redis(s))
        return profile_cache_redis_get(s, p, username, now, e);
    t = profile_cache_shm_table();
    return t ? profile_cache_table_get(t, p, username, now, e) : -1;
}

int profile_cache_put(server_rec *s, apr_pool_t *p, const char *username,
                      const profile_cache_entry_t *e)
{
    profile_cache_table_t *t;

    if (e->body_len > PROFILE_CACHE_BODY_MAX)
        return -1;
    if (uses_redis(s))
        return profile_cache_redis_put(s, p, username, e, max_entries, max_memory);
    t = profile_cache_shm_table();
    return t ? profile_cache_table_put(t, username, e, apr_time_now()) : -1;
}

int profile_cache_delete(server_rec *s, apr_pool_t *p, const char *username)
{
    profile_cache_table_t *t;

    if (uses_redis(s))
        return profile_cache_redis_delete(s, p, username);
    t = profile_cache_shm_table();
    return t ? profile_cache_table_delete(t, username) : -1;
}

apr_int64_t profile_cache_clear_expired(server_rec *s, apr_pool_t *p, apr_time_t now)
{
    profile_cache_table_t *t;

    if (uses_redis(s))
        return profile_cache_redis_clear_expired(s, p, now);
    t = profile_cache_shm_table();
    return t ? (apr_int64_t)profile_cache_table_clear_expired(t, now) : -1;
}

static json_t *layer_json(const char *layer, apr_int64_t entries, apr_int64_t capacity,
                          apr_int64_t memory, apr_int64_t max_memory_bytes,
                          apr_int64_t evictions, apr_int64_t expired)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "layer", layer,
                     "entries", (json_int_t)entries, "capacity", (json_int_t)capacity,
                     "memory_bytes", (json_int_t)memory,
                     "max_memory_bytes", (json_int_t)max_memory_bytes,
                     "evictions", (json_int_t)evictions, "expired", (json_int_t)expired);
}

/* memory_bytes: what the entries hold (bodies for shm; keys and values for Redis);
 * max_memory_bytes: the most the layer takes (the table's block, which ProfileCacheMaxMemory
 * bounds; ProfileCacheMaxMemory itself for Redis). */
json_t *profile_cache_layer_stats(server_rec *s, apr_pool_t *p, apr_time_t now)
{
    const char *layer = profile_cache_layer_name(s);
    profile_cache_table_t *t = profile_cache_shm_table();

    if (uses_redis(s)) {
        profile_cache_redis_stats_t st;
        const char *why;

        if (profile_cache_redis_stats(s, p, now, &st, &why) != 0)
            return json_pack("{s:s, s:s}", "layer", layer, "error", why);
        return layer_json(layer, st.entries, max_entries, st.bytes, max_memory, st.evictions,
                          st.expired);
    }
    if (t) {
        profile_cache_table_stats_t st;

        profile_cache_table_stats(t, now, &st);
        return layer_json(layer, st.entries, st.capacity, (apr_int64_t)st.body_bytes,
                          (apr_int64_t)st.block_bytes, (apr_int64_t)st.evictions, st.expired);
    }
    return json_pack("{s:s, s:s}", "layer", layer, "error", "no shared memory");
}
