/* The shared-memory cache table. Layout of the block: the header (with the writers' mutex),
 * the index (index_size slot references, 0 = empty, else slot + 1, linear probing from the
 * key's FNV-1a hash), the slots' metadata (small, so the scans below stay in few pages), then
 * the slots' bodies (PROFILE_CACHE_BODY_MAX bytes each, touched only for the slot in use).
 *
 * Concurrency:
 * - Writers (put, delete, clear_expired, stats) hold the process-shared robust mutex. Every
 *   change of the index or of an entry happens inside a write window: seq is made odd, the
 *   change is made, seq is made even again (Boehm's seqlock: a release fence after the odd
 *   store, a release store of the even value). Searches that only read (the free slot, the
 *   eviction victim) run under the mutex but outside a window, so readers are held off only
 *   for the copying of one entry.
 * - Readers take no lock: read seq (acquire); if odd, yield and try again; else look the key
 *   up and copy the entry to the stack, then read seq again after an acquire fence. The copy
 *   counts only when seq did not move. A copy made while a writer ran may be torn, so every
 *   slot number and length read is clamped before it is used. After READ_TRIES attempts a
 *   reader gives up and reports a miss: a miss costs a database read, never a wrong answer.
 * - A hit stores its time into the slot's last-used stamp with a relaxed atomic store, outside
 *   the seqlock: in the rare race with a writer reusing that slot, the new entry gets a fresher
 *   stamp than it should, which only delays its eviction.
 * - A process that dies holding the mutex leaves EOWNERDEAD to the next writer, which marks
 *   the mutex consistent and clears the table (the dead writer may have left the index half
 *   changed); seq moves on, so readers that raced it retry. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <apr_strings.h>
#include "cache/cache_table.h"
#include "util/shm_block.h"

/* "PCACHE" with the layout version in the low bytes: bump it when the structs change. */
#define CACHE_TABLE_MAGIC 0x5043414348450001ULL
#define MAX_CAPACITY (1u << 24)
#define READ_TRIES 64
#define NO_SLOT 0xffffffffu
#define ALIGN(n) (((n) + 63) & ~(apr_size_t)63)

typedef struct {
    apr_uint64_t hash;         /* FNV-1a of the key */
    apr_uint64_t last_used;    /* µs; relaxed atomics (hits store it without the mutex) */
    apr_int64_t fetched_at;
    apr_int64_t expires_at;
    apr_int64_t stale_until;
    apr_uint64_t etag;
    apr_int32_t status;
    apr_int32_t tier;
    apr_uint32_t key_len;      /* 0: a free slot */
    apr_uint32_t body_len;
    char key[PROFILE_CACHE_KEY_MAX];
} slot_meta_t;

struct profile_cache_table_t {
    apr_uint64_t magic;
    apr_uint32_t capacity;
    apr_uint32_t index_size;   /* a power of two >= 2 x capacity */
    apr_uint64_t seq;          /* odd while a writer changes entries */
    apr_uint64_t body_bytes;
    apr_uint64_t evictions;
    apr_uint32_t entries;
    pthread_mutex_t lock;      /* process-shared, robust */
};

static apr_uint32_t clamp_capacity(apr_uint32_t capacity)
{
    return capacity < 1 ? 1 : capacity > MAX_CAPACITY ? MAX_CAPACITY : capacity;
}

static apr_uint32_t index_size_for(apr_uint32_t capacity)
{
    apr_uint32_t n = 2;

    while (n < 2 * capacity)
        n <<= 1;
    return n;
}

static apr_size_t meta_offset(apr_uint32_t index_size)
{
    return ALIGN(sizeof(profile_cache_table_t)) + ALIGN((apr_size_t)index_size * 4);
}

static apr_size_t body_offset(apr_uint32_t capacity, apr_uint32_t index_size)
{
    return meta_offset(index_size) + ALIGN((apr_size_t)capacity * sizeof(slot_meta_t));
}

