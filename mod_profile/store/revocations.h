/* The revocation feed: every revoked token jti, revoked or rotated key and voided user is
 * appended here, so each process can catch up with one cheap query a second instead of a
 * database lookup per request. */
#ifndef PROFILE_STORE_REVOCATIONS_H
#define PROFILE_STORE_REVOCATIONS_H

#include "store/store.h"

typedef enum {
    PROFILE_REVOKED_JTI,       /* subject: a jti; until: the token's exp */
    PROFILE_REVOKED_KEY,       /* subject: a key id (revoked or rotated: drop cached copies) */
    PROFILE_REVOKED_USER       /* subject: a user id; tokens issued before `at` are void */
} profile_revocation_kind_t;

typedef struct {
    apr_int64_t seq;
    profile_revocation_kind_t kind;
    const char *subject;
    apr_time_t at;             /* when it was recorded */
    apr_time_t until;          /* JTI: when the entry can be forgotten; else 0 */
} profile_revocation_t;

profile_store_rc_t profile_revocations_add(PGconn *c, profile_revocation_kind_t kind,
                                           const char *subject, apr_time_t until);
/* Entries with seq > after, oldest first, at most limit. */
profile_store_rc_t profile_revocations_since(PGconn *c, apr_pool_t *p, apr_int64_t after, int limit,
                                             apr_array_header_t **out /* of profile_revocation_t */);
/* The newest seq (0 when empty): where a fresh process starts. Live JTI revocations older than
 * that are loaded with profile_revocations_live_jtis. */
profile_store_rc_t profile_revocations_head(PGconn *c, apr_int64_t *seq);
profile_store_rc_t profile_revocations_live_jtis(PGconn *c, apr_pool_t *p, apr_time_t now,
                                                 apr_array_header_t **out /* of profile_revocation_t */);

#endif
