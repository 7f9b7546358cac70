/* Shared-memory blocks kept across graceful restarts, and the hash their layouts use;
 * see shm_block.h. */
#include <apr_shm.h>
#include "util/shm_block.h"

apr_uint64_t profile_fnv1a(apr_uint64_t h, const void *data, apr_size_t len)
{
    const unsigned char *b = data;

    while (len--)
        h = (h ^ *b++) * 0x100000001b3ULL;
    return h;
}

apr_status_t profile_shm_block(server_rec *s, const char *key, apr_size_t size, void **base)
{
    apr_pool_t *proc = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, key, proc);
    if (shm && apr_shm_size_get(shm) != size) {
        /* Another layout or capacity: children of the old generation keep their own
         * mapping until they exit. */
        apr_shm_destroy(shm);
        shm = NULL;
    }
    if (!shm) {
        rv = apr_shm_create(&shm, size, NULL, proc);
        if (rv != APR_SUCCESS)
            return rv;
        /* No cleanup function: this module is unloaded on restart, the pool is not. */
        apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, proc);
    }
    *base = apr_shm_baseaddr_get(shm);
    return APR_SUCCESS;
}
