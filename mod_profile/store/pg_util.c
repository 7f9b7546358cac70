/* libpq helpers shared by the store/ files; see pg_util.h. */
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_util.h"

#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define SQLSTATE_FOREIGN_KEY_VIOLATION "23503"

PGresult *profile_pg_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    return res ? res : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

profile_store_rc_t profile_pg_rc(const PGresult *res, ExecStatusType want)
{
    const char *state;

    if (PQresultStatus(res) == want)
        return PROFILE_STORE_OK;
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, SQLSTATE_UNIQUE_VIOLATION))
        return PROFILE_STORE_CONFLICT;
    if (state && !strcmp(state, SQLSTATE_FOREIGN_KEY_VIOLATION))
        return PROFILE_STORE_NOT_FOUND;
    return PROFILE_STORE_ERROR;
}

profile_store_rc_t profile_pg_done(PGresult *res, ExecStatusType want)
{
    profile_store_rc_t rc = profile_pg_rc(res, want);
    PQclear(res);
    return rc;
}

const char *profile_pg_constraint(const PGresult *res)
{
    const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    return name ? name : "";
}

int profile_pg_affected(const PGresult *res)
{
    return atoi(PQcmdTuples((PGresult *)res));
}

const char *profile_pg_int64_param(char buf[PROFILE_PG_NUM_LEN], apr_int64_t v)
{
    snprintf(buf, PROFILE_PG_NUM_LEN, "%" APR_INT64_T_FMT, v);
    return buf;
}

const char *profile_pg_time_param(char buf[PROFILE_PG_NUM_LEN], apr_time_t t)
{
    return t ? profile_pg_int64_param(buf, t) : NULL;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when it is not one. */
static apr_size_t utf8_len(const unsigned char *s)
{
    apr_size_t n, i;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff)
        || cp > 0x10ffff)
        return 0;
    return n;
}

int profile_pg_utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t n;

    while (*u) {
        if (!(n = utf8_len(u)))
            return 0;
        u += n;
    }
    return 1;
}

const char *profile_pg_clean_text(char *buf, apr_size_t size, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t n, used = 0;

    if (!s)
        return NULL;
    while (*u) {
        n = utf8_len(u);
        if (used + (n ? n : 1) >= size)
            break;
        if (n == 0 || (n == 1 && (*u < 0x20 || *u == 0x7f))) {
            buf[used++] = '?';
            u++;
            continue;
        }
        memcpy(buf + used, u, n);
        used += n;
        u += n;
    }
    buf[used] = '\0';
    return buf;
}

apr_int64_t profile_pg_int64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : apr_atoi64(PQgetvalue(res, row, col));
}

apr_time_t profile_pg_time(const PGresult *res, int row, int col)
{
    return (apr_time_t)profile_pg_int64(res, row, col);
}

int profile_pg_bool(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

const char *profile_pg_str(apr_pool_t *p, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return apr_pstrmemdup(p, PQgetvalue(res, row, col), (apr_size_t)PQgetlength(res, row, col));
}

profile_store_rc_t profile_pg_begin(PGconn *c)
{
    return profile_pg_done(profile_pg_exec(c, "BEGIN", 0, NULL), PGRES_COMMAND_OK);
}

/* A COMMIT of a failed transaction answers COMMAND_OK with tag ROLLBACK: check the tag. */
profile_store_rc_t profile_pg_commit(PGconn *c)
{
    PGresult *res = profile_pg_exec(c, "COMMIT", 0, NULL);
    profile_store_rc_t rc = PQresultStatus(res) == PGRES_COMMAND_OK
                            && !strcmp(PQcmdStatus(res), "COMMIT")
                            ? PROFILE_STORE_OK : PROFILE_STORE_ERROR;
    PQclear(res);
    return rc;
}

void profile_pg_rollback(PGconn *c)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(profile_pg_exec(c, "ROLLBACK", 0, NULL));
}
