/* Per-process PostgreSQL connection pool (a locked LIFO of idle PGconn).
 * A handle is used by one thread at a time: it is checked out for a request (or a
 * background thread's pool) and given back by a cleanup on r->pool (or that pool); a broken
 * handle is closed instead of returned. */
#ifndef PROFILE_PG_POOL_H
#define PROFILE_PG_POOL_H

#include <libpq-fe.h>
#include "profile.h"

typedef struct profile_db_pool_t profile_db_pool_t;

typedef struct {
    int in_use;
    int idle;
    int max;
    int down;                  /* the last connect attempt failed and back-off is running */
} profile_db_pool_stats_t;

/* Made in child_init from the server's configuration; closed with pool p. */
profile_db_pool_t *profile_db_pool_create(apr_pool_t *p, server_rec *s, const char *conninfo,
                                          int min, int max, int timeout_s);

/* A connection for request r, returned to the pool when r->pool is cleared.
 * NULL when the database is unreachable or the pool stays exhausted for timeout_s;
 * *retry_after_s then says when to try again. */
PGconn *profile_db_acquire(profile_db_pool_t *pool, request_rec *r, int *retry_after_s);

/* Tells the pool that conn failed mid-request: it is closed instead of returned. */
void profile_db_mark_broken(profile_db_pool_t *pool, request_rec *r, PGconn *conn);

/* The same for threads without a request: the connection is bound to p (returned when p is
 * cleared or destroyed) and log lines go to the pool's server. p must be destroyed before
 * the pool's own pool (a subpool of it is). */
PGconn *profile_db_acquire_pool(profile_db_pool_t *pool, apr_pool_t *p, int *retry_after_s);
void profile_db_mark_broken_pool(profile_db_pool_t *pool, apr_pool_t *p, PGconn *conn);

void profile_db_pool_stats(profile_db_pool_t *pool, profile_db_pool_stats_t *out);

#endif
