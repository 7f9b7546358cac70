/* Accounts and sessions: POST /auth/register, /auth/login, /auth/refresh, /auth/logout. */
#include <apr_random.h>
#include <apr_strings.h>
#include <string.h>
#include <strings.h>

#include "auth/authn.h"
#include "auth/crypto.h"
#include "auth/hash_gate.h"
#include "auth/password.h"
#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "store/audit.h"
#include "store/revocations.h"
#include "store/sessions.h"
#include "util/respond.h"

#define REFRESH_TOKEN_LEN 43
#define REFRESH_TOKEN_MAX 128
#define LOGIN_PASSWORD_MAX 1024    /* longer ones cannot have been registered */
#define REGISTER_PASSWORD_MAX 4096 /* beyond the policy's bound: still reported as too long */
#define ACCESS_LIFETIME_MAX 86400  /* the longest ProfileAccessTokenLifetime */

static int signing_unconfigured(profile_request_t *pr)
{
    return profile_send_unavailable(pr, 60, "token signing is not configured");
}

int profile_handle_auth_register(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    profile_auth_config_t *auth = &pr->sconf->auth;
    json_t *body, *fields;
    const char *username, *email, *password, *hash, *conflict = NULL;
    profile_user_t user;
    profile_store_rc_t rc;
    PGconn *c;

    if (!profile_auth_registration_open(auth))
        return profile_send_error(pr, HTTP_FORBIDDEN, "registration_closed", NULL,
                                  "Registration is closed on this server");
    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    username = profile_field_string(p, body, "username", PROFILE_USERNAME_MAX * 4,
                                    PROFILE_FIELD_REQUIRED, fields);
    email = profile_field_string(p, body, "email", PROFILE_EMAIL_MAX, PROFILE_FIELD_REQUIRED,
                                 fields);
    password = profile_field_string(p, body, "password", REGISTER_PASSWORD_MAX,
                                    PROFILE_FIELD_REQUIRED | PROFILE_FIELD_CONTROL, fields);
    if (username)
        profile_check_username(fields, username);
    if (email)
        profile_check_email(fields, email);
    if (password)
        profile_check_password(pr, fields, password, username ? username : "");
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);

    if (!profile_hash_gate_enter())
        return profile_handler_busy(pr);
    hash = profile_password_hash(p, password, &auth->argon2);
    profile_hash_gate_leave();
    if (!hash)
        return profile_handler_internal(pr, "hashing a password");

    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_users_create(c, p, username, email, hash, PROFILE_ROLE_USER, &user, &conflict);
    if (rc == PROFILE_STORE_CONFLICT) {
        conflict = conflict ? conflict : "username";
        return profile_send_error(pr, HTTP_CONFLICT, "conflict",
                                  json_pack("{s:s}", "field", conflict),
                                  strcmp(conflict, "email") == 0
                                      ? "An account with this email already exists"
                                      : "This username is taken");
    }
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "creating a user");
    profile_handler_audit(pr, c, "register", user.id,
                          apr_pstrcat(p, "user:", user.username, NULL), NULL);
    return profile_send_json(pr, HTTP_CREATED, profile_user_json(p, &user));
}

/* 32 hex characters naming a refresh-token family; NULL if the RNG fails. */
static const char *new_family_id(apr_pool_t *p)
{
    unsigned char raw[16];
    char *hex = apr_palloc(p, 2 * sizeof(raw) + 1);
    apr_size_t i;

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS)
        return NULL;
    for (i = 0; i < sizeof(raw); i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

/* A new session family for u and the token answer. */
static int start_session(profile_request_t *pr, PGconn *c, const profile_user_t *u)
{
    apr_pool_t *p = pr->r->pool;
    const char *family = new_family_id(p);
    const char *token = profile_random_base62(p, REFRESH_TOKEN_LEN);
    apr_time_t expires = apr_time_now()
                         + apr_time_from_sec(profile_auth_refresh_lifetime_s(&pr->sconf->auth));

    if (!family || !token)
        return profile_handler_internal(pr, "drawing random session tokens");
    if (profile_sessions_create(c, family, u->id, profile_sha256_hex(p, token, strlen(token)),
                                expires, pr->r->useragent_ip, profile_handler_user_agent(pr))
        != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "creating a session");
    profile_handler_audit(pr, c, "login_success", u->id,
                          apr_pstrcat(p, "user:", u->username, NULL),
                          json_pack("{s:s}", "session_id", family));
    return profile_send_tokens(pr, u, family, token);
}

/* Counts a failed login for name (lower-cased), audits it and answers 401. */
static int login_failed(profile_request_t *pr, PGconn *c, const char *name,
                        const profile_user_t *u, const char *reason)
{
    profile_auth_config_t *auth = &pr->sconf->auth;
    int locked_now = 0;
    int lock_s = profile_auth_lockout_lock_s(auth);

    if (profile_lockout_fail(c, name, profile_auth_lockout_attempts(auth),
                             profile_auth_lockout_window_s(auth), lock_s, &locked_now)
        != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "counting a failed login");
    profile_handler_audit(pr, c, "login_failure", u ? u->id : 0, NULL,
                          json_pack("{s:s,s:s}", "name", name, "reason", reason));
    if (locked_now)
        profile_handler_audit(pr, c, "lockout", u ? u->id : 0, NULL,
                              json_pack("{s:s,s:i}", "name", name, "lock_s", lock_s));
    return profile_send_error(pr, HTTP_UNAUTHORIZED, "invalid_credentials", NULL,
                              "The name or the password is wrong");
}

/* Brings the stored hash up to the configured parameters; a busy gate or failure only
 * postpones it to a later login. */
static void rehash(profile_request_t *pr, PGconn *c, const profile_user_t *u,
                   const char *password)
{
    profile_auth_config_t *auth = &pr->sconf->auth;
    const char *hash;

    if (!profile_password_needs_rehash(u->password_hash, &auth->argon2)
        || !profile_hash_gate_enter())
        return;
    hash = profile_password_hash(pr->r->pool, password, &auth->argon2);
    profile_hash_gate_leave();
    if (hash && profile_users_set_password(c, u->id, hash) != PROFILE_STORE_OK)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, pr->r, APLOGNO(10673)
                      "storing the rehashed password of user %" APR_INT64_T_FMT " failed: %.*s",
                      u->id, (int)strcspn(PQerrorMessage(c), "\r\n"), PQerrorMessage(c));
}

