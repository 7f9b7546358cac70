/* `migrate` and `migrate --status`: each file of the migrations directory is applied once, in
 * version order, in its own transaction, and recorded with its checksum in schema_migrations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profilectl.h"

/* Session advisory lock held while migrating: the ASCII bytes of "profile" as a bigint. */
#define LOCK_KEY "31651020176714853"
#define SQLSTATE_UNDEFINED_TABLE "42P01"

#define CREATE_TABLE \
    "CREATE TABLE IF NOT EXISTS schema_migrations (" \
    " version int PRIMARY KEY," \
    " name text NOT NULL," \
    " checksum text NOT NULL," \
    " applied_at timestamptz NOT NULL DEFAULT now())"

/* Column 0 version, 1 checksum, 2 applied_at as text in UTC, 3 name. */
#define SELECT_APPLIED \
    "SELECT version, checksum," \
    " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', name" \
    " FROM schema_migrations ORDER BY version"

static PGresult *exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
    return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

static void print_failure(PGconn *conn, const PGresult *res, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    if (*msg)
        fprintf(stderr, "profilectl: %s failed: %s", what, msg);
    else
        fprintf(stderr, "profilectl: %s failed: unexpected %s\n", what,
                PQresStatus(PQresultStatus(res)));
}

/* Clears res; on a status other than want prints what failed with libpq's message. */
static int done(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
    int ok = PQresultStatus(res) == want;
    if (!ok)
        print_failure(conn, res, what);
    PQclear(res);
    return ok ? 0 : -1;
}

/* The row of version in the applied list, or -1. */
static int applied_row(const PGresult *applied, int version)
{
    int i, rows = applied ? PQntuples(applied) : 0;
    for (i = 0; i < rows; i++)
        if (atoi(PQgetvalue(applied, i, 0)) == version)
            return i;
    return -1;
}

static int newest_applied(const PGresult *applied)
{
    int rows = applied ? PQntuples(applied) : 0;
    return rows ? atoi(PQgetvalue(applied, rows - 1, 0)) : 0;
}

/* The rows of schema_migrations; with missing_ok a missing table gives *applied = NULL. */
static int load_applied(PGconn *conn, PGresult **applied, int missing_ok)
{
    PGresult *res = exec(conn, SELECT_APPLIED, 0, NULL);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    *applied = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        *applied = res;
        return 0;
    }
    if (missing_ok && state && !strcmp(state, SQLSTATE_UNDEFINED_TABLE)) {
        PQclear(res);
        return 0;
    }
    return done(conn, res, PGRES_TUPLES_OK, "reading schema_migrations");
}

/* 1 when m's file still has the checksum recorded in row, 0 when it changed, -1 on error. */
static int checksum_matches(PGconn *conn, const profile_ctl_migration_t *m,
                            const PGresult *applied, int row)
{
    char err[512];
    char *text = profile_ctl_read_file(m->path, PROFILE_CTL_FILE_MAX, err, sizeof(err));
    const char *params[2];
    PGresult *res;
    int rc;

    if (!text) {
        fprintf(stderr, "profilectl: %s\n", err);
        return -1;
    }
    params[0] = text;
    params[1] = PQgetvalue(applied, row, 1);
    res = exec(conn, "SELECT md5($1) = $2", 2, params);
    free(text);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return done(conn, res, PGRES_TUPLES_OK, "computing a checksum");
    rc = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

static int take_lock(PGconn *conn)
{
    const char *params[1] = { LOCK_KEY };
    PGresult *res = exec(conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, params);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't') {
        PQclear(res);
        return 0;
    }
    if (done(conn, res, PGRES_TUPLES_OK, "taking the migration lock") != 0)
        return -1;
    fprintf(stderr, "profilectl: waiting for another profilectl migrate to finish...\n");
    return done(conn, exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, params),
                PGRES_TUPLES_OK, "taking the migration lock");
}

/* Runs the text of m inside the open transaction. */
static int run_file(PGconn *conn, const profile_ctl_migration_t *m, const char *text)
{
    PGresult *res = PQexec(conn, text); /* migration files are trusted multi-statement SQL */
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        print_failure(conn, res, m->path);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        fprintf(stderr, "profilectl: %s ended the transaction itself (COMMIT or ROLLBACK in the "
                "file): what ran before that may be committed, and the migration is not "
                "recorded; remove the transaction commands, check the database by hand and run "
                "migrate again\n", m->path);
        return -1;
    }
    return 0;
}

