/* The server's table of open WebSocket streams in shared memory (see ws_slots.h): made once
 * per server lifetime in post_config, a slot held by a request until its pool is cleaned up. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <ap_mpm.h>

#include "util/shm_block.h"
#include "ws/ws_slots.h"

#define WS_SHM_KEY "mod_profile-ws-slots-shm"
#define WS_SLOTS_MIN 64
#define WS_SLOTS_MAX (1u << 20)

static profile_ws_table_t *ws_block;
static volatile apr_uint32_t full_warned;

/* Another process of the same user answers kill(pid, 0) with 0; EPERM also means it exists. */
static int process_alive(apr_uint32_t pid)
{
    if (pid == (apr_uint32_t)getpid())
        return 1;
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static apr_uint32_t mpm_limit(int query)
{
    int v = 0;
    return ap_mpm_query(query, &v) == APR_SUCCESS && v > 0 ? (apr_uint32_t)v : 1;
}

apr_status_t profile_ws_slots_setup(server_rec *s)
{
    /* Each open stream holds a worker thread: the MPM's hard limits bound them all, old
     * generations finishing after a graceful restart included. */
    apr_uint64_t want = (apr_uint64_t)mpm_limit(AP_MPMQ_HARD_LIMIT_DAEMONS)
                        * mpm_limit(AP_MPMQ_HARD_LIMIT_THREADS);
    apr_uint32_t slots = want < WS_SLOTS_MIN ? WS_SLOTS_MIN
                         : want > WS_SLOTS_MAX ? WS_SLOTS_MAX : (apr_uint32_t)want;
    void *mem;
    apr_status_t rv = profile_shm_block(s, WS_SHM_KEY, profile_ws_table_size(slots), &mem);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10821)
                     "cannot create the shared memory that counts open WebSocket streams");
        return rv;
    }
    ws_block = profile_ws_table_init(mem, slots);
    return APR_SUCCESS;
}

typedef struct {
    int slot;
    apr_uint32_t tag, pid;
} held_t;

static apr_status_t release_slot(void *data)
{
    held_t *h = data;
    if (ws_block)
        profile_ws_table_release(ws_block, h->slot, h->tag, h->pid);
    return APR_SUCCESS;
}

int profile_ws_slots_acquire(request_rec *r, const char *principal, int max, int *open)
{
    held_t *h;
    int slot;

    *open = 0;
    if (!ws_block)
        return PROFILE_WS_TABLE_FULL;
    h = apr_palloc(r->pool, sizeof(*h));
    h->tag = profile_ws_tag(principal);
    h->pid = (apr_uint32_t)getpid();
    slot = profile_ws_table_acquire(ws_block, h->tag, h->pid, max, process_alive, open);
    if (slot == PROFILE_WS_TABLE_FULL) {
        if (__atomic_exchange_n(&full_warned, 1, __ATOMIC_RELAXED) == 0)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10820)
                          "all %u WebSocket stream slots are taken (more open streams than "
                          "worker threads?); logged once per process",
                          profile_ws_table_slots(ws_block));
        return slot;
    }
    if (slot < 0)
        return slot;
    h->slot = slot;
    apr_pool_cleanup_register(r->pool, h, release_slot, apr_pool_cleanup_null);
    return OK;
}

int profile_ws_slots_open(void)
{
    return ws_block ? profile_ws_table_count(ws_block, process_alive) : -1;
}
