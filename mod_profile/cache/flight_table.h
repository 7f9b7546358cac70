/* The shared-memory lease table behind single flight without Redis: one 64-bit word per slot,
 * claimed and released with compare-and-swap, so no lock is held across processes and a
 * process that dies holding a lease blocks its name only until the lease expires. Pure
 * layout code over any memory block (unit tested); flight.c puts it in shared memory. */
#ifndef PROFILE_FLIGHT_TABLE_H
#define PROFILE_FLIGHT_TABLE_H

#include <apr.h>
#include <apr_time.h>

typedef struct profile_flight_table_t profile_flight_table_t;

apr_size_t profile_flight_table_size(void);
/* Formats mem unless it already holds a table (a graceful restart keeps the leases). */
profile_flight_table_t *profile_flight_table_init(void *mem);

/* 1: the caller holds the lease of hash (a username's profile_fnv1a) until now + lease_ms,
 * *token identifies it for release; 0: a live lease of that name is someone else's; -1: the
 * name's slot holds another name's live lease, so this one cannot be tracked right now. */
int profile_flight_table_acquire(profile_flight_table_t *t, apr_uint64_t hash, apr_time_t now,
                                 int lease_ms, apr_uint64_t *token);
/* Frees the slot of hash if it still holds token (not when the lease expired and was taken). */
void profile_flight_table_release(profile_flight_table_t *t, apr_uint64_t hash,
                                  apr_uint64_t token);

#endif
