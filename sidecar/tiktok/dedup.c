/* The bounded id set of dedup.h: a ring of the last `capacity` ids in arrival order and a
 * linear-probing table (twice as many slots, power of two) holding ring positions + 1
 * (0 = empty). Removing the oldest id uses backward-shift deletion, so there are no
 * tombstones and look-ups stay short however long the session runs. */
#include <stdlib.h>

#include "tiktok/dedup.h"

struct live_dedup {
    uint64_t *ring;          /* ids in arrival order, cap of them */
    size_t cap, head, count; /* head: where the next id goes (the oldest when full) */
    uint32_t *slots;         /* ring index + 1, or 0 */
    size_t mask;             /* slots - 1 */
};

static size_t slot_of(const live_dedup_t *d, uint64_t key)
{
    /* splitmix64's finaliser: ids are often sequential, the table wants them spread. */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & d->mask;
}

live_dedup_t *live_dedup_new(size_t capacity)
{
    live_dedup_t *d;
    size_t n = 2;

    if (capacity < 1 || capacity > (1u << 30))
        return NULL;
    while (n < capacity * 2)
        n <<= 1;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->ring = calloc(capacity, sizeof(*d->ring));
    d->slots = calloc(n, sizeof(*d->slots));
    if (!d->ring || !d->slots) {
        live_dedup_free(d);
        return NULL;
    }
    d->cap = capacity;
    d->mask = n - 1;
    return d;
}

void live_dedup_free(live_dedup_t *d)
{
    if (!d)
        return;
    free(d->ring);
    free(d->slots);
    free(d);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const live_dedup_t *d, uint64_t key, int *found)
{
    size_t i = slot_of(d, key);

    while (d->slots[i]) {
        if (d->ring[d->slots[i] - 1] == key) {
            *found = 1;
            return i;
        }
        i = (i + 1) & d->mask;
    }
    *found = 0;
    return i;
}

/* Empties slot i and moves later entries of its probe run back into the hole. */
static void remove_slot(live_dedup_t *d, size_t i)
{
    size_t j = i;

    d->slots[i] = 0;
    for (;;) {
        size_t k;
        j = (j + 1) & d->mask;
        if (!d->slots[j])
            return;
        k = slot_of(d, d->ring[d->slots[j] - 1]);
        /* The entry at j may move to the hole at i unless its home k lies in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        d->slots[i] = d->slots[j];
        d->slots[j] = 0;
        i = j;
    }
}

int live_dedup_seen(live_dedup_t *d, uint64_t key)
{
    int found;
    size_t i = find(d, key, &found);

    if (found)
        return 1;
    if (d->count == d->cap) {                 /* forget the oldest id */
        int old_found;
        size_t o = find(d, d->ring[d->head], &old_found);
        if (old_found)
            remove_slot(d, o);
        d->count--;
        i = find(d, key, &found);             /* the hole may have moved */
    }
    d->ring[d->head] = key;
    d->slots[i] = (uint32_t)d->head + 1;
    d->head = (d->head + 1) % d->cap;
    d->count++;
    return 0;
}

uint64_t live_dedup_key(const char *id)
{
    uint64_t v = 0, h = 0xcbf29ce484222325ULL;   /* FNV-1a 64 */
    const char *p;
    int numeric = id && *id && *id != '0';

    for (p = id ? id : ""; *p; p++) {
        if (numeric) {
            if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
                numeric = 0;
            else
                v = v * 10 + (uint64_t)(*p - '0');
        }
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ULL;
    }
    if (id && id[0] == '0' && id[1] == '\0')
        return 0;
    return numeric ? v : h;
}
