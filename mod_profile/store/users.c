/* The users table; see users.h. */
#include <apr_strings.h>
#include <apr_tables.h>
#include <string.h>

#include "store/pg_util.h"
#include "store/users.h"

/* tokens_valid_after defaults to -infinity, which has no epoch value: read it as 0. */
#define USER_COLUMNS \
    "id, username, email, password_hash, role, active, " \
    PROFILE_PG_US("created_at") ", " PROFILE_PG_US("updated_at") ", " \
    PROFILE_PG_US("greatest(tokens_valid_after, 'epoch')")

#define SELECT_USER "SELECT " USER_COLUMNS " FROM users "

#define LIST_MAX 100

static void read_user(apr_pool_t *p, const PGresult *res, int row, profile_user_t *u)
{
    u->id = profile_pg_int64(res, row, 0);
    u->username = profile_pg_str(p, res, row, 1);
    u->email = profile_pg_str(p, res, row, 2);
    u->password_hash = profile_pg_str(p, res, row, 3);
    u->role = profile_role_parse(PQgetvalue(res, row, 4));
    u->active = profile_pg_bool(res, row, 5);
    u->created_at = profile_pg_time(res, row, 6);
    u->updated_at = profile_pg_time(res, row, 7);
    u->tokens_valid_after = profile_pg_time(res, row, 8);
}

/* One user row out of res (cleared): NOT_FOUND when there is none. */
static profile_store_rc_t one_user(apr_pool_t *p, PGresult *res, ExecStatusType want,
                                   profile_user_t *out, const char **conflict_field)
{
    profile_store_rc_t rc = profile_pg_rc(res, want);

    if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    else if (rc == PROFILE_STORE_OK && out)
        read_user(p, res, 0, out);
    else if (rc == PROFILE_STORE_CONFLICT && conflict_field)
        *conflict_field = strstr(profile_pg_constraint(res), "email") ? "email" : "username";
    PQclear(res);
    return rc;
}

/* NULL for PROFILE_ROLE_NONE (SQL NULL: unchanged or any). */
static const char *role_param(profile_role_t role)
{
    return role == PROFILE_ROLE_NONE ? NULL : profile_role_name(role);
}

static const char *bool_param(int v)
{
    return v < 0 ? NULL : (v ? "true" : "false");
}

profile_store_rc_t profile_users_create(PGconn *c, apr_pool_t *p, const char *username,
                                        const char *email, const char *password_hash,
                                        profile_role_t role, profile_user_t *out,
                                        const char **conflict_field)
{
    const char *params[4] = { username, email, password_hash, role_param(role) };

    return one_user(p, profile_pg_exec(c,
                        "INSERT INTO users (username, email, password_hash, role)"
                        " VALUES ($1, $2, $3, coalesce($4, 'user'))"
                        " RETURNING " USER_COLUMNS, 4, params),
                    PGRES_TUPLES_OK, out, conflict_field);
}

profile_store_rc_t profile_users_get(PGconn *c, apr_pool_t *p, apr_int64_t id, profile_user_t *out)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, id) };

    return one_user(p, profile_pg_exec(c, SELECT_USER "WHERE id = $1", 1, params),
                    PGRES_TUPLES_OK, out, NULL);
}

/* Emails hold an '@' and usernames cannot (see the schema), so at most one row matches; the
 * ORDER BY only makes that explicit. */
profile_store_rc_t profile_users_find_login(PGconn *c, apr_pool_t *p, const char *name,
                                            profile_user_t *out)
{
    const char *params[1] = { name };

    return one_user(p, profile_pg_exec(c, SELECT_USER
                        "WHERE lower(username) = lower($1) OR lower(email) = lower($1)"
                        " ORDER BY lower(username) = lower($1) DESC LIMIT 1", 1, params),
                    PGRES_TUPLES_OK, out, NULL);
}