int profile_handle_auth_login(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    profile_auth_config_t *auth = &pr->sconf->auth;
    json_t *body, *fields;
    const char *name, *password, *lname, *stored;
    profile_user_t user, *u = &user;
    profile_store_rc_t rc;
    int locked_for_s = 0, verified;
    PGconn *c;

    if (!auth->jwt)
        return signing_unconfigured(pr);
    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    name = profile_field_string(p, body, "username", PROFILE_EMAIL_MAX, 0, fields);
    if (!name && !json_object_size(fields))
        name = profile_field_string(p, body, "email", PROFILE_EMAIL_MAX, 0, fields);
    if ((!name || !*name) && !json_object_size(fields))
        profile_field_problem(fields, "username", "is required (a username or an email)");
    password = profile_field_string(p, body, "password", LOGIN_PASSWORD_MAX,
                                    PROFILE_FIELD_REQUIRED | PROFILE_FIELD_CONTROL, fields);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    lname = apr_pstrdup(p, name);
    ap_str_tolower((char *)lname);

    if (!(c = profile_handler_db(pr)))
        return OK;
    if (profile_lockout_check(c, lname, &locked_for_s) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "checking a login lockout");
    if (locked_for_s > 0) {
        apr_table_setn(pr->r->err_headers_out, "Retry-After", apr_itoa(p, locked_for_s));
        return profile_send_error(pr, HTTP_TOO_MANY_REQUESTS, "too_many_attempts",
                                  json_pack("{s:i}", "retry_after_s", locked_for_s),
                                  "Too many failed logins for this name; try again later");
    }
    rc = profile_users_find_login(c, p, name, &user);
    if (rc == PROFILE_STORE_NOT_FOUND)
        u = NULL;
    else if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "looking up a user");

    /* Unknown names cost one verification too, so timing does not tell them apart. */
    stored = u ? u->password_hash : auth->dummy_hash;
    if (!profile_hash_gate_enter())
        return profile_handler_busy(pr);
    verified = stored && profile_password_verify(stored, password);
    profile_hash_gate_leave();

    if (!u)
        return login_failed(pr, c, lname, NULL, "unknown_name");
    if (!verified)
        return login_failed(pr, c, lname, u, "wrong_password");
    if (!u->active)
        return login_failed(pr, c, lname, u, "inactive");
    if (profile_lockout_clear(c, lname) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "clearing a login lockout");
    rehash(pr, c, u, password);
    return start_session(pr, c, u);
}

static int invalid_refresh(profile_request_t *pr, const char *description)
{
    profile_authn_failure_t why = { HTTP_UNAUTHORIZED, "invalid_token", description, 0 };

    profile_authn_challenge(pr->r, &why);
    return profile_send_error(pr, HTTP_UNAUTHORIZED, "invalid_token", NULL, "%s", description);
}

/* The refresh token from the body, else from Authorization: Bearer. */
static const char *refresh_token(profile_request_t *pr, json_t *body, json_t *fields)
{
    /* Any length is read (the body limit bounds it): a wrong one is an invalid token. */
    const char *token = profile_field_string(pr->r->pool, body, "refresh_token",
                                             APR_SIZE_MAX, 0, fields);
    const char *authz = apr_table_get(pr->r->headers_in, "Authorization");

    if (token || json_object_size(fields))
        return token;
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        for (token = authz + 7; *token == ' '; token++)
            ;
        return token;
    }
    profile_field_problem(fields, "refresh_token",
                          "is required (in the body or as Authorization: Bearer)");
    return NULL;
}

