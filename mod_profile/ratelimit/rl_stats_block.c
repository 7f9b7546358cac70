/* Rate-limit analytics block.
 *
 * Policy counters are lock-free: a policy claims a slot once per server lifetime by a
 * compare-and-swap of its name hash into a free slot (open addressing), publishes its name
 * with a release store of `ready`, and every decision is one atomic add. Slots are never
 * freed, so a published name never changes.
 *
 * The principal table takes a tiny spinlock instead: an entry's identity (hash and name) can
 * be replaced when the table is full, and doing that without a lock would let a reader or a
 * concurrent writer see one principal's name with another's counts. Only limited decisions
 * touch it, the critical section is a scan of 256 hashes plus a few stores (no system call,
 * no allocation), so holding it costs well under a microsecond. The lock word is the holder's
 * acquisition time: a holder that died inside the section (a child killed at that instant) is
 * taken over after LOCK_STEAL_US, so the table never stays locked; the worst a wrongly stolen
 * lock can do is miscount one entry. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "ratelimit/rl_stats_block.h"
#include "util/shm_block.h"

/* "PRRLSTAT" with the layout version in the low byte: bump it when the structs change. */
#define RL_STATS_MAGIC 0x5052524c53544101ULL
#define LOCK_STEAL_US 100000
#define LOCK_SPINS_BEFORE_YIELD 64
#define MINUTE_USEC ((apr_uint64_t)apr_time_from_sec(60))

typedef struct {
    apr_uint64_t hash;         /* 0: free; claimed by CAS */
    apr_uint32_t ready;        /* name published */
    char name[PROFILE_RL_STATS_POLICY_NAME + 1];
    apr_uint64_t allowed;
    apr_uint64_t limited;
} rl_policy_t;

typedef struct {
    apr_uint64_t hash;         /* 0: free */
    apr_int64_t last_limited_at;
    apr_uint32_t stamp[PROFILE_RL_STATS_MINUTES];  /* minute since the epoch of count[i] */
    apr_uint32_t count[PROFILE_RL_STATS_MINUTES];  /* ring: minute m at m % 60 */
    char name[PROFILE_RL_STATS_WHO_MAX + 1];
} rl_principal_t;

struct profile_rl_stats_block_t {
    apr_uint64_t magic;
    apr_uint64_t redis_fallbacks;
    rl_policy_t policies[PROFILE_RL_STATS_POLICIES];
    apr_int64_t principals_lock;   /* 0, or the holder's acquisition time */
    rl_principal_t principals[PROFILE_RL_STATS_PRINCIPALS];
};

apr_size_t profile_rl_stats_block_size(void)
{
    return sizeof(profile_rl_stats_block_t);
}

profile_rl_stats_block_t *profile_rl_stats_block_init(void *mem)
{
    profile_rl_stats_block_t *b = mem;

    if (b->magic == RL_STATS_MAGIC)
        return b;
    memset(b, 0, sizeof(*b));
    b->magic = RL_STATS_MAGIC;
    return b;
}

/* FNV-1a, never 0 (0 marks a free slot). */
static apr_uint64_t name_hash(const char *s)
{
    apr_uint64_t h = profile_fnv1a(PROFILE_FNV1A_INIT, s, strlen(s));
    return h ? h : 1;
}

static rl_policy_t *policy_slot(profile_rl_stats_block_t *b, const char *policy)
{
    apr_uint64_t h = name_hash(policy);
    int i;

    for (i = 0; i < PROFILE_RL_STATS_POLICIES; i++) {
        rl_policy_t *s = &b->policies[(h + (apr_uint64_t)i) % PROFILE_RL_STATS_POLICIES];
        apr_uint64_t cur = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);

        if (cur == 0 && __atomic_compare_exchange_n(&s->hash, &cur, h, 0, __ATOMIC_ACQ_REL,
                                                    __ATOMIC_ACQUIRE)) {
            strncpy(s->name, policy, PROFILE_RL_STATS_POLICY_NAME);
            s->name[PROFILE_RL_STATS_POLICY_NAME] = '\0';
            __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
            return s;
        }
        if (cur == h)
            return s;
    }
    return NULL;
}

