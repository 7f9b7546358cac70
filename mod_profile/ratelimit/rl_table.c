/* The shm table: a header, PROFILE_RL_LOCKS insertion locks, then `capacity` slots of
 * (key, TAT), found by linear probing over at most PROFILE_RL_PROBE slots from key % capacity.
 *
 * Concurrency (any thread of any child process, no lock on the common path):
 * - A decision on a key that has a slot reads tat, then key, and stores GCRA's new TAT with a
 *   compare-and-swap from the tat it read; a refusal stores nothing and instead re-reads tat.
 *   Losing the CAS means another decision (or a take-over) came first: read again.
 * - A slot changes owner (claim of a never-used slot, key 0, or take-over of an expired one,
 *   tat <= now: a full bucket, the same as a key never seen) only by a CAS of tat from the
 *   value that showed it free to a marker (< 0); the owner then stores the key and releases
 *   the marker by storing the new key's first TAT. So the key only ever changes while tat
 *   holds a marker.
 * - Every TAT stored is greater than the one before it in that slot (GCRA's max(tat, now) + T
 *   with T >= 1 from profile_gcra_init; a take-over stores now + T over a tat <= now), so tat never returns to a value it left.
 *   Hence a decider whose CAS from t succeeds (or whose re-read still finds t) knows tat held
 *   t all along, no marker came in between, and the key it read in between was the owner of
 *   t: its decision is the key's, exactly, with no ABA. A decider of the old key that raced a
 *   take-over loses its CAS and, reading again, finds the new key (or waits out the marker).
 * - Inserting a key needs its stripe lock (one of PROFILE_RL_LOCKS, by key): the inserter
 *   looks for the key again under the lock, then takes the first free slot, so one key never
 *   gets two slots. A used slot never reads (key 0, tat 0) again, so a lookup stops at the
 *   first never-used slot.
 * - A process that dies inside a take-over (a few instructions) or holding a stripe lock (one
 *   scan of the window) would block others: a marker or lock unchanged for a second of real waiting is
 *   broken. A broken marker leaves a fresh bucket (TAT = the marker's clock + 1). Only a holder
 *   stopped for that second and then resumed can cost one key's count.
 *
 * Full table: when every slot of a key's probe window holds a live key (TAT in the future),
 * decide returns -1; the caller should allow the request (unlimited, logged, counted) rather
 * than refuse clients it cannot count. Size the table above the number of keys active within
 * the longest window (16 bytes a slot). */
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include "ratelimit/rl_table.h"
#include "util/shm_block.h"

/* "PRLTABL" with the layout version in the low byte: bump it when the structs change. */
#define PROFILE_RL_TABLE_MAGIC 0x50524c5441424c01ULL
#define PROFILE_RL_PROBE 32
#define PROFILE_RL_LOCKS 256
#define SPINS 64
#define STALE_USEC apr_time_from_sec(1)

typedef struct {
    apr_uint64_t key;          /* 0: never used */
    apr_int64_t tat;           /* >= 0: the TAT; < 0: marker of a change of owner */
} slot_t;

struct profile_rl_table_t {
    apr_uint64_t magic;
    apr_uint64_t capacity;
    apr_uint64_t tokens;       /* last lock token handed out */
    apr_uint64_t locks[PROFILE_RL_LOCKS];  /* 0: free, else the holder's token */
    slot_t slots[];
};

enum { DECIDED, ABSENT, FULL };

apr_size_t profile_rl_table_size(apr_size_t capacity)
{
    return offsetof(profile_rl_table_t, slots) + (capacity ? capacity : 1) * sizeof(slot_t);
}

profile_rl_table_t *profile_rl_table_init(void *mem, apr_size_t capacity)
{
    profile_rl_table_t *t = mem;

    if (!capacity)
        capacity = 1;
    if (t->magic == PROFILE_RL_TABLE_MAGIC && t->capacity == capacity)
        return t;
    memset(t, 0, profile_rl_table_size(capacity));
    t->capacity = capacity;
    t->magic = PROFILE_RL_TABLE_MAGIC;
    return t;
}

apr_uint64_t profile_rl_key(const char *policy, const char *value)
{
    apr_uint64_t h = PROFILE_FNV1A_INIT;

    policy = policy ? policy : "";
    value = value ? value : "";
    h = profile_fnv1a(h, policy, strlen(policy) + 1);
    h = profile_fnv1a(h, value, strlen(value));
    return h ? h : 1;
}

/* The marker carries the clock of its owner (clamped so that -marker is a valid TAT). */
static apr_int64_t marker_of(apr_int64_t now)
{
    if (now < 0)
        now = 0;
    if (now > APR_INT64_MAX - 1)
        now = APR_INT64_MAX - 1;
    return -1 - now;
}

/* Tells whether a wait on one unchanged value has lasted a second of real time. */
static int stale(int *spins, apr_time_t *since)
{
    if (++*spins < SPINS)
        return 0;
    if (!*since)
        *since = apr_time_now();
    else if (apr_time_now() - *since > STALE_USEC)
        return 1;
    sched_yield();
    return 0;
}

