/* API keys: GET /auth/api-keys, POST /auth/api-keys/generate, /auth/api-keys/revoke and
 * /auth/api-keys/{id}/rotate. Admins manage every key, others their own. */
#include <apr_strings.h>
#include <string.h>
#include <strings.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "auth/apikey.h"
#include "auth/crypto.h"
#include "store/keys.h"
#include "util/respond.h"

#define MAX_SCOPE_ENTRIES 32
#define CREATE_ATTEMPTS 3   /* a fresh random id colliding is rare; twice in a row is a fault */

static json_t *key_json(apr_pool_t *p, const profile_key_t *k)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(k->id));
    json_object_set_new(o, "prefix", json_string(apr_pstrcat(p, PROFILE_APIKEY_PREFIX, k->id,
                                                              NULL)));
    json_object_set_new(o, "name", json_string(k->name));
    json_object_set_new(o, "owner", json_pack("{s:I,s:s?}", "id", (json_int_t)k->user_id,
                                              "username", k->owner_username));
    json_object_set_new(o, "scopes", profile_scopes_json(p, k->scopes));
    json_object_set_new(o, "created_at", profile_time_json(p, k->created_at));
    json_object_set_new(o, "last_used_at", profile_time_json(p, k->last_used_at));
    json_object_set_new(o, "expires_at", profile_time_json(p, k->expires_at));
    json_object_set_new(o, "revoked_at", profile_time_json(p, k->revoked_at));
    json_object_set_new(o, "rate_limit",
                        k->rate_limit_requests > 0
                            ? json_pack("{s:i,s:i}", "requests", k->rate_limit_requests,
                                        "window_s", k->rate_limit_window_s)
                            : json_null());
    return o;
}

int profile_handle_keys_list(profile_request_t *pr)
{
    const profile_principal_t *who = pr->principal;
    int admin = profile_principal_is_admin(who), i;
    apr_array_header_t *keys;
    json_t *list = json_array();
    PGconn *c;

    /* A service key owns nothing: without the admin scope it sees no keys. */
    if (!admin && !who->user_id)
        return profile_send_json(pr, HTTP_OK, json_pack("{s:o}", "keys", list));
    if (!(c = profile_handler_db(pr))) {
        json_decref(list);
        return OK;
    }
    if (profile_keys_list(c, pr->r->pool, admin ? 0 : who->user_id, &keys) != PROFILE_STORE_OK) {
        json_decref(list);
        return profile_handler_store_failed(pr, c, "listing API keys");
    }
    for (i = 0; i < keys->nelts; i++)
        json_array_append_new(list, key_json(pr->r->pool,
                                             &APR_ARRAY_IDX(keys, i, profile_key_t)));
    return profile_send_json(pr, HTTP_OK, json_pack("{s:o}", "keys", list));
}

/* The scopes array of the body: 1 with *out set, 0 when absent, -1 with a problem. */
static int scopes_field(apr_pool_t *p, json_t *body, unsigned *out, json_t *fields)
{
    json_t *v = json_object_get(body, "scopes"), *item;
    size_t i;

    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_SCOPE_ENTRIES) {
        profile_field_problem(fields, "scopes", "must be a list of 1 to 32 scope names");
        return -1;
    }
    json_array_foreach(v, i, item) {
        unsigned bit = json_is_string(item) ? profile_scope_bit(json_string_value(item)) : 0;

        if (!bit) {
            profile_field_problem(fields, "scopes",
                                  json_is_string(item) && json_string_length(item) <= 64
                                      ? apr_psprintf(p, "'%s' is not a scope",
                                                     json_string_value(item))
                                      : "must hold only scope names");
            return -1;
        }
        *out |= bit;
    }
    return 1;
}

/* The optional rate_limit object: its values, or -1/-1 for none. */
static void rate_limit_field(json_t *body, int *requests, int *window_s, json_t *fields)
{
    json_t *v = json_object_get(body, "rate_limit");
    json_int_t n = -1, w = -1;

    *requests = *window_s = -1;
    if (!v || json_is_null(v))
        return;
    if (!json_is_object(v)) {
        profile_field_problem(fields, "rate_limit", "must be {\"requests\":n,\"window_s\":s}");
        return;
    }
    if (profile_field_int(v, "requests", 1, 1000000, PROFILE_FIELD_REQUIRED, &n, fields) == 1
        && profile_field_int(v, "window_s", 1, 86400, PROFILE_FIELD_REQUIRED, &w, fields) == 1) {
        *requests = (int)n;
        *window_s = (int)w;
    }
}

