/* The shared-memory cache layer: a fixed number of slots, each holding one entry of at most
 * PROFILE_CACHE_BODY_MAX bytes, an open-addressing index of the slots and an LRU order.
 * Pure layout code over any memory block (unit tested); cache_shm.c puts it in shared memory
 * made once per server lifetime.
 *
 * Concurrency: writers (put, delete, clear) serialise on a process-shared robust mutex kept in
 * the block; readers take no lock: a sequence counter tells them to retry when a writer ran
 * meanwhile. A hit marks the slot used (one relaxed store); eviction takes the least recently
 * used slot. A process that dies holding the mutex leaves the table cleared, not corrupt. */
#ifndef PROFILE_CACHE_TABLE_H
#define PROFILE_CACHE_TABLE_H

#include <apr_pools.h>
#include "cache/cache_entry.h"

typedef struct profile_cache_table_t profile_cache_table_t;

typedef struct {
    apr_uint32_t entries;
    apr_uint32_t capacity;
    apr_uint64_t body_bytes;   /* sum of the stored bodies */
    apr_uint64_t block_bytes;  /* size of the whole block */
    apr_uint64_t evictions;    /* since the table was formatted */
    apr_uint32_t expired;      /* entries past expires_at right now */
} profile_cache_table_stats_t;

apr_size_t profile_cache_table_size(apr_uint32_t capacity);
/* Formats mem unless it already holds a table of this capacity (a graceful restart keeps
 * the entries). NULL when the mutex cannot be made. */
profile_cache_table_t *profile_cache_table_init(void *mem, apr_uint32_t capacity);

/* 1 with *e set (body copied into p), 0 when absent or past stale_until. */
int profile_cache_table_get(profile_cache_table_t *t, apr_pool_t *p, const char *key,
                            apr_time_t now, profile_cache_entry_t *e);
/* Inserts or replaces; evicts the least recently used entry when full. 0, or -1 when the
 * body is larger than PROFILE_CACHE_BODY_MAX or the key longer than PROFILE_CACHE_KEY_MAX. */
int profile_cache_table_put(profile_cache_table_t *t, const char *key,
                            const profile_cache_entry_t *e, apr_time_t now);
/* 1 removed, 0 absent. */
int profile_cache_table_delete(profile_cache_table_t *t, const char *key);
/* Removes every entry past expires_at; returns how many. */
apr_uint32_t profile_cache_table_clear_expired(profile_cache_table_t *t, apr_time_t now);
void profile_cache_table_stats(profile_cache_table_t *t, apr_time_t now,
                               profile_cache_table_stats_t *out);

#endif