int profile_handle_auth_refresh(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *body, *fields;
    const char *token, *next, *family = NULL;
    apr_int64_t user_id = 0;
    profile_refresh_result_t result;
    profile_user_t user;
    profile_store_rc_t rc;
    apr_size_t len;
    PGconn *c;

    if (!pr->sconf->auth.jwt)
        return signing_unconfigured(pr);
    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    token = refresh_token(pr, body, fields);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    len = strlen(token);
    if (len < REFRESH_TOKEN_LEN || len > REFRESH_TOKEN_MAX
        || token[strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789")] != '\0')
        return invalid_refresh(pr, "not a refresh token");
    if (!(next = profile_random_base62(p, REFRESH_TOKEN_LEN)))
        return profile_handler_internal(pr, "drawing a random refresh token");

    if (!(c = profile_handler_db(pr)))
        return OK;
    rc = profile_sessions_rotate(
        c, p, profile_sha256_hex(p, token, len), profile_sha256_hex(p, next, strlen(next)),
        apr_time_now() + apr_time_from_sec(profile_auth_refresh_lifetime_s(&pr->sconf->auth)),
        pr->r->useragent_ip, profile_handler_user_agent(pr), &result, &user_id, &family);
    if (rc != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "rotating a refresh token");
    if (result == PROFILE_REFRESH_REUSED) {
        profile_handler_audit(pr, c, "refresh_reuse", user_id, NULL,
                              json_pack("{s:s?}", "session_id", family));
        return invalid_refresh(pr, "refresh token was already used; the session is revoked");
    }
    if (result != PROFILE_REFRESH_ROTATED)
        return invalid_refresh(pr, "refresh token is unknown, expired or revoked");
    rc = profile_users_get(c, p, user_id, &user);
    if (rc == PROFILE_STORE_ERROR)
        return profile_handler_store_failed(pr, c, "loading a user");
    if (rc != PROFILE_STORE_OK || !user.active) {
        if (profile_sessions_revoke(c, user_id, family) == PROFILE_STORE_ERROR)
            return profile_handler_store_failed(pr, c, "revoking a session");
        return invalid_refresh(pr, "the account is deactivated");
    }
    profile_handler_audit(pr, c, "refresh", user.id, apr_pstrcat(p, "user:", user.username, NULL),
                          json_pack("{s:s}", "session_id", family));
    return profile_send_tokens(pr, &user, family, next);
}

int profile_handle_auth_logout(profile_request_t *pr)
{
    const profile_principal_t *who = pr->principal;
    apr_array_header_t *sessions;
    apr_time_t until;
    int all, revoked = 0;
    profile_store_rc_t rc;
    PGconn *c;

    if (who->kind != PROFILE_PRINCIPAL_USER)
        return profile_send_error(pr, HTTP_BAD_REQUEST, "not_a_session", NULL,
                                  "Only an access token can log out; API keys are revoked "
                                  "with POST /auth/api-keys/revoke");
    if (profile_query_bool(pr, "all", &all) != 0)
        return OK;
    if (!(c = profile_handler_db(pr)))
        return OK;
    until = who->expires ? who->expires : apr_time_now() + apr_time_from_sec(ACCESS_LIFETIME_MAX);
    if (who->jti && profile_revocations_add(c, PROFILE_REVOKED_JTI, who->jti, until)
                    != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "revoking an access token");
    if (all == 1) {
        if (profile_sessions_list(c, pr->r->pool, who->user_id, &sessions) != PROFILE_STORE_OK
            || profile_sessions_revoke_all(c, who->user_id) != PROFILE_STORE_OK
            || profile_users_void_tokens(c, who->user_id) != PROFILE_STORE_OK)
            return profile_handler_store_failed(pr, c, "revoking every session");
        revoked = sessions->nelts;
    }
    else if (who->session_id) {
        rc = profile_sessions_revoke(c, who->user_id, who->session_id);
        if (rc == PROFILE_STORE_ERROR)
            return profile_handler_store_failed(pr, c, "revoking a session");
        revoked = rc == PROFILE_STORE_OK;
    }
    profile_handler_audit(pr, c, "logout", who->user_id, NULL,
                          json_pack("{s:b,s:s?,s:i}", "all", all == 1, "session_id",
                                    who->session_id, "sessions_revoked", revoked));
    return profile_send_json(pr, HTTP_OK, json_pack("{s:b,s:i}", "logged_out", 1,
                                                    "sessions_revoked", revoked));
}
