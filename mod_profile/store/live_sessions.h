/* Live capture sessions (sql/004_live_sessions.sql) as mod_profile sees them: /connect,
 * /disconnect, the session list, cleanup, the event history and the status summary. Every
 * operation is one statement (one round trip); the sidecars are woken with NOTIFY in it. */
#ifndef PROFILE_STORE_LIVE_SESSIONS_H
#define PROFILE_STORE_LIVE_SESSIONS_H

#include <apr_tables.h>
#include "store/store.h"

#define PROFILE_LIVE_ID_MAX        64   /* ^[A-Za-z0-9_-]{1,64}$ */
#define PROFILE_LIVE_LIST_MAX      500
#define PROFILE_LIVE_EVENTS_MAX    1000
#define PROFILE_LIVE_SIDECARS_MAX  100  /* rows of live_sidecars /status lists */

typedef struct {
    const char *id, *username, *source, *status;
    const char *error_reason, *error_detail;   /* NULL when none */
    const char *options;       /* the JSON object as stored (text) */
    apr_int64_t viewers, event_count, comment_count, last_offset;
    apr_time_t created_at, started_at, ended_at, last_event_at, lease_until; /* 0: NULL */
    const char *owner;         /* the sidecar id, NULL when unowned */
    const char *created_by;
} profile_live_session_t;

#define PROFILE_LIVE_STATUS_COUNT 5
/* connecting, live, stopping, ended, failed */
extern const char *const profile_live_statuses[PROFILE_LIVE_STATUS_COUNT];

/* 1 when id matches ^[A-Za-z0-9_-]{1,64}$. Pure. */
int profile_live_session_id_ok(const char *id);
/* The session id at the end of a /…/comments/<id> path (a WebSocket stream), or NULL. */
const char *profile_live_session_id_of_path(apr_pool_t *p, const char *path);
/* 1 for connecting, live, stopping, ended, failed; 1 for the event types (comment, like, gift,
 * join, follow, share, viewers, status) with the second. Pure. */
int profile_live_status_ok(const char *status);
int profile_live_event_type_ok(const char *type);

typedef enum {
    PROFILE_CONNECT_CREATED,   /* a new row */
    PROFILE_CONNECT_RESTARTED, /* the named session was ended or failed: connecting again */
    PROFILE_CONNECT_EXISTING,  /* an active session of the same username and source */
    PROFILE_CONNECT_CONFLICT   /* the named session is active for another username or source,
                                  or stopping */
} profile_connect_outcome_t;

typedef struct {
    const char *id;            /* the client's session_id, or a generated one */
    const char *username;      /* canonical */
    const char *source;        /* "tiktok" | "replay" */
    const char *options;       /* JSON object text, <= 1024 bytes */
    const char *created_by;    /* the principal */
} profile_connect_request_t;

/* /connect in one statement: decides, inserts or restarts, NOTIFY live_sessions <id> for a
 * created or restarted session, and counts the sidecars alive (not stopping, heartbeat within
 * their lease). Retried when a concurrent /connect won a race. *out is the session concerned
 * (the conflicting one for CONFLICT). */
profile_store_rc_t profile_live_connect(PGconn *c, apr_pool_t *p,
                                        const profile_connect_request_t *req,
                                        profile_connect_outcome_t *outcome,
                                        profile_live_session_t *out, int *sidecars_alive);

typedef enum {
    PROFILE_DISCONNECT_FINAL,    /* already ended or failed: unchanged */
    PROFILE_DISCONNECT_STOPPING, /* owned with a live lease: status stopping, owner notified */
    PROFILE_DISCONNECT_ENDED     /* nobody runs it: ended here, final status event written */
} profile_disconnect_outcome_t;

/* /disconnect in one statement; NOT_FOUND for an unknown id. */
profile_store_rc_t profile_live_disconnect(PGconn *c, apr_pool_t *p, const char *id,
                                           profile_disconnect_outcome_t *outcome,
                                           profile_live_session_t *out);

profile_store_rc_t profile_live_get(PGconn *c, apr_pool_t *p, const char *id,
                                    profile_live_session_t *out);

/* Newest first; statuses NULL for all. *out: array of profile_live_session_t. */
profile_store_rc_t profile_live_list(PGconn *c, apr_pool_t *p, const apr_array_header_t *statuses,
                                     int limit, apr_array_header_t **out);

/* Deletes ended and failed sessions that ended more than older_than_s ago (events go with
 * them). */
profile_store_rc_t profile_live_cleanup(PGconn *c, apr_int64_t older_than_s,
                                        apr_int64_t *removed);

/* Up to limit + 1 event bodies (as stored) of session id with offset > since, oldest first,
 * only of types when not NULL. NOT_FOUND for an unknown session. *bodies: const char *,
 * *offsets: apr_int64_t, parallel. */
profile_store_rc_t profile_live_events(PGconn *c, apr_pool_t *p, const char *id,
                                       apr_int64_t since, int limit,
                                       const apr_array_header_t *types,
                                       apr_int64_t *last_offset, apr_array_header_t **bodies,
                                       apr_array_header_t **offsets);

typedef struct {
    const char *id, *version;
    apr_time_t heartbeat_at;
    int alive, stopping;
    apr_int64_t sessions;      /* active sessions it owns */
} profile_live_sidecar_t;

/* Session counts by status (in the order of profile_live_statuses) and the sidecars, most
 * recent heartbeat first (at most PROFILE_LIVE_SIDECARS_MAX; profile_live_sidecar_t). */
profile_store_rc_t profile_live_status(PGconn *c, apr_pool_t *p,
                                       apr_int64_t counts[PROFILE_LIVE_STATUS_COUNT],
                                       apr_array_header_t **sidecars);

#endif
