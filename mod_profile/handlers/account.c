/* The caller's own account: GET/PATCH /auth/me, GET /auth/sessions,
 * DELETE /auth/sessions/{id}. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "auth/hash_gate.h"
#include "auth/password.h"
#include "store/sessions.h"
#include "util/respond.h"

#define SESSION_ID_LEN 32
#define PASSWORD_FIELD_MAX 4096

static const char *auth_kind(const profile_principal_t *who)
{
    switch (who->kind) {
    case PROFILE_PRINCIPAL_USER:
        return "jwt";
    case PROFILE_PRINCIPAL_API_KEY:
        return "api_key";
    default:
        return "static_key";
    }
}

int profile_handle_auth_me(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const profile_principal_t *who = pr->principal;
    json_t *me, *auth = json_pack("{s:s}", "kind", auth_kind(who));
    profile_user_t user;
    profile_store_rc_t rc;
    PGconn *c;

    if (who->kind == PROFILE_PRINCIPAL_STATIC_KEY) {
        const char *name = strncmp(who->name, "static:", 7) == 0 ? who->name + 7 : who->name;

        json_object_set_new(auth, "name", json_string(name));
        me = json_pack("{s:n,s:n,s:n,s:o,s:b,s:n,s:n}", "id", "username", "email", "role",
                       who->role != PROFILE_ROLE_NONE ? json_string(profile_role_name(who->role))
                                                      : json_null(),
                       "active", 1, "created_at", "updated_at");
    }
    else {
        if (!(c = profile_handler_db(pr))) {
            json_decref(auth);
            return OK;
        }
        rc = profile_users_get(c, p, who->user_id, &user);
        if (rc != PROFILE_STORE_OK) {
            json_decref(auth);
            return rc == PROFILE_STORE_NOT_FOUND
                       ? profile_handler_not_found(pr, "The account no longer exists")
                       : profile_handler_store_failed(pr, c, "loading a user");
        }
        me = profile_user_json(p, &user);
        if (who->kind == PROFILE_PRINCIPAL_USER)
            json_object_set_new(auth, "session_id",
                                who->session_id ? json_string(who->session_id) : json_null());
        else
            json_object_set_new(auth, "key_id", json_string(who->key_id));
    }
    json_object_set_new(me, "scopes", profile_scopes_json(p, who->scopes));
    json_object_set_new(me, "auth", auth);
    return profile_send_json(pr, HTTP_OK, me);
}

static int not_a_user(profile_request_t *pr)
{
    return profile_send_error(pr, HTTP_BAD_REQUEST, "not_a_user", NULL,
                              "Only a user's access token can change the account");
}

/* Checks current against the stored hash and hashes the new password: NULL after an answer
 * was sent (busy, wrong current password, failure). */
static const char *new_password_hash(profile_request_t *pr, const profile_user_t *u,
                                     const char *current, const char *password)
{
    const char *hash = NULL;
    int verified;

    if (!profile_hash_gate_enter()) {
        profile_handler_busy(pr);
        return NULL;
    }
    verified = profile_password_verify(u->password_hash, current);
    if (verified)
        hash = profile_password_hash(pr->r->pool, password, &pr->sconf->auth.argon2);
    profile_hash_gate_leave();
    if (!verified)
        profile_send_error(pr, HTTP_FORBIDDEN, "invalid_credentials", NULL,
                           "The current password is wrong");
    else if (!hash)
        profile_handler_internal(pr, "hashing a password");
    return hash;
}

