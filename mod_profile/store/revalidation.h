/* Revalidation jobs: a job (uuid) holds one item per username; workers claim items with
 * FOR UPDATE SKIP LOCKED and a lease, so jobs survive restarts and no username is processed
 * by two workers at once (a unique index on running items guarantees it). */
#ifndef PROFILE_STORE_REVALIDATION_H
#define PROFILE_STORE_REVALIDATION_H

#include "store/store.h"

#define PROFILE_REVAL_MAX_ATTEMPTS 3

typedef struct {
    const char *username;
    const char *status;        /* "pending", "running", "done", "failed" */
    const char *outcome;       /* done: "ok", "not_found", "fallback"; failed: the reason;
                                  NULL while pending or running */
    int tier;                  /* profile_tier_t of an "ok"/"fallback", -1 otherwise */
    int attempts;
    apr_time_t finished_at;
} profile_reval_item_t;

typedef struct {
    const char *id;
    const char *created_by;    /* principal name */
    apr_time_t created_at;
    apr_time_t finished_at;    /* 0 while any item is pending or running */
    int total, pending, running, done, failed;
    apr_array_header_t *items; /* of profile_reval_item_t, in the order given */
} profile_reval_job_t;

/* usernames: canonical, without duplicates (const char *). *job_id: a new uuid. */
profile_store_rc_t profile_store_reval_create(PGconn *c, apr_pool_t *p, const char *created_by,
                                              const apr_array_header_t *usernames,
                                              const char **job_id);
/* NOT_FOUND for an unknown id (or one that is not a uuid). */
profile_store_rc_t profile_store_reval_get(PGconn *c, apr_pool_t *p, const char *job_id,
                                           profile_reval_job_t *out);

/* Claims the oldest pending item, or a running one whose claim is older than lease (its
 * worker died), for worker; NOT_FOUND when there is none. Items past
 * PROFILE_REVAL_MAX_ATTEMPTS are marked failed instead of being claimed again. */
profile_store_rc_t profile_store_reval_claim(PGconn *c, apr_pool_t *p, const char *worker,
                                             apr_interval_time_t lease, apr_int64_t *item_id,
                                             const char **username);
/* status "done" or "failed". */
profile_store_rc_t profile_store_reval_finish(PGconn *c, apr_int64_t item_id,
                                              const char *status, const char *outcome, int tier);

#endif
