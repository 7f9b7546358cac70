/* Pieces shared by the account, key, user and audit handlers: the request's database
 * connection, store failures, body field readers that collect validation problems, query
 * parameters, the user JSON, token answers and audit events. */
#ifndef PROFILE_HANDLER_UTIL_H
#define PROFILE_HANDLER_UTIL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "routes/request.h"
#include "auth/identity.h"
#include "store/store.h"
#include "store/users.h"

#define PROFILE_NAME_MAX 64        /* key names, login names of a lockout, query strings */
#define PROFILE_USER_AGENT_MAX 256

/* The database connection of the request, or NULL once a 503 answer has been sent. */
PGconn *profile_handler_db(profile_request_t *pr);

/* After PROFILE_STORE_ERROR from `what`: logs libpq's message, drops the connection when it
 * is no longer usable, answers 503. */
int profile_handler_store_failed(profile_request_t *pr, PGconn *c, const char *what);

/* 500 for our own fault (a failed RNG, hash or signature), logged. */
int profile_handler_internal(profile_request_t *pr, const char *what);

/* 503 "busy" with Retry-After: 1, when every password hashing slot is taken. */
int profile_handler_busy(profile_request_t *pr);

/* 404 not_found with message. */
int profile_handler_not_found(profile_request_t *pr, const char *message);

/* The body as a JSON object (an empty one when there is no body); NULL after a 400 answer
 * when the body is some other JSON value. */
json_t *profile_handler_body(profile_request_t *pr);

/* Field readers. A problem with a field is added to fields ({"name":["message",…]});
 * absent (or null) optional fields are no problem. */
#define PROFILE_FIELD_REQUIRED 0x1
#define PROFILE_FIELD_CONTROL  0x2   /* control characters allowed (passwords) */

/* The string, at most max_chars characters; NULL when absent or invalid. */
const char *profile_field_string(apr_pool_t *p, json_t *body, const char *name,
                                 apr_size_t max_chars, int flags, json_t *fields);
/* 1 with *out set, 0 when absent, -1 when invalid. */
int profile_field_int(json_t *body, const char *name, json_int_t min, json_int_t max, int flags,
                      json_int_t *out, json_t *fields);
int profile_field_bool(json_t *body, const char *name, int flags, int *out, json_t *fields);
void profile_field_problem(json_t *fields, const char *name, const char *message);
/* 400 validation_failed with details {"fields":fields} (stolen). */
int profile_send_validation(profile_request_t *pr, json_t *fields);

/* Adds the problems of username / email to fields (nothing when they are valid). */
void profile_check_username(json_t *fields, const char *username);
void profile_check_email(json_t *fields, const char *email);
/* Adds every rule of the server's password policy that password breaks. */
void profile_check_password(profile_request_t *pr, json_t *fields, const char *password,
                            const char *username);

/* Query parameters. profile_query_param returns the raw (still escaped) value of the first
 * name=value in args, "" for a bare name, NULL when absent. */
char *profile_query_param(apr_pool_t *p, const char *args, const char *name);
/* Decoded value of at most max_chars: 1 with *value set, 0 absent, -1 after a 400
 * invalid_parameter answer. */
int profile_query_string(profile_request_t *pr, const char *name, apr_size_t max_chars,
                         const char **value);
/* An integer in min..max (def when absent): 0, or -1 after a 400 answer. */
int profile_query_int(profile_request_t *pr, const char *name, apr_int64_t min, apr_int64_t max,
                      apr_int64_t def, apr_int64_t *out);
/* true|false|1|0 (-1 when absent): 0, or -1 after a 400 answer. */
int profile_query_bool(profile_request_t *pr, const char *name, int *out);

/* The canonical TikTok username of raw (a path segment): 0 with *username set, or -1 after a
 * 400 invalid_username answer that says what is wrong. */
int profile_handler_tiktok_username(profile_request_t *pr, const char *raw,
                                    const char **username);

/* A positive decimal id (path segment, cursor); 0 when s is not one. */
apr_int64_t profile_parse_id(const char *s);

/* ISO 8601 timestamp or null for 0. */
json_t *profile_time_json(apr_pool_t *p, apr_time_t t);
/* ["profiles:read", …] */
json_t *profile_scopes_json(apr_pool_t *p, unsigned scopes);
/* {"id","username","email","role","active","created_at","updated_at"} */
json_t *profile_user_json(apr_pool_t *p, const profile_user_t *u);

/* Whether the request's principal holds the admin scope. */
int profile_principal_is_admin(const profile_principal_t *principal);

/* The client's User-Agent as printable ASCII of at most PROFILE_USER_AGENT_MAX bytes, or NULL. */
const char *profile_handler_user_agent(profile_request_t *pr);

/* Records an audit event for the request (ip, user agent, request id; principal defaults
 * to the request's). details is stolen. A failure is logged, never answered. */
void profile_handler_audit(profile_request_t *pr, PGconn *c, const char *event,
                           apr_int64_t user_id, const char *principal, json_t *details);

/* Issues an access token for u in session family_id and answers 200
 * {"access_token","token_type","expires_in","refresh_token"}. */
int profile_send_tokens(profile_request_t *pr, const profile_user_t *u, const char *family_id,
                        const char *refresh_token);

#endif
