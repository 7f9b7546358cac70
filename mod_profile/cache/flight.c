/* Single flight (see flight.h): the shared-memory lease table (flight_table.h), or Redis
 * leases when the server has ProfileRedis. An acquire remembers its lease's token in the
 * pool it was given (userdata keyed by the username), and release reads it from there: the
 * caller passes the same pool to both, and a lease is released only by the acquire that got
 * it, never by another request of the same process. */
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "cache/cache_redis.h"
#include "cache/flight.h"
#include "cache/flight_table.h"
#include "config/config.h"
#include "util/shm_block.h"

#define FLIGHT_SHM_KEY "mod_profile-flight-shm"
#define USERDATA_PREFIX "mod_profile-flight:"
#define REDIS_TOKEN_BYTES 16

typedef struct {
    apr_uint64_t shm_token;
    const char *redis_token;
} lease_t;

static profile_flight_table_t *flight_block;

apr_status_t profile_flight_setup(server_rec *s)
{
    void *mem;
    apr_status_t rv = profile_shm_block(s, FLIGHT_SHM_KEY, profile_flight_table_size(), &mem);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10745)
                     "cannot create the shared memory for single-flight leases");
        return rv;
    }
    flight_block = profile_flight_table_init(mem);
    return APR_SUCCESS;
}

static const char *userdata_key(apr_pool_t *p, const char *username)
{
    return apr_pstrcat(p, USERDATA_PREFIX, username, NULL);
}

static apr_uint64_t name_hash(const char *username)
{
    return profile_fnv1a(PROFILE_FNV1A_INIT, username, strlen(username));
}

/* A random token, so a lease is only ever released by its own holder on any node. */
static const char *redis_token(apr_pool_t *p)
{
    unsigned char raw[REDIS_TOKEN_BYTES];
    char *hex = apr_palloc(p, 2 * REDIS_TOKEN_BYTES + 1);
    int i;

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS)
        return NULL;
    for (i = 0; i < REDIS_TOKEN_BYTES; i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

int profile_flight_acquire(server_rec *s, apr_pool_t *p, const char *username, int lease_ms)
{
    lease_t *lease = apr_pcalloc(p, sizeof(*lease));
    int rc;

    if (profile_server_config(s)->redis) {
        lease->redis_token = redis_token(p);
        rc = lease->redis_token ? profile_cache_redis_flight_acquire(s, p, username,
                                                                     lease->redis_token,
                                                                     lease_ms)
                                : -1;
    } else {
        rc = flight_block ? profile_flight_table_acquire(flight_block, name_hash(username),
                                                         apr_time_now(), lease_ms,
                                                         &lease->shm_token)
                          : -1;
    }
    if (rc == 1)
        apr_pool_userdata_set(lease, userdata_key(p, username), apr_pool_cleanup_null, p);
    /* -1: the lease cannot be tracked; a second fetch beats none. */
    return rc != 0;
}

void profile_flight_release(server_rec *s, apr_pool_t *p, const char *username)
{
    const char *key = userdata_key(p, username);
    lease_t *lease = NULL;

    apr_pool_userdata_get((void **)&lease, key, p);
    if (!lease)
        return;
    apr_pool_userdata_setn(NULL, key, apr_pool_cleanup_null, p);
    if (lease->redis_token)
        profile_cache_redis_flight_release(s, p, username, lease->redis_token);
    else if (flight_block)
        profile_flight_table_release(flight_block, name_hash(username), lease->shm_token);
}
