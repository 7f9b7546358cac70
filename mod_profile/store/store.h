/* Result codes shared by every store/ function. All SQL lives in store/ and goes through
 * PQexecParams; callers pass a connection checked out from the pool. On
 * PROFILE_STORE_ERROR the caller marks the connection broken if PQstatus says so. */
#ifndef PROFILE_STORE_H
#define PROFILE_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <libpq-fe.h>

typedef enum {
    PROFILE_STORE_OK = 0,
    PROFILE_STORE_NOT_FOUND,
    PROFILE_STORE_CONFLICT,    /* a unique constraint: *conflict_field names it where offered */
    PROFILE_STORE_ERROR        /* the database failed: log PQerrorMessage, answer 503 */
} profile_store_rc_t;

/* Timestamps cross the SQL boundary as microseconds since the epoch (apr_time_t);
 * 0 means NULL. */

#endif
