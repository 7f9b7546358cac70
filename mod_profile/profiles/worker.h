/* Work done outside requests, in two threads per child process: one refreshes expired
 * entries that were served stale, the other processes revalidation jobs queued in PostgreSQL.
 * Only one job thread in the whole cluster polls at a time: it holds a PostgreSQL advisory
 * lock on its own connection, which the database releases when the process dies. */
#ifndef PROFILE_WORKER_H
#define PROFILE_WORKER_H

#include "profile.h"

/* child_init, after the database and curl pools exist (its cleanup stops the threads before
 * theirs run). */
void profile_worker_child_init(apr_pool_t *pchild, server_rec *s);

/* Queues a refresh of the stale entry of username, unless it is queued already. When the
 * queue is full (or no worker runs) nothing happens: a later stale answer asks again. */
void profile_worker_refresh(const char *username);

#endif
