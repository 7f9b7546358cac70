/* The profile read path: shared cache layer → PostgreSQL → TikTok (one fetch at a time per
 * username across processes), then the avatar tiers, and storing the answer in both layers.
 * Expired entries are served stale while one background refresh runs (worker.h). */
#ifndef PROFILE_RESOLVE_H
#define PROFILE_RESOLVE_H

#include "routes/request.h"
#include "cache/cache_entry.h"

typedef enum {
    PROFILE_ANSWER_HIT,        /* fresh, from the shared cache layer */
    PROFILE_ANSWER_STALE,      /* expired but servable; a refresh was started */
    PROFILE_ANSWER_STORED,     /* from PostgreSQL */
    PROFILE_ANSWER_FETCHED,    /* fetched by this request */
    PROFILE_ANSWER_COALESCED,  /* fetched by another request meanwhile */
    PROFILE_ANSWER_UNCACHED    /* made without waiting any longer for another fetch */
} profile_answer_t;

/* The entry for the canonical username (never fails: the tiers always give an answer). */
void profile_resolve(profile_request_t *pr, const char *username, profile_cache_entry_t *e,
                     profile_answer_t *how);

/* Background: fetches username again and stores the result; returns the outcome, "ok",
 * "not_found" or "fallback", with *tier (-1 for not_found). force (revalidation jobs): waits
 * for another fetch of the name to end, then fetches anyway. Otherwise (a stale entry):
 * NULL without fetching when another fetch runs or the entry is fresh again. */
const char *profile_refresh(server_rec *s, apr_pool_t *p, const char *username, int force,
                            int *tier);

/* Milliseconds a single-flight lease lasts: the whole fetch plus storing it. */
int profile_fetch_lease_ms(server_rec *s);

#endif
