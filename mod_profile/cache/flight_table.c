/* The shared-memory lease table (see flight_table.h).
 *
 * A name has exactly one slot, hash % FLIGHT_SLOTS, so two claimants of one name always race
 * for the same word and the compare-and-swap picks one winner: no lock, no probe sequence to
 * keep consistent. A slot's word is 0 when free, else
 *     expires (ms since the epoch, 44 bits) << 20 | tag (20 bits of the hash the slot index
 *     does not use),
 * so one load tells whether the lease is live and, almost surely, whose name it is; the word
 * of a new lease is also its token. A lease that expired is taken over by a compare-and-swap
 * from the word that showed it expired, and a release is a compare-and-swap from the token to
 * 0: a holder whose lease expired and was taken over finds another word and changes nothing.
 * Tokens do not repeat within a slot while a lease can be live (a take-over only happens at or
 * after the old expiry, and the new expiry is later still).
 *
 * Two names sharing a slot: the second cannot be tracked while the first's lease is live (-1;
 * the caller fetches anyway, as when the store fails). With 16384 slots and tens of fetches
 * in flight that is well under one acquire in a hundred. Two names sharing slot and tag (one
 * in 2^20 of those) read as the same name: the second waits for the first's fetch. */
#include <string.h>
#include "cache/flight_table.h"

/* "PFLIGHT" with the layout version in the low byte: bump it when the layout changes. */
#define FLIGHT_MAGIC 0x50464c4947485401ULL
#define FLIGHT_SLOTS 16384
#define TAG_BITS 20
#define TAG_MASK ((APR_UINT64_C(1) << TAG_BITS) - 1)
#define EXPIRES_MAX ((APR_UINT64_C(1) << (64 - TAG_BITS)) - 1)

struct profile_flight_table_t {
    apr_uint64_t magic;
    apr_uint64_t slots[FLIGHT_SLOTS];
};

apr_size_t profile_flight_table_size(void)
{
    return sizeof(profile_flight_table_t);
}

profile_flight_table_t *profile_flight_table_init(void *mem)
{
    profile_flight_table_t *t = mem;

    if (t->magic != FLIGHT_MAGIC) {
        memset(t, 0, sizeof(*t));
        t->magic = FLIGHT_MAGIC;
    }
    return t;
}

static apr_uint64_t tag_of(apr_uint64_t hash)
{
    return (hash >> (64 - TAG_BITS)) & TAG_MASK;
}

static apr_uint64_t *slot_of(profile_flight_table_t *t, apr_uint64_t hash)
{
    return &t->slots[hash % FLIGHT_SLOTS];
}

static apr_uint64_t ms_of(apr_time_t t)
{
    apr_uint64_t ms = t > 0 ? (apr_uint64_t)t / 1000 : 0;

    return ms > EXPIRES_MAX ? EXPIRES_MAX : ms;
}

int profile_flight_table_acquire(profile_flight_table_t *t, apr_uint64_t hash, apr_time_t now,
                                 int lease_ms, apr_uint64_t *token)
{
    apr_uint64_t *slot = slot_of(t, hash);
    apr_uint64_t now_ms = ms_of(now);
    apr_uint64_t mine = ms_of(now + (apr_time_t)(lease_ms > 0 ? lease_ms : 1) * 1000)
                        << TAG_BITS | tag_of(hash);
    apr_uint64_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

    for (;;) {
        if (cur && cur >> TAG_BITS > now_ms)
            return (cur & TAG_MASK) == tag_of(hash) ? 0 : -1;
        /* Free or expired: ours if nobody changed it since we looked (else look again). */
        if (__atomic_compare_exchange_n(slot, &cur, mine, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            *token = mine;
            return 1;
        }
    }
}

void profile_flight_table_release(profile_flight_table_t *t, apr_uint64_t hash,
                                  apr_uint64_t token)
{
    __atomic_compare_exchange_n(slot_of(t, hash), &token, 0, 0, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}
