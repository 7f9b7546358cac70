/* Session-level advisory locks; see advisory.h. */
#include <string.h>

#include "store/advisory.h"
#include "store/pg_util.h"

profile_store_rc_t profile_store_try_advisory_lock(PGconn *c, apr_int64_t key, int *got)
{
    char buf[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(buf, key) };
    PGresult *res = profile_pg_exec(c, "SELECT pg_try_advisory_lock($1::bigint)", 1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK)
        *got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}
