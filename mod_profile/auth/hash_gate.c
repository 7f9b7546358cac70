/* Counting gate over an atomic counter; see hash_gate.h. */
#include <apr_atomic.h>

#include "auth/hash_gate.h"

static volatile apr_uint32_t gate_max = PROFILE_HASH_GATE_DEFAULT;
static volatile apr_uint32_t gate_busy;

apr_status_t profile_hash_gate_init(apr_pool_t *p, int max)
{
    (void)p;
    apr_atomic_set32(&gate_max, max < 1 ? 1u : (apr_uint32_t)max);
    return APR_SUCCESS;
}

int profile_hash_gate_enter(void)
{
    for (;;) {
        apr_uint32_t busy = apr_atomic_read32(&gate_busy);
        if (busy >= apr_atomic_read32(&gate_max))
            return 0;
        if (apr_atomic_cas32(&gate_busy, busy + 1, busy) == busy)
            return 1;
    }
}

void profile_hash_gate_leave(void)
{
    apr_atomic_dec32(&gate_busy);
}
