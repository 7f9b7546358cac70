/* A bounded "seen before?" set of 64-bit ids: remembers the last `capacity` distinct ids (a
 * ring gives the order of eviction, an open-addressing hash table the look-up), so a tiktok
 * session emits each upstream message once even when a reconnect's fetch re-sends it. */
#ifndef LIVE_DEDUP_H
#define LIVE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct live_dedup live_dedup_t;

/* capacity ≥ 1 (ids remembered). NULL when out of memory. */
live_dedup_t *live_dedup_new(size_t capacity);
void live_dedup_free(live_dedup_t *d);

/* 1 when key is among the ids remembered (nothing changes); otherwise remembers it (forgetting
 * the oldest when full) and returns 0. */
int live_dedup_seen(live_dedup_t *d, uint64_t key);

/* The key of an event id: its value when it is a decimal number that fits 64 bits, else a
 * 64-bit hash of the text. */
uint64_t live_dedup_key(const char *id);

#endif