static void wait_owner_change(slot_t *s, apr_int64_t marker)
{
    apr_time_t since = 0;
    int spins = 0;

    while (__atomic_load_n(&s->tat, __ATOMIC_ACQUIRE) == marker) {
        if (stale(&spins, &since)) {
            /* The owner's clock + 1: above any TAT the slot held (it was <= that clock). */
            __atomic_compare_exchange_n(&s->tat, &marker, -marker, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
            return;
        }
    }
}

static apr_uint64_t lock_stripe(profile_rl_table_t *t, apr_uint64_t *lock)
{
    apr_uint64_t token = __atomic_add_fetch(&t->tokens, 1, __ATOMIC_RELAXED);
    apr_uint64_t seen = 0, cur;
    apr_time_t since = 0;
    int spins = 0;

    if (!token)
        token = __atomic_add_fetch(&t->tokens, 1, __ATOMIC_RELAXED);
    for (;;) {
        cur = 0;
        if (__atomic_compare_exchange_n(lock, &cur, token, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return token;
        if (cur != seen) {
            seen = cur;
            since = 0;
            spins = 0;
        } else if (stale(&spins, &since)
                   && __atomic_compare_exchange_n(lock, &cur, token, 0, __ATOMIC_ACQUIRE,
                                                  __ATOMIC_RELAXED)) {
            return token;
        }
    }
}

static void unlock_stripe(apr_uint64_t *lock, apr_uint64_t token)
{
    /* Fails only when the lock was broken as stale: then it is someone else's now. */
    __atomic_compare_exchange_n(lock, &token, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static apr_size_t probe_len(const profile_rl_table_t *t)
{
    return t->capacity < PROFILE_RL_PROBE ? t->capacity : PROFILE_RL_PROBE;
}

/* The i-th slot of key's probe window. */
static slot_t *window_slot(profile_rl_table_t *t, apr_uint64_t key, apr_size_t i)
{
    return &t->slots[(key % t->capacity + i) % t->capacity];
}

/* The slot's key, with its TAT in *tat, once no owner change is under way (TAT first, then
 * the key: the order the owner-change protocol above relies on). */
static apr_uint64_t read_slot(slot_t *s, apr_int64_t *tat)
{
    for (;;) {
        *tat = __atomic_load_n(&s->tat, __ATOMIC_ACQUIRE);
        if (*tat >= 0)
            return __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
        wait_owner_change(s, *tat);
    }
}

/* DECIDED on key's slot, or ABSENT when the window holds none. */
static int decide_existing(profile_rl_table_t *t, apr_uint64_t key, const profile_gcra_t *g,
                           apr_int64_t now, profile_gcra_result_t *out)
{
    apr_size_t i, n = probe_len(t);

    for (i = 0; i < n; i++) {
        slot_t *s = window_slot(t, key, i);

        for (;;) {
            apr_int64_t tat;
            apr_uint64_t k = read_slot(s, &tat);

            if (k != key) {
                if (!k && !tat)
                    return ABSENT;      /* never used: the key is not further on */
                break;
            }
            profile_gcra_decide(g, tat, now, out);
            if (out->allowed
                    ? __atomic_compare_exchange_n(&s->tat, &tat, out->new_tat, 0,
                                                  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
                    : __atomic_load_n(&s->tat, __ATOMIC_ACQUIRE) == tat)
                return DECIDED;
        }
    }
    return ABSENT;
}

/* Under key's stripe lock, after decide_existing found no slot: takes the first slot of the
 * window whose tat <= now (never used, or expired) and decides there (DECIDED); FULL when
 * there is none; ABSENT when the window changed under us (look again). */
static int take_slot(profile_rl_table_t *t, apr_uint64_t key, const profile_gcra_t *g,
                     apr_int64_t now, profile_gcra_result_t *out)
{
    apr_int64_t marker = marker_of(now);
    apr_size_t i, n = probe_len(t);

    for (i = 0; i < n; i++) {
        slot_t *s = window_slot(t, key, i);

        for (;;) {
            apr_int64_t tat;
            apr_uint64_t k = read_slot(s, &tat);

            if (k == key)
                return ABSENT;
            if (tat > now)
                break;                  /* a live key (or a claim broken a moment ago) */
            if (!__atomic_compare_exchange_n(&s->tat, &tat, marker, 0, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE))
                continue;               /* a decision or another owner came first */
            __atomic_store_n(&s->key, key, __ATOMIC_RELAXED);
            profile_gcra_decide(g, tat, now, out);   /* tat <= now: a full bucket */
            return __atomic_compare_exchange_n(&s->tat, &marker, out->new_tat, 0,
                                               __ATOMIC_RELEASE, __ATOMIC_RELAXED)
                       ? DECIDED : ABSENT;          /* ABSENT: our marker was broken */
        }
    }
    return FULL;
}

int profile_rl_table_decide(profile_rl_table_t *t, apr_uint64_t key, const profile_gcra_t *g,
                            apr_int64_t now, profile_gcra_result_t *out)
{
    apr_uint64_t *lock, token;
    int rc;

    if (!key)
        key = 1;                        /* 0 marks unused slots */
    if (decide_existing(t, key, g, now, out) == DECIDED)
        return 0;
    lock = &t->locks[(key >> 32 ^ key) % PROFILE_RL_LOCKS];
    token = lock_stripe(t, lock);
    do {
        rc = decide_existing(t, key, g, now, out);
        if (rc == ABSENT)
            rc = take_slot(t, key, g, now, out);
    } while (rc == ABSENT);
    unlock_stripe(lock, token);
    return rc == DECIDED ? 0 : -1;
}