profile_store_rc_t profile_users_set_password(PGconn *c, apr_int64_t id, const char *password_hash)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[2] = { profile_pg_int64_param(b, id), password_hash };
    PGresult *res = profile_pg_exec(c, "UPDATE users SET password_hash = $2, updated_at = now()"
                                       " WHERE id = $1", 2, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK && profile_pg_affected(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    PQclear(res);
    return rc;
}

profile_store_rc_t profile_users_update(PGconn *c, apr_pool_t *p, apr_int64_t id, const char *email,
                                        profile_role_t role, int active, profile_user_t *out,
                                        const char **conflict_field)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[4] = { profile_pg_int64_param(b, id), email, role_param(role),
                              bool_param(active) };

    return one_user(p, profile_pg_exec(c,
                        "UPDATE users SET email = coalesce($2, email),"
                        " role = coalesce($3, role), active = coalesce($4::boolean, active),"
                        " updated_at = now() WHERE id = $1 RETURNING " USER_COLUMNS, 4, params),
                    PGRES_TUPLES_OK, out, conflict_field);
}

/* The new limit and the feed entry in one statement, so a process that sees the entry reads
 * the same instant (its `at`) as the column holds. */
profile_store_rc_t profile_users_void_tokens(PGconn *c, apr_int64_t id)
{
    char b[PROFILE_PG_NUM_LEN];
    const char *params[1] = { profile_pg_int64_param(b, id) };
    PGresult *res = profile_pg_exec(c,
        "WITH u AS (UPDATE users SET tokens_valid_after = now() WHERE id = $1 RETURNING id)"
        " INSERT INTO revocations (kind, subject, at) SELECT 'user', id::text, now() FROM u",
        1, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_COMMAND_OK);

    if (rc == PROFILE_STORE_OK && profile_pg_affected(res) == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    PQclear(res);
    return rc;
}

/* "%q%" for ILIKE, with LIKE's own characters in q taken literally. */
static const char *like_pattern(apr_pool_t *p, const char *q)
{
    char *out = apr_palloc(p, 2 * strlen(q) + 3), *o = out;

    *o++ = '%';
    for (; *q; q++) {
        if (*q == '%' || *q == '_' || *q == '\\')
            *o++ = '\\';
        *o++ = *q;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

profile_store_rc_t profile_users_list(PGconn *c, apr_pool_t *p, const profile_users_query_t *q,
                                      apr_array_header_t **users, apr_int64_t *next_cursor)
{
    char b_after[PROFILE_PG_NUM_LEN], b_limit[PROFILE_PG_NUM_LEN];
    int limit = q->limit < 1 ? 1 : (q->limit > LIST_MAX ? LIST_MAX : q->limit);
    const char *params[5] = { profile_pg_int64_param(b_after, q->after_id),
                              q->q ? like_pattern(p, q->q) : NULL, role_param(q->role),
                              bool_param(q->active), profile_pg_int64_param(b_limit, limit + 1) };
    PGresult *res;
    profile_store_rc_t rc;
    int i, rows;

    *users = apr_array_make(p, limit, sizeof(profile_user_t));
    *next_cursor = 0;
    /* The database would refuse the statement; no name contains such a q. */
    if (q->q && !profile_pg_utf8_valid(q->q))
        return PROFILE_STORE_OK;
    res = profile_pg_exec(c, SELECT_USER
        "WHERE id > $1 AND ($2::text IS NULL OR username ILIKE $2 OR email ILIKE $2)"
        " AND ($3::text IS NULL OR role = $3) AND ($4::boolean IS NULL OR active = $4)"
        " ORDER BY id LIMIT $5", 5, params);
    rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    if (rc == PROFILE_STORE_OK) {
        rows = PQntuples(res);
        for (i = 0; i < rows && i < limit; i++)
            read_user(p, res, i, apr_array_push(*users));
        /* The extra row only says that there is a next page: it starts after the last shown. */
        if (rows > limit)
            *next_cursor = APR_ARRAY_IDX(*users, limit - 1, profile_user_t).id;
    }
    PQclear(res);
    return rc;
}
