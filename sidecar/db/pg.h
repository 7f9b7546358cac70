/* PostgreSQL connections of the sidecar: one per thread that needs one, never shared. */
#ifndef LIVE_PG_H
#define LIVE_PG_H

#include <libpq-fe.h>

#include "core/config.h"

/* Connects with cfg->database, connect_timeout and statement_timeout from db_timeout_ms,
 * TCP keepalives and application_name "profile-live <purpose>". NULL (logged) on failure. */
PGconn *live_pg_connect(const live_config_t *cfg, const char *purpose);
/* Reconnects a broken connection (or NULL). Returns the usable connection or NULL. */
PGconn *live_pg_ensure(PGconn *conn, const live_config_t *cfg, const char *purpose);
/* 1 when res is a success (COMMAND_OK or TUPLES_OK); otherwise logs what failed and 0. */
int live_pg_ok(PGresult *res, const char *what);

#endif
