/* Small libpq helpers shared by the store/ files: running a statement, mapping its outcome to
 * profile_store_rc_t, and converting values to and from text parameters and columns.
 * No httpd calls: store functions return codes and their callers log. */
#ifndef PROFILE_PG_UTIL_H
#define PROFILE_PG_UTIL_H

#include "store/store.h"

/* SQL for a timestamptz column as epoch microseconds (NULL stays NULL). */
#define PROFILE_PG_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
/* SQL for parameter $n (epoch microseconds as text) as a timestamptz. */
#define PROFILE_PG_TS(n) "to_timestamp($" #n "::bigint / 1e6)"

/* Buffer size for a formatted 64-bit integer parameter. */
#define PROFILE_PG_NUM_LEN 24

/* Runs sql with n text parameters (NULL entries are SQL NULL). Never returns NULL: an
 * allocation failure in libpq comes back as a PGresult of status PGRES_FATAL_ERROR. */
PGresult *profile_pg_exec(PGconn *c, const char *sql, int n, const char *const *params);

/* OK when res has status want; CONFLICT for a unique violation, NOT_FOUND for a foreign-key
 * violation (the referenced row is missing), ERROR otherwise. Does not clear res. */
profile_store_rc_t profile_pg_rc(const PGresult *res, ExecStatusType want);
/* profile_pg_rc for a statement whose result is not needed; clears res. */
profile_store_rc_t profile_pg_done(PGresult *res, ExecStatusType want);
/* The violated constraint's name on CONFLICT, "" when libpq does not say. */
const char *profile_pg_constraint(const PGresult *res);
/* Rows a command touched (UPDATE/DELETE/INSERT), from PQcmdTuples. */
int profile_pg_affected(const PGresult *res);

/* Parameters: v in buf as decimal text. The time form gives NULL for 0 (SQL NULL). */
const char *profile_pg_int64_param(char buf[PROFILE_PG_NUM_LEN], apr_int64_t v);
const char *profile_pg_time_param(char buf[PROFILE_PG_NUM_LEN], apr_time_t t);

/* Client-supplied text (a User-Agent) for a text parameter: at most size - 1 bytes of s in
 * buf, cut at a character boundary, with control characters and bytes that are not UTF-8
 * replaced by '?', so the database never refuses the statement over them. NULL for NULL. */
const char *profile_pg_clean_text(char *buf, apr_size_t size, const char *s);
/* Buffer size for a stored User-Agent (longer ones are cut). */
#define PROFILE_PG_USER_AGENT_MAX 512
/* 1 when s is valid UTF-8 (the database refuses anything else). */
int profile_pg_utf8_valid(const char *s);

/* Columns: NULL reads as 0 (times, numbers) or NULL (strings, copied into p). */
apr_int64_t profile_pg_int64(const PGresult *res, int row, int col);
apr_time_t profile_pg_time(const PGresult *res, int row, int col);
int profile_pg_bool(const PGresult *res, int row, int col);
const char *profile_pg_str(apr_pool_t *p, const PGresult *res, int row, int col);

/* Transactions for multi-statement operations: begin, commit (ERROR when the commit fails)
 * and roll back whatever is open (after an error; harmless when nothing is). */
profile_store_rc_t profile_pg_begin(PGconn *c);
profile_store_rc_t profile_pg_commit(PGconn *c);
void profile_pg_rollback(PGconn *c);

#endif