static json_t *scope_list_detail(apr_pool_t *p, const char *name, unsigned scopes)
{
    return json_pack("{s:o}", name, profile_scopes_json(p, scopes));
}

/* The owner a new key gets: NULL after an answer was sent. */
static profile_user_t *key_owner(profile_request_t *pr, PGconn *c, const char *owner)
{
    const profile_principal_t *who = pr->principal;
    profile_user_t *u = apr_pcalloc(pr->r->pool, sizeof(*u));
    profile_store_rc_t rc;

    if (owner && !profile_principal_is_admin(who)
        && (!who->username || strcasecmp(owner, who->username) != 0)) {
        profile_send_error(pr, HTTP_FORBIDDEN, "forbidden", NULL,
                           "Only admins can create keys for other users");
        return NULL;
    }
    rc = owner ? profile_users_find_login(c, pr->r->pool, owner, u)
               : profile_users_get(c, pr->r->pool, who->user_id, u);
    if (rc == PROFILE_STORE_ERROR) {
        profile_handler_store_failed(pr, c, "loading a key owner");
        return NULL;
    }
    if (rc != PROFILE_STORE_OK || !u->active) {
        json_t *fields = json_object();

        profile_field_problem(fields, "owner", rc != PROFILE_STORE_OK ? "is not a user"
                                                                      : "is deactivated");
        profile_send_validation(pr, fields);
        return NULL;
    }
    return u;
}

int profile_handle_keys_generate(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const profile_principal_t *who = pr->principal;
    json_t *body, *fields, *answer;
    const char *name, *owner, *key = NULL, *id = NULL;
    unsigned scopes, allowed;
    json_int_t days = 0;
    int has_scopes, rl_requests, rl_window_s, attempt;
    profile_user_t *u;
    profile_key_t k;
    profile_store_rc_t rc = PROFILE_STORE_CONFLICT;
    PGconn *c;

    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    name = profile_field_string(p, body, "name", PROFILE_NAME_MAX, PROFILE_FIELD_REQUIRED, fields);
    if (name && !*name)
        profile_field_problem(fields, "name", "must not be empty");
    has_scopes = scopes_field(p, body, &scopes, fields);
    profile_field_int(body, "expires_in_days", 1, 3650, 0, &days, fields);
    rate_limit_field(body, &rl_requests, &rl_window_s, fields);
    owner = profile_field_string(p, body, "owner", PROFILE_NAME_MAX, 0, fields);
    if (!owner && !who->user_id)
        profile_field_problem(fields, "owner", "is required for service keys (they own nothing)");
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    if (has_scopes && !profile_scopes_cover(who->scopes, scopes))
        return profile_send_error(pr, HTTP_FORBIDDEN, "forbidden",
                                  scope_list_detail(p, "required_scopes", scopes & ~who->scopes),
                                  "A key cannot have scopes its creator does not hold");

    if (!(c = profile_handler_db(pr)) || !(u = key_owner(pr, c, owner)))
        return OK;
    allowed = profile_role_scopes(u->role);
    if (!has_scopes)
        scopes = (who->scopes & PROFILE_SCOPE_ADMIN ? PROFILE_SCOPE_ALL : who->scopes) & allowed;
    if (!scopes || !profile_scopes_cover(allowed, scopes)) {
        fields = json_object();
        profile_field_problem(fields, "scopes",
                              apr_psprintf(p, "must be within what the owner's role (%s) grants",
                                           profile_role_name(u->role)));
        return profile_send_validation(pr, fields);
    }
    for (attempt = 0; attempt < CREATE_ATTEMPTS && rc == PROFILE_STORE_CONFLICT; attempt++) {
        if (!(key = profile_apikey_generate(p, &id)))
            return profile_handler_internal(pr, "drawing a random API key");
        rc = profile_keys_create(c, id, u->id, name, profile_sha256_hex(p, key, strlen(key)),
                                 scopes, days ? apr_time_now() + apr_time_from_sec(days * 86400)
                                              : 0,
                                 rl_requests, rl_window_s);
    }
    if (rc == PROFILE_STORE_CONFLICT)
        return profile_handler_internal(pr, "finding a free API key id");
    if (rc != PROFILE_STORE_OK || profile_keys_get(c, p, id, &k) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "creating an API key");
    profile_handler_audit(pr, c, "key_generated", u->id, NULL,
                          json_pack("{s:s,s:s,s:o}", "key_id", id, "name", name, "scopes",
                                    profile_scopes_json(p, scopes)));
    answer = key_json(p, &k);
    json_object_set_new(answer, "key", json_string(key));
    return profile_send_json(pr, HTTP_CREATED, answer);
}