static void lock_principals(profile_rl_stats_block_t *b, apr_int64_t *mine)
{
    int spins = 0;

    for (;;) {
        apr_int64_t now = apr_time_now();
        apr_int64_t cur = __atomic_load_n(&b->principals_lock, __ATOMIC_RELAXED);

        if ((cur == 0 || now - cur > LOCK_STEAL_US) &&
            __atomic_compare_exchange_n(&b->principals_lock, &cur, now, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            *mine = now;
            return;
        }
        if (++spins % LOCK_SPINS_BEFORE_YIELD == 0)
            sched_yield();
    }
}

static void unlock_principals(profile_rl_stats_block_t *b, apr_int64_t mine)
{
    /* Leaves the lock alone when it was taken over. */
    __atomic_compare_exchange_n(&b->principals_lock, &mine, 0, 0, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}

static apr_uint32_t minute_of(apr_time_t t)
{
    return t < 0 ? 0 : (apr_uint32_t)((apr_uint64_t)t / MINUTE_USEC);
}

/* Limits of e in the hour that ends with minute `minute`. */
static apr_uint64_t hour_sum(const rl_principal_t *e, apr_uint32_t minute)
{
    apr_uint64_t sum = 0;
    int i;

    for (i = 0; i < PROFILE_RL_STATS_MINUTES; i++)
        if (e->stamp[i] <= minute && minute - e->stamp[i] < PROFILE_RL_STATS_MINUTES)
            sum += e->count[i];
    return sum;
}

/* The entry of h, else a free one, else the one with the fewest limits in the last hour
 * (ties: limited longest ago), re-initialised for who. Called with the lock held. */
static rl_principal_t *principal_entry(profile_rl_stats_block_t *b, apr_uint64_t h,
                                       const char *who, apr_uint32_t minute)
{
    rl_principal_t *free_e = NULL, *victim = NULL, *e;
    apr_uint64_t victim_sum = 0;
    int i;

    for (i = 0; i < PROFILE_RL_STATS_PRINCIPALS; i++) {
        e = &b->principals[i];
        if (e->hash == h)
            return e;
        if (e->hash == 0) {
            if (!free_e)
                free_e = e;
        }
        else if (!free_e) {
            apr_uint64_t sum = hour_sum(e, minute);

            if (!victim || sum < victim_sum ||
                (sum == victim_sum && e->last_limited_at < victim->last_limited_at)) {
                victim = e;
                victim_sum = sum;
            }
        }
    }
    e = free_e ? free_e : victim;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    strncpy(e->name, who, PROFILE_RL_STATS_WHO_MAX);
    e->name[PROFILE_RL_STATS_WHO_MAX] = '\0';
    return e;
}

static void count_limited(profile_rl_stats_block_t *b, const char *who, apr_time_t now)
{
    apr_uint64_t h = name_hash(who);
    apr_uint32_t minute = minute_of(now);
    int slot = (int)(minute % PROFILE_RL_STATS_MINUTES);
    rl_principal_t *e;
    apr_int64_t mine;

    lock_principals(b, &mine);
    e = principal_entry(b, h, who, minute);
    if (e->stamp[slot] != minute) {
        e->stamp[slot] = minute;
        e->count[slot] = 0;
    }
    e->count[slot]++;
    if (now > e->last_limited_at)
        e->last_limited_at = now;
    unlock_principals(b, mine);
}

void profile_rl_stats_block_count(profile_rl_stats_block_t *b, const char *policy, int limited,
                                  const char *who, apr_time_t now)
{
    rl_policy_t *s = policy_slot(b, policy);

    if (s)
        __atomic_fetch_add(limited ? &s->limited : &s->allowed, 1, __ATOMIC_RELAXED);
    if (limited)
        count_limited(b, who ? who : "-", now);
}

void profile_rl_stats_block_fallback(profile_rl_stats_block_t *b)
{
    __atomic_fetch_add(&b->redis_fallbacks, 1, __ATOMIC_RELAXED);
}

json_t *profile_rl_stats_block_json(const profile_rl_stats_block_t *b)
{
    json_t *policies = json_object();
    int i;

    for (i = 0; i < PROFILE_RL_STATS_POLICIES; i++) {
        const rl_policy_t *s = &b->policies[i];

        if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
            continue;
        json_object_set_new(
            policies, s->name,
            json_pack("{s:I,s:I}",
                      "allowed", (json_int_t)__atomic_load_n(&s->allowed, __ATOMIC_RELAXED),
                      "limited", (json_int_t)__atomic_load_n(&s->limited, __ATOMIC_RELAXED)));
    }
    return json_pack("{s:o,s:I}", "policies", policies, "redis_fallbacks",
                     (json_int_t)__atomic_load_n(&b->redis_fallbacks, __ATOMIC_RELAXED));
}

static int top_order(const void *a, const void *b)
{
    const profile_rl_stats_top_t *x = a, *y = b;

    if (x->limited != y->limited)
        return x->limited > y->limited ? -1 : 1;
    if (x->last_limited_at != y->last_limited_at)
        return x->last_limited_at > y->last_limited_at ? -1 : 1;
    return strcmp(x->principal, y->principal);
}

int profile_rl_stats_block_top(profile_rl_stats_block_t *b, apr_time_t now,
                               profile_rl_stats_top_t *out, int max)
{
    profile_rl_stats_top_t all[PROFILE_RL_STATS_PRINCIPALS];
    apr_uint32_t minute = minute_of(now);
    apr_int64_t mine;
    int i, n = 0;

    lock_principals(b, &mine);
    for (i = 0; i < PROFILE_RL_STATS_PRINCIPALS; i++) {
        const rl_principal_t *e = &b->principals[i];
        apr_uint64_t sum;

        if (e->hash == 0 || (sum = hour_sum(e, minute)) == 0)
            continue;
        memcpy(all[n].principal, e->name, sizeof(all[n].principal));
        all[n].limited = sum;
        all[n].last_limited_at = e->last_limited_at;
        n++;
    }
    unlock_principals(b, mine);
    qsort(all, (size_t)n, sizeof(all[0]), top_order);
    if (n > max)
        n = max < 0 ? 0 : max;
    memcpy(out, all, sizeof(all[0]) * (size_t)n);
    return n;
}
