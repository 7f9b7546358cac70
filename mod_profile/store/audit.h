/* Audit log of security events, and login lockout counters. */
#ifndef PROFILE_STORE_AUDIT_H
#define PROFILE_STORE_AUDIT_H

#include <jansson.h>
#include "store/store.h"

typedef struct {
    const char *event;         /* "register", "login_success", "login_failure", "lockout",
                                  "refresh", "refresh_reuse", "logout", "key_generated",
                                  "key_rotated", "key_revoked", "user_changed", "user_deleted",
                                  "session_connected", "session_disconnected",
                                  "sessions_cleaned_up" */
    apr_int64_t user_id;       /* 0 when none */
    const char *principal;     /* who acted, NULL when anonymous */
    const char *ip, *user_agent, *request_id;
    json_t *details;           /* may be NULL; borrowed */
} profile_audit_event_t;

profile_store_rc_t profile_audit_record(PGconn *c, const profile_audit_event_t *e);

typedef struct {
    const char *event;         /* NULL: any */
    apr_int64_t user_id;       /* 0: any */
    apr_time_t since, until;   /* 0: open */
    apr_int64_t before_id;     /* cursor: ids lower than this, 0 for the newest */
    int limit;                 /* 1..100 */
} profile_audit_query_t;
/* Newest first, as JSON objects {id, at, event, user_id, principal, ip, user_agent,
 * request_id, details}; *next_cursor 0 when no further page. */
profile_store_rc_t profile_audit_list(PGconn *c, const profile_audit_query_t *q, json_t **items,
                                      apr_int64_t *next_cursor);

/* Lockout, keyed by the lower-cased login name whether or not such a user exists. */
/* Seconds the name stays locked (0 when not locked). */
profile_store_rc_t profile_lockout_check(PGconn *c, const char *name, int *locked_for_s);
/* Counts a failure; when it reaches max_failures within window_s, locks for lock_s.
 * *locked_now is 1 when this failure started a lock. */
profile_store_rc_t profile_lockout_fail(PGconn *c, const char *name, int max_failures,
                                        int window_s, int lock_s, int *locked_now);
profile_store_rc_t profile_lockout_clear(PGconn *c, const char *name);

#endif
