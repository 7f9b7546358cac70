/* Session-level PostgreSQL advisory locks: a role (such as "the job poller") held by one
 * connection in the whole cluster and released by the server when that connection ends. */
#ifndef PROFILE_STORE_ADVISORY_H
#define PROFILE_STORE_ADVISORY_H

#include "store/store.h"

/* Keys of the roles (arbitrary constants, unique within the database). */
#define PROFILE_LOCK_REVALIDATION_POLLER 0x70726f66696c6501LL

/* *got = 1 when c now holds the lock (or held it already), 0 when another session does. */
profile_store_rc_t profile_store_try_advisory_lock(PGconn *c, apr_int64_t key, int *got);

#endif
