/* Places the rate-limit table in anonymous shared memory made once per server lifetime
 * (util/shm_block.h): counts survive graceful restarts; a new ProfileRateLimitTableSize
 * starts a new, empty table. */
#include "ratelimit/rl_shm.h"
#include "util/shm_block.h"

#define PROFILE_RL_SHM_KEY "mod_profile-ratelimit-shm"

static profile_rl_table_t *profile_rl_block;

apr_status_t profile_rl_shm_setup(server_rec *s, apr_size_t capacity)
{
    apr_size_t size = profile_rl_table_size(capacity);
    void *mem;
    apr_status_t rv = profile_shm_block(s, PROFILE_RL_SHM_KEY, size, &mem);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10719)
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared memory for the "
                     "rate-limit table", size);
        return rv;
    }
    profile_rl_block = profile_rl_table_init(mem, capacity);
    return APR_SUCCESS;
}

profile_rl_table_t *profile_rl_shm_table(void)
{
    return profile_rl_block;
}