static apr_uint32_t *index_of(profile_cache_table_t *t)
{
    return (apr_uint32_t *)((char *)t + ALIGN(sizeof(*t)));
}

static slot_meta_t *meta_of(profile_cache_table_t *t)
{
    return (slot_meta_t *)((char *)t + meta_offset(t->index_size));
}

static char *body_of(profile_cache_table_t *t, apr_uint32_t slot)
{
    return (char *)t + body_offset(t->capacity, t->index_size)
           + (apr_size_t)slot * PROFILE_CACHE_BODY_MAX;
}

apr_size_t profile_cache_table_size(apr_uint32_t capacity)
{
    capacity = clamp_capacity(capacity);
    return body_offset(capacity, index_size_for(capacity))
           + (apr_size_t)capacity * PROFILE_CACHE_BODY_MAX;
}

profile_cache_table_t *profile_cache_table_init(void *mem, apr_uint32_t capacity)
{
    profile_cache_table_t *t = mem;
    pthread_mutexattr_t attr;
    int rc;

    capacity = clamp_capacity(capacity);
    if (t->magic == CACHE_TABLE_MAGIC && t->capacity == capacity
        && t->index_size == index_size_for(capacity))
        return t;
    /* The bodies need no clearing: only slots in use are read. Leaving them alone keeps the
     * pages of a large, mostly empty table unallocated. */
    memset(t, 0, body_offset(capacity, index_size_for(capacity)));
    if (pthread_mutexattr_init(&attr) != 0)
        return NULL;
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&t->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
        return NULL;
    t->capacity = capacity;
    t->index_size = index_size_for(capacity);
    t->magic = CACHE_TABLE_MAGIC;
    return t;
}

/* ---- write windows and the writers' mutex ---- */