/* Runs one file and records it with its checksum, all in one transaction. */
static int apply(PGconn *conn, const profile_ctl_migration_t *m)
{
    char err[512], version[16];
    char *text = profile_ctl_read_file(m->path, PROFILE_CTL_FILE_MAX, err, sizeof(err));
    const char *params[3];
    int rc = -1;

    if (!text) {
        fprintf(stderr, "profilectl: %s\n", err);
        return -1;
    }
    snprintf(version, sizeof(version), "%d", m->version);
    params[0] = version;
    params[1] = m->name;
    params[2] = text;
    if (done(conn, exec(conn, "BEGIN", 0, NULL), PGRES_COMMAND_OK, "BEGIN") == 0
        && run_file(conn, m, text) == 0
        && done(conn, exec(conn, "INSERT INTO schema_migrations (version, name, checksum)"
                                 " VALUES ($1::int, $2, md5($3))", 3, params),
                PGRES_COMMAND_OK, "recording the migration") == 0)
        rc = done(conn, exec(conn, "COMMIT", 0, NULL), PGRES_COMMAND_OK, "COMMIT");
    if (rc != 0 && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(exec(conn, "ROLLBACK", 0, NULL));
    free(text);
    return rc;
}

/* Every applied file must be unchanged before anything new is applied. */
static int verify_applied(PGconn *conn, const profile_ctl_migration_t *list, size_t n,
                          const PGresult *applied)
{
    size_t i;
    int row, rc;
    for (i = 0; i < n; i++) {
        if ((row = applied_row(applied, list[i].version)) < 0)
            continue;
        if ((rc = checksum_matches(conn, &list[i], applied, row)) < 0)
            return -1;
        if (rc == 0) {
            fprintf(stderr, "profilectl: %s was changed after it was applied on %s; applied "
                    "migrations must not change: restore it and add a new migration instead\n",
                    list[i].path, PQgetvalue(applied, row, 2));
            return -1;
        }
    }
    return 0;
}

int profile_ctl_migrate(PGconn *conn, const profile_ctl_migration_t *list, size_t n)
{
    PGresult *applied = NULL;
    int version, rc = PROFILE_CTL_EXIT_FAILURE;
    size_t i;

    if (take_lock(conn) != 0
        || done(conn, exec(conn, CREATE_TABLE, 0, NULL), PGRES_COMMAND_OK,
                "creating schema_migrations") != 0
        || load_applied(conn, &applied, 0) != 0)
        return PROFILE_CTL_EXIT_FAILURE;
    if (verify_applied(conn, list, n, applied) != 0)
        goto out;
    version = newest_applied(applied);
    for (i = 0; i < n; i++) {
        if (applied_row(applied, list[i].version) >= 0)
            continue;
        if (apply(conn, &list[i]) != 0)
            goto out;
        printf("applied %s\n", list[i].name);
        fflush(stdout);
        if (list[i].version > version)
            version = list[i].version;
    }
    printf("schema is current (version %d)\n", version);
    rc = PROFILE_CTL_EXIT_OK;
out:
    PQclear(applied);
    return rc;
}

/* The state of one file as --status prints it; 1 when it changed since it was applied. */
static int print_status(PGconn *conn, const profile_ctl_migration_t *m, const PGresult *applied,
                        int width, int *pending)
{
    int row = applied_row(applied, m->version), same;

    if (row < 0) {
        printf("%-*s  pending\n", width, m->name);
        (*pending)++;
        return 0;
    }
    if ((same = checksum_matches(conn, m, applied, row)) < 0)
        return -1;
    printf("%-*s  %s %s\n", width, m->name, same ? "applied" : "CHANGED since it was applied",
           PQgetvalue(applied, row, 2));
    return same ? 0 : 1;
}

static int has_file(const profile_ctl_migration_t *list, size_t n, int version)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (list[i].version == version)
            return 1;
    return 0;
}

int profile_ctl_migrate_status(PGconn *conn, const profile_ctl_migration_t *list, size_t n)
{
    PGresult *applied = NULL;
    int width = 0, pending = 0, changed = 0, rows, row, rc;
    size_t i;

    if (load_applied(conn, &applied, 1) != 0)
        return PROFILE_CTL_EXIT_FAILURE;
    rows = applied ? PQntuples(applied) : 0;
    for (i = 0; i < n; i++)
        if ((int)strlen(list[i].name) > width)
            width = (int)strlen(list[i].name);
    for (row = 0; row < rows; row++)
        if ((int)strlen(PQgetvalue(applied, row, 3)) > width)
            width = (int)strlen(PQgetvalue(applied, row, 3));
    for (i = 0; i < n; i++) {
        if ((rc = print_status(conn, &list[i], applied, width, &pending)) < 0) {
            PQclear(applied);
            return PROFILE_CTL_EXIT_FAILURE;
        }
        changed += rc;
    }
    for (row = 0; row < rows; row++)
        if (!has_file(list, n, atoi(PQgetvalue(applied, row, 0))))
            printf("%-*s  applied %s (no such file in the migrations directory)\n", width,
                   PQgetvalue(applied, row, 3), PQgetvalue(applied, row, 2));
    printf("schema version %d, %d pending\n", newest_applied(applied), pending);
    if (changed)
        fprintf(stderr, "profilectl: %d applied migration file(s) changed since they were "
                "applied\n", changed);
    PQclear(applied);
    return changed ? PROFILE_CTL_EXIT_FAILURE : PROFILE_CTL_EXIT_OK;
}
