/* Profile and cache counters in a shared-memory block kept across graceful restarts
 * (util/shm_block.h). Every count is one relaxed atomic add from any thread of any child;
 * readers sum what they see (a report may miss the adds of the same instant, never more).
 *
 * Upstream latency is a histogram: 1 ms buckets up to 100 ms (where healthy fetches land and a
 * median must be exact to the millisecond), then each bucket 12.5 % wider than the one before
 * up to 60 s, then one bucket for anything slower. The median is the upper bound of the
 * bucket holding the middle sample: within 1 ms below 100 ms, within 12.5 % above. */
#include <string.h>
#include "cache/cache_stats.h"
#include "profiles/profile_json.h"
#include "util/shm_block.h"

#define CACHE_STATS_SHM_KEY "mod_profile-cache-stats-shm"
/* "PCSTATS" with the layout version in the low byte: bump it when the struct changes. */
#define CACHE_STATS_MAGIC 0x5043535441545301ULL
#define LINEAR_MS 100
#define LAST_MS 60000
/* 100 linear buckets, 55 growing ones up to LAST_MS, one beyond. */
#define HIST_BUCKETS 156

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t counters[PROFILE_CS_COUNT];
    apr_uint64_t tiers[PROFILE_TIER_COUNT];
    apr_uint64_t latency[HIST_BUCKETS];
} cache_stats_block_t;

static cache_stats_block_t *stats_block;

apr_status_t profile_cache_stats_setup(server_rec *s)
{
    void *mem;
    apr_status_t rv = profile_shm_block(s, CACHE_STATS_SHM_KEY, sizeof(cache_stats_block_t),
                                        &mem);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, APLOGNO(10746)
                     "cannot create the shared memory for profile cache statistics");
        return rv;
    }
    stats_block = mem;
    if (stats_block->magic != CACHE_STATS_MAGIC) {
        memset(stats_block, 0, sizeof(*stats_block));
        stats_block->magic = CACHE_STATS_MAGIC;
    }
    return APR_SUCCESS;
}

static void add(apr_uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static apr_uint64_t read_counter(const apr_uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void profile_cache_count(profile_cache_counter_t c)
{
    if (stats_block && c >= 0 && c < PROFILE_CS_COUNT)
        add(&stats_block->counters[c]);
}

void profile_cache_count_tier(int tier)
{
    if (stats_block && tier >= 0 && tier < PROFILE_TIER_COUNT)
        add(&stats_block->tiers[tier]);
}

static apr_int64_t next_bound(apr_int64_t bound)
{
    bound += bound / 8;
    return bound > LAST_MS ? LAST_MS : bound;
}

/* Bucket i holds durations in (bound(i - 1), bound(i)]. */
static int bucket_of(apr_int64_t ms)
{
    apr_int64_t bound = LINEAR_MS;
    int i = LINEAR_MS - 1;

    if (ms <= LINEAR_MS)
        return ms <= 1 ? 0 : (int)ms - 1;
    while (ms > bound && bound < LAST_MS) {
        bound = next_bound(bound);
        i++;
    }
    return ms > bound ? HIST_BUCKETS - 1 : i;
}

/* LAST_MS for the last bucket: its samples took at least that long. */
static apr_int64_t bucket_bound(int i)
{
    apr_int64_t bound = LINEAR_MS;
    int j;

    if (i < LINEAR_MS)
        return i + 1;
    for (j = LINEAR_MS - 1; j < i && bound < LAST_MS; j++)
        bound = next_bound(bound);
    return bound;
}

void profile_cache_upstream_ms(apr_int64_t ms)
{
    if (stats_block)
        add(&stats_block->latency[bucket_of(ms)]);
}

/* The median upstream duration in ms, or null before the first fetch. */
static json_t *median_json(const cache_stats_block_t *b)
{
    apr_uint64_t total = 0, seen = 0;
    int i;

    for (i = 0; i < HIST_BUCKETS; i++)
        total += read_counter(&b->latency[i]);
    if (!total)
        return json_null();
    for (i = 0; i < HIST_BUCKETS - 1; i++) {
        seen += read_counter(&b->latency[i]);
        if (seen >= (total + 1) / 2)
            break;
    }
    return json_integer(bucket_bound(i));
}

json_t *profile_cache_stats_json(void)
{
    static const cache_stats_block_t empty;
    const cache_stats_block_t *b = stats_block ? stats_block : &empty;
    apr_uint64_t v[PROFILE_CS_COUNT], answered;
    json_t *tiers = json_object();
    int i;

    for (i = 0; i < PROFILE_CS_COUNT; i++)
        v[i] = read_counter(&b->counters[i]);
    for (i = 0; i < PROFILE_TIER_COUNT; i++)
        json_object_set_new(tiers, profile_tier_name(i),
                            json_integer((json_int_t)read_counter(&b->tiers[i])));
    answered = v[PROFILE_CS_HIT] + v[PROFILE_CS_STALE] + v[PROFILE_CS_MISS];
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:{s:I, s:I, s:I, s:o}, s:o}",
                     "hits", (json_int_t)v[PROFILE_CS_HIT],
                     "misses", (json_int_t)v[PROFILE_CS_MISS],
                     "stale", (json_int_t)v[PROFILE_CS_STALE],
                     "db_hits", (json_int_t)v[PROFILE_CS_DB_HIT],
                     "coalesced", (json_int_t)v[PROFILE_CS_COALESCED],
                     "hit_ratio", answered ? (double)(v[PROFILE_CS_HIT] + v[PROFILE_CS_STALE])
                                                 / (double)answered
                                           : 0.0,
                     "refreshes", (json_int_t)v[PROFILE_CS_REFRESHES],
                     "upstream",
                     "ok", (json_int_t)v[PROFILE_CS_UPSTREAM_OK],
                     "failed", (json_int_t)v[PROFILE_CS_UPSTREAM_FAILED],
                     "skipped", (json_int_t)v[PROFILE_CS_UPSTREAM_SKIPPED],
                     "median_ms", median_json(b),
                     "tiers", tiers);
}