int profile_handle_auth_me_update(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const profile_principal_t *who = pr->principal;
    json_t *body, *fields, *changed;
    const char *email, *password, *current, *hash = NULL, *conflict = NULL;
    profile_user_t user;
    profile_store_rc_t rc;
    PGconn *c;

    if (who->kind != PROFILE_PRINCIPAL_USER)
        return not_a_user(pr);
    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    email = profile_field_string(p, body, "email", PROFILE_EMAIL_MAX, 0, fields);
    password = profile_field_string(p, body, "password", PASSWORD_FIELD_MAX,
                                    PROFILE_FIELD_CONTROL, fields);
    current = profile_field_string(p, body, "current_password", PASSWORD_FIELD_MAX,
                                   PROFILE_FIELD_CONTROL | (password ? PROFILE_FIELD_REQUIRED : 0),
                                   fields);
    if (email)
        profile_check_email(fields, email);
    if (password)
        profile_check_password(pr, fields, password, who->username);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);

    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_users_get(c, p, who->user_id, &user);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "The account no longer exists");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "loading a user");
    if (password && !(hash = new_password_hash(pr, &user, current, password)))
        return OK;

    changed = json_array();
    if (email && strcmp(email, user.email) != 0) {
        rc = profile_users_update(c, p, user.id, email, PROFILE_ROLE_NONE, -1, &user, &conflict);
        if (rc == PROFILE_STORE_CONFLICT) {
            json_decref(changed);
            return profile_send_error(pr, HTTP_CONFLICT, "conflict",
                                      json_pack("{s:s}", "field", "email"),
                                      "An account with this email already exists");
        }
        if (rc != PROFILE_STORE_OK) {
            json_decref(changed);
            return profile_handler_store_failed(pr, c, "updating a user");
        }
        json_array_append_new(changed, json_string("email"));
    }
    if (hash) {
        if (profile_users_set_password(c, user.id, hash) != PROFILE_STORE_OK
            || profile_sessions_revoke_all(c, user.id) != PROFILE_STORE_OK
            || profile_users_void_tokens(c, user.id) != PROFILE_STORE_OK
            || profile_users_get(c, p, user.id, &user) != PROFILE_STORE_OK) {
            json_decref(changed);
            return profile_handler_store_failed(pr, c, "changing a password");
        }
        json_array_append_new(changed, json_string("password"));
    }
    if (json_array_size(changed))
        profile_handler_audit(pr, c, "user_changed", user.id, NULL,
                              json_pack("{s:o}", "changed", changed));
    else
        json_decref(changed);
    return profile_send_json(pr, HTTP_OK, profile_user_json(p, &user));
}

static int not_a_session(profile_request_t *pr)
{
    return profile_send_error(pr, HTTP_BAD_REQUEST, "not_a_session", NULL,
                              "Sessions belong to logins: use an access token");
}

int profile_handle_auth_sessions(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const profile_principal_t *who = pr->principal;
    apr_array_header_t *sessions;
    json_t *list;
    PGconn *c;
    int i;

    if (who->kind != PROFILE_PRINCIPAL_USER)
        return not_a_session(pr);
    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_sessions_list(c, p, who->user_id, &sessions) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "listing sessions");
    list = json_array();
    for (i = 0; i < sessions->nelts; i++) {
        const profile_session_t *s = &APR_ARRAY_IDX(sessions, i, profile_session_t);

        json_array_append_new(
            list, json_pack("{s:s,s:o,s:o,s:s?,s:s?,s:b}", "id", s->id, "created_at",
                            profile_time_json(p, s->created_at), "last_used_at",
                            profile_time_json(p, s->last_used_at), "ip", s->ip, "user_agent",
                            s->user_agent, "current",
                            who->session_id && strcmp(who->session_id, s->id) == 0));
    }
    return profile_send_json(pr, HTTP_OK, json_pack("{s:o}", "sessions", list));
}

int profile_handle_auth_session_delete(profile_request_t *pr)
{
    const profile_principal_t *who = pr->principal;
    const char *id = apr_table_get(pr->params, "id");
    profile_store_rc_t rc;
    PGconn *c;

    if (who->kind != PROFILE_PRINCIPAL_USER)
        return not_a_session(pr);
    if (!id || strlen(id) != SESSION_ID_LEN || id[strspn(id, "0123456789abcdef")] != '\0')
        return profile_handler_not_found(pr, "There is no such session");
    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_sessions_revoke(c, who->user_id, id);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_handler_not_found(pr, "There is no such session");
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "revoking a session");
    profile_handler_audit(pr, c, "logout", who->user_id, NULL,
                          json_pack("{s:s}", "session_id", id));
    pr->r->status = HTTP_NO_CONTENT;
    return OK;
}
