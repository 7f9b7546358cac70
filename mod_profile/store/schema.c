/* Compares the database's applied migrations with what this build needs; see schema.h. */
#include <stdlib.h>
#include <string.h>

#include "store/schema.h"

/* SQLSTATE undefined_table: the database is reachable but was never migrated. */
#define PROFILE_SQLSTATE_UNDEFINED_TABLE "42P01"

/* A newer schema than this build needs counts as current: migrations only add. */
int profile_schema_current(PGconn *conn, int *applied_version)
{
    PGresult *res = PQexecParams(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                 0, NULL, NULL, NULL, NULL, 0);
    const char *state;
    int version = 0, rc = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        version = atoi(PQgetvalue(res, 0, 0));
        rc = version >= PROFILE_SCHEMA_VERSION;
    }
    else if ((state = PQresultErrorField(res, PG_DIAG_SQLSTATE))
             && !strcmp(state, PROFILE_SQLSTATE_UNDEFINED_TABLE)) {
        rc = 0;
    }
    PQclear(res);
    if (applied_version)
        *applied_version = version;
    return rc;
}
