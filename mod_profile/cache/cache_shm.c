/* Places the cache table in anonymous shared memory made once per server lifetime
 * (util/shm_block.h): entries survive graceful restarts; another size starts a new, empty
 * table. */
#include "cache/cache_shm.h"
#include "config/config.h"
#include "util/shm_block.h"

#define PROFILE_CACHE_SHM_KEY "mod_profile-cache-shm"

static profile_cache_table_t *cache_block;

/* The most entries, up to max_entries, whose table fits in max_bytes (at least one). */
static apr_uint32_t capacity_for(apr_uint32_t max_entries, apr_uint64_t max_bytes)
{
    apr_uint32_t lo = 1, hi = max_entries > 1 ? max_entries : 1;

    while (lo < hi) {
        apr_uint32_t mid = lo + (hi - lo + 1) / 2;

        if (profile_cache_table_size(mid) <= max_bytes)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

apr_status_t profile_cache_shm_setup(server_rec *s)
{
    const profile_profiles_config_t *c = &profile_server_config(s)->profiles;
    apr_uint32_t capacity = capacity_for((apr_uint32_t)profile_cache_max_entries(c),
                                         profile_cache_max_memory(c));
    apr_size_t size = profile_cache_table_size(capacity);
    void *mem;
    apr_status_t rv = profile_shm_block(s, PROFILE_CACHE_SHM_KEY, size, &mem);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10740)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared memory for the "
                     "profile cache", size);
        return rv;
    }
    cache_block = profile_cache_table_init(mem, capacity);
    if (!cache_block) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10741)
                     "cannot create the process-shared mutex of the profile cache");
        return APR_EGENERAL;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, APLOGNO(10742)
                 "profile cache: %u entries in %" APR_SIZE_T_FMT " bytes of shared memory",
                 capacity, size);
    return APR_SUCCESS;
}

profile_cache_table_t *profile_cache_shm_table(void)
{
    return cache_block;
}