/* Loads key id when the caller may manage it: OK, or DONE after a 404/503 answer. */
static int manageable_key(profile_request_t *pr, PGconn *c, const char *id, profile_key_t *k)
{
    const profile_principal_t *who = pr->principal;
    profile_store_rc_t rc = PROFILE_STORE_NOT_FOUND;

    if (id && strlen(id) == PROFILE_APIKEY_ID_LEN
        && id[strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")] == '\0')
        rc = profile_keys_get(c, pr->r->pool, id, k);
    if (rc == PROFILE_STORE_ERROR) {
        profile_handler_store_failed(pr, c, "loading an API key");
        return DONE;
    }
    if (rc != PROFILE_STORE_OK
        || (!profile_principal_is_admin(who) && (!who->user_id || k->user_id != who->user_id))) {
        profile_handler_not_found(pr, "There is no such API key");
        return DONE;
    }
    return OK;
}

int profile_handle_keys_revoke(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    json_t *body, *fields;
    const char *id;
    profile_key_t k;
    PGconn *c;

    if (!(body = profile_handler_body(pr)))
        return OK;
    fields = json_object();
    id = profile_field_string(p, body, "key_id", PROFILE_NAME_MAX, PROFILE_FIELD_REQUIRED, fields);
    if (json_object_size(fields))
        return profile_send_validation(pr, fields);
    json_decref(fields);
    if (!(c = profile_handler_db(pr)) || manageable_key(pr, c, id, &k) != OK)
        return OK;
    if (profile_keys_revoke(c, id) != PROFILE_STORE_OK
        || profile_keys_get(c, p, id, &k) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "revoking an API key");
    profile_handler_audit(pr, c, "key_revoked", k.user_id, NULL,
                          json_pack("{s:s}", "key_id", id));
    return profile_send_json(pr, HTTP_OK, key_json(p, &k));
}

int profile_handle_keys_rotate(profile_request_t *pr)
{
    apr_pool_t *p = pr->r->pool;
    const char *id = apr_table_get(pr->params, "id"), *key;
    int grace_s = profile_auth_key_rotation_grace_s(&pr->sconf->auth);
    apr_time_t now = apr_time_now();
    profile_store_rc_t rc;
    profile_key_t k;
    json_t *answer;
    PGconn *c;

    if (!(c = profile_handler_db(pr)) || manageable_key(pr, c, id, &k) != OK)
        return OK;
    if (!(key = profile_apikey_generate_for(p, id)))
        return profile_handler_internal(pr, "drawing a random API key");
    /* NOT_FOUND: the key is revoked (the store refuses to rotate it). */
    rc = k.revoked_at ? PROFILE_STORE_NOT_FOUND
                      : profile_keys_rotate(c, id, profile_sha256_hex(p, key, strlen(key)),
                                            grace_s);
    if (rc == PROFILE_STORE_NOT_FOUND)
        return profile_send_error(pr, HTTP_CONFLICT, "conflict", NULL,
                                  "This key is revoked; generate a new one");
    if (rc != PROFILE_STORE_OK || profile_keys_get(c, p, id, &k) != PROFILE_STORE_OK)
        return profile_handler_store_failed(pr, c, "rotating an API key");
    profile_handler_audit(pr, c, "key_rotated", k.user_id, NULL,
                          json_pack("{s:s,s:i}", "key_id", id, "grace_s", grace_s));
    answer = key_json(p, &k);
    json_object_set_new(answer, "key", json_string(key));
    json_object_set_new(answer, "previous_valid_until",
                        profile_time_json(p, k.previous_valid_until
                                                 ? k.previous_valid_until
                                                 : now + apr_time_from_sec(grace_s)));
    return profile_send_json(pr, HTTP_OK, answer);
}
