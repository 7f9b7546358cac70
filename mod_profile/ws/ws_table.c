/* The table of open WebSocket streams (pure: any memory block); see ws_table.h.
 *
 * Why "claim, then count" never admits more than max: every admitted stream claimed its slot
 * before it counted. Of any max + 1 streams of one principal that would hold slots at once,
 * the one that claimed last counted after all the others had claimed (sequentially consistent
 * atomics), so it saw max + 1 and gave its slot back. The price: two claims racing for the
 * last place may both see max + 1 and both be refused; the client retries after Retry-After.
 *
 * A word is (pid << 32 | tag): two principals whose tags collide (2^-32 per pair) share one
 * count. A pid reused by a new process keeps a dead process's slot until that one exits too. */
#include <string.h>

#include "ws/ws_table.h"

/* "PWSSLOT" with the layout version in the low byte: bump it when the layout changes. */
#define WS_MAGIC 0x505753534c4f5401ULL

struct profile_ws_table_t {
    apr_uint64_t magic;
    apr_uint32_t nslots;
    apr_uint32_t hint;         /* where the next free-slot search starts (spreads claims) */
    apr_uint64_t slots[];
};

static apr_uint64_t word_of(apr_uint32_t tag, apr_uint32_t pid)
{
    return (apr_uint64_t)pid << 32 | tag;
}

static apr_uint32_t pid_of(apr_uint64_t w)
{
    return (apr_uint32_t)(w >> 32);
}

apr_size_t profile_ws_table_size(apr_uint32_t slots)
{
    return sizeof(profile_ws_table_t) + (apr_size_t)slots * sizeof(apr_uint64_t);
}

profile_ws_table_t *profile_ws_table_init(void *mem, apr_uint32_t slots)
{
    profile_ws_table_t *t = mem;

    if (t->magic != WS_MAGIC || t->nslots != slots) {
        memset(t, 0, profile_ws_table_size(slots));
        t->nslots = slots;
        __atomic_store_n(&t->magic, WS_MAGIC, __ATOMIC_SEQ_CST);
    }
    return t;
}

/* 64-bit FNV-1a folded to 32 bits. */
apr_uint32_t profile_ws_tag(const char *principal)
{
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *s = (const unsigned char *)principal;

    while (*s)
        h = (h ^ *s++) * 0x100000001b3ULL;
    return (apr_uint32_t)(h >> 32) ^ (apr_uint32_t)h;
}

/* Frees *slot when it holds w of a process that is gone; 1 when the slot is free now. */
static int reclaim_if_dead(apr_uint64_t *slot, apr_uint64_t w, profile_ws_alive_fn alive)
{
    if (alive(pid_of(w)))
        return 0;
    __atomic_compare_exchange_n(slot, &w, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return 1;
}

/* A free slot turned into mine: first only free ones, then those of dead processes. */
static int claim(profile_ws_table_t *t, apr_uint64_t mine, profile_ws_alive_fn alive)
{
    apr_uint32_t n = t->nslots, start = __atomic_fetch_add(&t->hint, 1, __ATOMIC_RELAXED) % n;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        apr_uint32_t k;
        for (k = 0; k < n; k++) {
            apr_uint32_t i = (start + k) % n;
            apr_uint64_t w = __atomic_load_n(&t->slots[i], __ATOMIC_SEQ_CST);
            if (w && (pass == 0 || !reclaim_if_dead(&t->slots[i], w, alive)))
                continue;
            w = 0;
            if (__atomic_compare_exchange_n(&t->slots[i], &w, mine, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                return (int)i;
        }
    }
    return PROFILE_WS_TABLE_FULL;
}

/* Live slots whose tag is tag (every live slot when all is set). */
static int count(profile_ws_table_t *t, apr_uint32_t tag, int all, profile_ws_alive_fn alive)
{
    apr_uint32_t i;
    int n = 0;

    for (i = 0; i < t->nslots; i++) {
        apr_uint64_t w = __atomic_load_n(&t->slots[i], __ATOMIC_SEQ_CST);
        if (!w || (!all && (apr_uint32_t)w != tag))
            continue;
        if (!reclaim_if_dead(&t->slots[i], w, alive))
            n++;
    }
    return n;
}

int profile_ws_table_acquire(profile_ws_table_t *t, apr_uint32_t tag, apr_uint32_t pid, int max,
                             profile_ws_alive_fn alive, int *open)
{
    apr_uint64_t mine = word_of(tag, pid);
    int slot = claim(t, mine, alive);

    *open = 0;
    if (slot < 0)
        return slot;
    *open = count(t, tag, 0, alive);
    if (max > 0 && *open > max) {
        profile_ws_table_release(t, slot, tag, pid);
        (*open)--;
        return PROFILE_WS_OVER_LIMIT;
    }
    return slot;
}

void profile_ws_table_release(profile_ws_table_t *t, int slot, apr_uint32_t tag, apr_uint32_t pid)
{
    apr_uint64_t w = word_of(tag, pid);

    if (slot >= 0 && (apr_uint32_t)slot < t->nslots)
        __atomic_compare_exchange_n(&t->slots[slot], &w, 0, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
}

int profile_ws_table_count(profile_ws_table_t *t, profile_ws_alive_fn alive)
{
    return count(t, 0, 1, alive);
}

apr_uint32_t profile_ws_table_slots(const profile_ws_table_t *t)
{
    return t->nslots;
}
