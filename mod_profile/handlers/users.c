/* Admin user management: GET /users, GET/PATCH/DELETE /users/{id}. Users are never removed:
 * DELETE deactivates and revokes everything the user holds, keeping the audit trail. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "store/keys.h"
#include "store/sessions.h"
#include "util/respond.h"

#define USERS_LIMIT_DEFAULT 20
#define USERS_LIMIT_MAX 100
#define ID_MAX APR_INT64_C(999999999999999999)

static json_t *cursor_json(apr_pool_t *p, apr_int64_t next)
{
    return next ? json_string(apr_psprintf(p, "%" APR_INT64_T_FMT, next)) : json_null();
}

int profile_handle_users_list(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    profile_users_query_t q;
    apr_int64_t limit, next = 0;
    apr_array_header_t *users;
    const char *role = NULL;
    json_t *list;
    PGconn *c;
    int i;

    memset(&q, 0, sizeof(q));
    q.role = PROFILE_ROLE_NONE;
    if (profile_query_int(pr, "limit", 1, USERS_LIMIT_MAX, USERS_LIMIT_DEFAULT, &limit) != 0
        || profile_query_int(pr, "cursor", 1, ID_MAX, 0, &q.after_id) != 0
        || profile_query_string(pr, "q", PROFILE_NAME_MAX, &q.q) < 0
        || profile_query_string(pr, "role", PROFILE_NAME_MAX, &role) < 0
        || profile_query_bool(pr, "active", &q.active) != 0)
        return OK;
    if (q.q && !*q.q)
        q.q = NULL;
    if (role && (q.role = profile_role_parse(role)) == PROFILE_ROLE_NONE)
        return profile_send_error(pr, HTTP_BAD_REQUEST, "invalid_parameter",
                                  json_pack("{s:s}", "parameter", "role"),
                                  "role must be admin, user or readonly");
    q.limit = (int)limit;

    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_users_list(c, p, &q, &users, &next) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "listing users");
    list = json_array();
    for (i = 0; i < users->nelts; i++)
        json_array_append_new(list, profile_user_json(p, &APR_ARRAY_IDX(users, i, profile_user_t)));
    return profile_send_json(pr, HTTP_OK, json_pack("{s:o,s:o}", "users", list, "next_cursor",
                                                    cursor_json(p, next)));
}

/* The user named by the path: OK, or DONE after a 404/503 answer. */
static int path_user(profile_request_t *pr, PGconn *c, profile_user_t *u)
{
    apr_int64_t id = profile_parse_id(apr_table_get(pr->params, "id"));
    profile_store_rc_t rc = id ? profile_users_get(c, pr->r->pool, id, u) : PROFILE_STORE_NOT_FOUND;

    if (rc == PROFILE_STORE_OK)
        return OK;
    if (rc == PROFILE_STORE_NOT_FOUND)
        profile_handler_not_found(pr, "There is no such user");
    else
        profile_handler_store_failed(pr, c, "loading a user");
    return DONE;
}

int profile_handle_user_get(profile_request_t *pr)
{
    profile_user_t u;
    PGconn *c;

    if (!(c = profile_handler_db(pr)) || path_user(pr, c, &u) != OK)
        return OK;
    return profile_send_json(pr, HTTP_OK, profile_user_json(pr->r->pool, &u));
}

/* Revokes everything a deactivated user holds: sessions, keys and access tokens. */
static profile_store_rc_t revoke_everything(PGconn *c, apr_int64_t id)
{
    profile_store_rc_t rc = profile_sessions_revoke_all(c, id);

    if (rc == PROFILE_STORE_OK)
        rc = profile_keys_revoke_user(c, id);
    if (rc == PROFILE_STORE_OK)
        rc = profile_users_void_tokens(c, id);
    return rc;
}

int profile_handle_user_update(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *body, *fields, *changes;
    const char *email, *role_name, *conflict = NULL;
    profile_role_t role = PROFILE_ROLE_NONE;
    int active = -1;
    profile_user_t u, out;
    profile_store_rc_t rc;
    PGconn *c;

    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    email = profile_field_string(p, body, "email", PROFILE_EMAIL_MAX, 0, fields);
    role_name = profile_field_string(p, body, "role", PROFILE_NAME_MAX, 0, fields);
    profile_field_bool(body, "active", 0, &active, fields);
    if (email)
        profile_check_email(fields, email);
    if (role_name && (role = profile_role_parse(role_name)) == PROFILE_ROLE_NONE)
        profile_field_problem(fields, "role", "must be admin, user or readonly");
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);

    if (!(c = profile_handler_db(pr)) || path_user(pr, c, &u) != OK)
        return OK;
    changes = json_object();
    if (email && strcmp(email, u.email) != 0)
        json_object_set_new(changes, "email", json_string(email));
    else
        email = NULL;
    if (role != PROFILE_ROLE_NONE && role != u.role)
        json_object_set_new(changes, "role", json_string(profile_role_name(role)));
    else
        role = PROFILE_ROLE_NONE;
    if (active >= 0 && !active != !u.active)
        json_object_set_new(changes, "active", json_boolean(active));
    else
        active = -1;
    if (!json_object_size(changes)) {
        json_decref(changes);
        return profile_send_json(pr, HTTP_OK, profile_user_json(p, &u));
    }

    rc = profile_users_update(c, p, u.id, email, role, active, &out, &conflict);
    if (rc == PROFILE_STORE_CONFLICT) {
        json_decref(changes);
        return profile_send_error(pr, HTTP_CONFLICT, "conflict",
                                  json_pack("{s:s}", "field", "email"),
                                  "An account with this email already exists");
    }
    if (rc == PROFILE_STORE_OK && active == 0)
        rc = revoke_everything(c, u.id);
    else if (rc == PROFILE_STORE_OK && (role != PROFILE_ROLE_NONE || active == 1))
        rc = profile_users_void_tokens(c, u.id);
    if (rc != PROFILE_STORE_OK) {
        json_decref(changes);
        return profile_handler_store_failed(pr, c, "updating a user");
    }
    profile_handler_audit(pr, c, "user_changed", u.id, NULL,
                          json_pack("{s:o}", "changes", changes));
    return profile_send_json(pr, HTTP_OK, profile_user_json(p, &out));
}

int profile_handle_user_delete(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    profile_user_t u, out;
    const char *conflict = NULL;
    PGconn *c;

    if (!(c = profile_handler_db(pr)) || path_user(pr, c, &u) != OK)
        return OK;
    out = u;
    if ((u.active && profile_users_update(c, p, u.id, NULL, PROFILE_ROLE_NONE, 0, &out, &conflict)
                         != PROFILE_STORE_OK)
        || revoke_everything(c, u.id) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "deactivating a user");
    profile_handler_audit(pr, c, "user_deleted", u.id, NULL,
                          json_pack("{s:s}", "username", u.username));
    return profile_send_json(pr, HTTP_OK, profile_user_json(p, &out));
}