static void write_begin(profile_cache_table_t *t)
{
    /* Already odd when a writer died inside its window. */
    __atomic_store_n(&t->seq, __atomic_load_n(&t->seq, __ATOMIC_RELAXED) | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(profile_cache_table_t *t)
{
    __atomic_store_n(&t->seq, __atomic_load_n(&t->seq, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
}

static void clear(profile_cache_table_t *t)
{
    write_begin(t);
    memset(index_of(t), 0, (apr_size_t)t->index_size * 4);
    memset(meta_of(t), 0, (apr_size_t)t->capacity * sizeof(slot_meta_t));
    t->entries = 0;
    t->body_bytes = 0;
    write_end(t);
}

/* 0 with the mutex held, else the lock's error. */
static int lock(profile_cache_table_t *t)
{
    int rc = pthread_mutex_lock(&t->lock);

    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(&t->lock);
        clear(t);
        rc = 0;
    }
    return rc;
}

static void unlock(profile_cache_table_t *t)
{
    pthread_mutex_unlock(&t->lock);
}

/* ---- the index ---- */

static apr_uint64_t key_hash(const char *key, apr_size_t len)
{
    return profile_fnv1a(PROFILE_FNV1A_INIT, key, len);
}

/* The slot of key, or NO_SLOT. Safe without the mutex: every reference and length read is
 * bounded, and at most index_size positions are probed whatever the index holds. */
static apr_uint32_t find(profile_cache_table_t *t, apr_uint64_t hash, const char *key,
                         apr_uint32_t key_len)
{
    apr_uint32_t *index = index_of(t);
    slot_meta_t *meta = meta_of(t);
    apr_uint32_t mask = t->index_size - 1, pos = (apr_uint32_t)hash & mask, n;

    for (n = 0; n < t->index_size; n++, pos = (pos + 1) & mask) {
        apr_uint32_t ref = __atomic_load_n(&index[pos], __ATOMIC_RELAXED);
        slot_meta_t *m;

        if (!ref || ref > t->capacity)
            return NO_SLOT;
        m = &meta[ref - 1];
        if (m->hash == hash && m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            return ref - 1;
    }
    return NO_SLOT;
}

/* In a write window. The index never fills: it has twice as many positions as slots. */
static void index_insert(profile_cache_table_t *t, apr_uint64_t hash, apr_uint32_t slot)
{
    apr_uint32_t *index = index_of(t);
    apr_uint32_t mask = t->index_size - 1, pos = (apr_uint32_t)hash & mask;

    while (index[pos])
        pos = (pos + 1) & mask;
    __atomic_store_n(&index[pos], slot + 1, __ATOMIC_RELAXED);
}

/* In a write window: takes slot out of the index by backward shift (every later entry of the
 * probe run that may move closer to its home position does), so lookups keep stopping at the
 * first empty position and no tombstones accumulate. */
static void index_remove(profile_cache_table_t *t, apr_uint32_t slot)
{
    apr_uint32_t *index = index_of(t);
    slot_meta_t *meta = meta_of(t);
    apr_uint32_t mask = t->index_size - 1;
    apr_uint32_t hole = (apr_uint32_t)meta[slot].hash & mask, next;

    while (index[hole] != slot + 1)
        hole = (hole + 1) & mask;
    for (next = (hole + 1) & mask; index[next]; next = (next + 1) & mask) {
        apr_uint32_t home = (apr_uint32_t)meta[index[next] - 1].hash & mask;

        /* The entry at next may fill the hole unless its home lies cyclically in
         * (hole, next]: then moving it would put it before its home. */
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            __atomic_store_n(&index[hole], index[next], __ATOMIC_RELAXED);
            hole = next;
        }
    }
    __atomic_store_n(&index[hole], 0, __ATOMIC_RELAXED);
}

/* Under the mutex: removes the entry of slot in its own write window. */
static void remove_slot(profile_cache_table_t *t, apr_uint32_t slot)
{
    slot_meta_t *m = &meta_of(t)[slot];

    write_begin(t);
    index_remove(t, slot);
    t->body_bytes -= m->body_len;
    t->entries--;
    m->key_len = 0;
    write_end(t);
}

/* Under the mutex: a free slot for a new entry, evicting one when the table is full. An
 * entry past stale_until can never be served again and goes first; else the one with the
 * oldest last-used stamp. */
static apr_uint32_t free_slot(profile_cache_table_t *t, apr_time_t now)
{
    slot_meta_t *meta = meta_of(t);
    apr_uint32_t i, victim = 0;
    apr_uint64_t oldest = APR_UINT64_MAX;

    if (t->entries < t->capacity) {
        for (i = 0; i < t->capacity; i++)
            if (!meta[i].key_len)
                return i;
    }
    for (i = 0; i < t->capacity; i++) {
        apr_uint64_t used = __atomic_load_n(&meta[i].last_used, __ATOMIC_RELAXED);

        if (!meta[i].key_len)
            return i;          /* only if entries miscounted: never evict a free slot */
        if (now >= meta[i].stale_until) {
            victim = i;
            break;
        }
        if (used < oldest) {
            oldest = used;
            victim = i;
        }
    }
    remove_slot(t, victim);
    t->evictions++;
    return victim;
}

/* ---- the operations ---- */

int profile_cache_table_get(profile_cache_table_t *t, apr_pool_t *p, const char *key,
                            apr_time_t now, profile_cache_entry_t *e)
{
    apr_size_t key_len = strlen(key);
    apr_uint64_t hash = key_hash(key, key_len);
    char body[PROFILE_CACHE_BODY_MAX];
    slot_meta_t m;
    int tries;

    if (!key_len || key_len > PROFILE_CACHE_KEY_MAX)
        return 0;
    for (tries = 0; tries < READ_TRIES; tries++) {
        apr_uint64_t seq = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
        apr_uint32_t slot;

        if (seq & 1) {
            sched_yield();     /* a writer is copying one entry: a microsecond or two */
            continue;
        }
        slot = find(t, hash, key, (apr_uint32_t)key_len);
        if (slot != NO_SLOT) {
            memcpy(&m, &meta_of(t)[slot], sizeof(m));
            if (m.body_len > PROFILE_CACHE_BODY_MAX)
                m.body_len = PROFILE_CACHE_BODY_MAX;
            memcpy(body, body_of(t, slot), m.body_len);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t->seq, __ATOMIC_RELAXED) != seq)
            continue;
        if (slot == NO_SLOT || now >= m.stale_until)
            return 0;
        __atomic_store_n(&meta_of(t)[slot].last_used, (apr_uint64_t)now, __ATOMIC_RELAXED);
        e->status = m.status;
        e->tier = m.tier;
        e->fetched_at = m.fetched_at;
        e->expires_at = m.expires_at;
        e->stale_until = m.stale_until;
        e->etag = m.etag;
        e->body = apr_pstrmemdup(p, body, m.body_len);
        e->body_len = m.body_len;
        return 1;
    }
    return 0;
}

int profile_cache_table_put(profile_cache_table_t *t, const char *key,
                            const profile_cache_entry_t *e, apr_time_t now)
{
    apr_size_t key_len = strlen(key);
    apr_uint64_t hash = key_hash(key, key_len);
    apr_uint32_t slot;
    slot_meta_t *m;
    int fresh;

    if (!key_len || key_len > PROFILE_CACHE_KEY_MAX || e->body_len > PROFILE_CACHE_BODY_MAX
        || lock(t) != 0)
        return -1;
    slot = find(t, hash, key, (apr_uint32_t)key_len);
    fresh = slot == NO_SLOT;
    if (fresh)
        slot = free_slot(t, now);
    m = &meta_of(t)[slot];
    write_begin(t);
    if (!fresh)
        t->body_bytes -= m->body_len;
    m->hash = hash;
    __atomic_store_n(&m->last_used, (apr_uint64_t)now, __ATOMIC_RELAXED);
    m->fetched_at = e->fetched_at;
    m->expires_at = e->expires_at;
    m->stale_until = e->stale_until;
    m->etag = e->etag;
    m->status = e->status;
    m->tier = e->tier;
    m->key_len = (apr_uint32_t)key_len;
    m->body_len = (apr_uint32_t)e->body_len;
    memcpy(m->key, key, key_len);
    if (e->body_len)
        memcpy(body_of(t, slot), e->body, e->body_len);
    t->body_bytes += e->body_len;
    if (fresh) {
        index_insert(t, hash, slot);
        t->entries++;
    }
    write_end(t);
    unlock(t);
    return 0;
}

int profile_cache_table_delete(profile_cache_table_t *t, const char *key)
{
    apr_size_t key_len = strlen(key);
    apr_uint32_t slot;

    if (!key_len || key_len > PROFILE_CACHE_KEY_MAX || lock(t) != 0)
        return 0;
    slot = find(t, key_hash(key, key_len), key, (apr_uint32_t)key_len);
    if (slot != NO_SLOT)
        remove_slot(t, slot);
    unlock(t);
    return slot != NO_SLOT;
}

apr_uint32_t profile_cache_table_clear_expired(profile_cache_table_t *t, apr_time_t now)
{
    slot_meta_t *meta = meta_of(t);
    apr_uint32_t i, removed = 0;

    if (lock(t) != 0)
        return 0;
    /* One window per entry: readers wait for one removal at a time, not for the sweep. */
    for (i = 0; i < t->capacity; i++)
        if (meta[i].key_len && now >= meta[i].expires_at) {
            remove_slot(t, i);
            removed++;
        }
    unlock(t);
    return removed;
}

void profile_cache_table_stats(profile_cache_table_t *t, apr_time_t now,
                               profile_cache_table_stats_t *out)
{
    slot_meta_t *meta = meta_of(t);
    apr_uint32_t i;

    memset(out, 0, sizeof(*out));
    out->capacity = t->capacity;
    out->block_bytes = profile_cache_table_size(t->capacity);
    if (lock(t) != 0)
        return;
    out->entries = t->entries;
    out->body_bytes = t->body_bytes;
    out->evictions = t->evictions;
    for (i = 0; i < t->capacity; i++)
        if (meta[i].key_len && now >= meta[i].expires_at)
            out->expired++;
    unlock(t);
}
