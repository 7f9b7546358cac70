/* Credentials → principal: static keys, database API keys and JWT access tokens, and the
 * `AuthType Profile` front end built on them. See authn.h. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <string.h>

#include "auth/authn.h"
#include "auth/apikey.h"
#include "auth/crypto.h"
#include "auth/jwt.h"
#include "auth/revocation.h"
#include "auth/token_cache.h"
#include "config/config.h"

#define OUTCOME_KEY   "profile-authn-outcome"
#define WS_API_KEY    "profile-ws-api-key"
#define DB_RETRY_S    30           /* Retry-After when no database is configured at all */

typedef struct {
    int status;
    const profile_principal_t *principal;
    profile_authn_failure_t why;
} outcome_t;

/* Subrequests and internal redirects share the outcome of the request the client sent. */
static request_rec *initial_request(request_rec *r)
{
    while (r->main || r->prev)
        r = r->main ? r->main : r->prev;
    return r;
}

static int unauthorized(profile_authn_failure_t *why, const char *error, const char *description)
{
    why->status = HTTP_UNAUTHORIZED;
    why->error = error;
    why->description = description;
    return HTTP_UNAUTHORIZED;
}

static int unavailable(profile_authn_failure_t *why, int retry_after_s, const char *description)
{
    why->status = HTTP_SERVICE_UNAVAILABLE;
    why->error = NULL;
    why->description = description;
    why->retry_after_s = retry_after_s > 0 ? retry_after_s : 1;
    return HTTP_SERVICE_UNAVAILABLE;
}

static profile_principal_t *principal_new(apr_pool_t *p, profile_principal_kind_t kind)
{
    profile_principal_t *pr = apr_pcalloc(p, sizeof(*pr));
    pr->kind = kind;
    pr->rate_limit_requests = -1;
    pr->rate_limit_window_s = -1;
    return pr;
}

/* Every configured key is compared, in constant time, whichever matches. */
static const profile_static_key_t *static_key(const profile_auth_config_t *ac, const char *hash)
{
    const profile_static_key_t *found = NULL;
    int i;
    for (i = 0; ac->static_keys && i < ac->static_keys->nelts; i++) {
        const profile_static_key_t *k = &APR_ARRAY_IDX(ac->static_keys, i, profile_static_key_t);
        if (profile_secure_equals(hash, k->hash_hex))
            found = k;
    }
    return found;
}

/* last_used_at, written by the one request per minute and process that notices it is due. */
static void touch_key(request_rec *r, profile_db_pool_t *pool, const char *id, apr_time_t now)
{
    profile_auth_conn_t ac;
    int retry;
    if (!profile_auth_conn_open(&ac, r, pool, &retry))
        return;
    if (profile_keys_touch(ac.conn, id, now) != PROFILE_STORE_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10650)
                      "cannot record the last use of key %s: %s", id, PQerrorMessage(ac.conn));
        profile_auth_conn_failed(&ac);
    }
    profile_auth_conn_close(&ac);
}

/* The key from the database (through the cache); OK, 401 or 503. */
static int lookup_key(request_rec *r, profile_db_pool_t *pool, const char *id, const char *hash,
                      apr_time_t now, profile_key_t *k, profile_authn_failure_t *why)
{
    profile_auth_db_t *db = profile_auth_db(pool);
    profile_key_cache_t *cache;
    profile_auth_conn_t ac;
    profile_store_rc_t rc;
    apr_uint64_t generation;
    apr_time_t touched;
    int retry, touch;

    if (!db)
        return unavailable(why, 1, "authentication state unavailable");
    profile_revocation_sync(db, r);
    cache = profile_auth_db_keys(db);
    if (profile_key_cache_get(cache, r->pool, hash, now, k, &touch)) {
        if (touch)
            touch_key(r, pool, k->id, now);
        return OK;
    }
    generation = profile_key_cache_generation(cache);
    if (!profile_auth_conn_open(&ac, r, pool, &retry))
        return unavailable(why, retry, "the database is unreachable");
    rc = profile_keys_lookup(ac.conn, r->pool, id, hash, k);
    if (rc == PROFILE_STORE_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10651)
                      "looking up API key %s: %s", id, PQerrorMessage(ac.conn));
        profile_auth_conn_failed(&ac);
        profile_auth_conn_close(&ac);
        return unavailable(why, 1, "the database is unreachable");
    }
    if (rc == PROFILE_STORE_NOT_FOUND) {
        profile_auth_conn_close(&ac);
        return unauthorized(why, "invalid_key", "unknown or revoked API key");
    }
    touched = k->last_used_at;
    if (now - touched >= PROFILE_KEY_TOUCH_INTERVAL) {
        if (profile_keys_touch(ac.conn, id, now) == PROFILE_STORE_OK)
            touched = now;
        else
            profile_auth_conn_failed(&ac);
    }
    profile_auth_conn_close(&ac);
    if (k->owner_active && (!k->expires_at || k->expires_at > now))
        profile_key_cache_put(cache, generation, hash, k, now, touched);
    return OK;
}

/* A key from X-API-Key (or the WebSocket api_key parameter): static, then database. */
static int key_principal(request_rec *r, const profile_server_config_t *sc, const char *key,
                         apr_time_t now, const profile_principal_t **out,
                         profile_authn_failure_t *why)
{
    const char *hash = profile_sha256_hex(r->pool, key, strlen(key));
    const profile_static_key_t *sk = static_key(&sc->auth, hash);
    profile_principal_t *p;
    profile_key_t k;
    const char *id;
    int status;

    if (sk) {
        p = principal_new(r->pool, PROFILE_PRINCIPAL_STATIC_KEY);
        p->name = apr_pstrcat(r->pool, "static:", sk->name, NULL);
        p->scopes = sk->scopes;
        p->role = (sk->scopes & PROFILE_SCOPE_ADMIN) ? PROFILE_ROLE_ADMIN : PROFILE_ROLE_USER;
        *out = p;
        return OK;
    }
    if (!profile_apikey_parse(r->pool, key, &id))
        return unauthorized(why, "invalid_key", "malformed API key");
    if (!sc->db_pool)
        return unavailable(why, DB_RETRY_S, "API keys cannot be checked: no database is configured");
    if ((status = lookup_key(r, sc->db_pool, id, hash, now, &k, why)) != OK)
        return status;
    if (k.expires_at && k.expires_at <= now)
        return unauthorized(why, "invalid_key", "API key expired");
    if (!k.owner_active)
        return unauthorized(why, "invalid_key", "the key's owner is deactivated");
    p = principal_new(r->pool, PROFILE_PRINCIPAL_API_KEY);
    p->name = apr_pstrcat(r->pool, "key:", k.id, NULL);
    p->key_id = k.id;
    p->user_id = k.user_id;
    p->username = k.owner_username;
    p->role = k.owner_role;
    p->scopes = k.scopes & profile_role_scopes(k.owner_role);
    p->expires = k.expires_at;
    p->rate_limit_requests = k.rate_limit_requests;
    p->rate_limit_window_s = k.rate_limit_window_s;
    *out = p;
    return OK;
}

/* A JWT access token from Authorization: Bearer. */
static int token_principal(request_rec *r, const profile_server_config_t *sc, const char *token,
                           apr_time_t now, const profile_principal_t **out,
                           profile_authn_failure_t *why)
{
    profile_jwt_claims_t c;
    profile_principal_t *p;
    profile_auth_db_t *db;
    profile_role_t role;
    apr_int64_t user_id;
    const char *reason;
    char *end;
    int retry;

    if (!sc->auth.jwt)
        return unauthorized(why, "invalid_token", "tokens are not accepted by this server");
    if (!profile_token_cache_get(r->pool, sc->auth.jwt, token, now, &c)) {
        if ((reason = profile_jwt_verify(r->pool, sc->auth.jwt, token, now, &c)))
            return unauthorized(why, "invalid_token", reason);
        profile_token_cache_put(sc->auth.jwt, token, &c, now);
    }
    user_id = apr_strtoi64(c.sub, &end, 10);
    role = profile_role_parse(c.role);
    if (user_id <= 0 || *end || role == PROFILE_ROLE_NONE)
        return unauthorized(why, "invalid_token", "malformed token");
    if (sc->db_pool) {
        if (!(db = profile_auth_db(sc->db_pool)))
            return unavailable(why, 1, "authentication state unavailable");
        if (!profile_revocation_sync(db, r))
            return unavailable(why, 1, "token revocations cannot be read: the database is "
                                       "unreachable");
        if (profile_revocation_jti_revoked(db, c.jti))
            return unauthorized(why, "invalid_token", "token revoked");
        switch (profile_revocation_token_void(db, r, user_id, &c, &retry)) {
        case 1:
            return unauthorized(why, "invalid_token", "token revoked");
        case -1:
            return unavailable(why, retry, "the database is unreachable");
        }
    }
    p = principal_new(r->pool, PROFILE_PRINCIPAL_USER);
    p->user_id = user_id;
    p->username = c.username;
    p->name = apr_pstrcat(r->pool, "user:", c.username ? c.username : c.sub, NULL);
    p->role = role;
    p->scopes = profile_scopes_parse(r->pool, c.scopes, NULL) & profile_role_scopes(role);
    p->jti = c.jti;
    p->session_id = c.sid;
    p->expires = c.exp;
    *out = p;
    return OK;
}

/* The token of "Authorization: Bearer <token>", "" for an empty one, NULL for none. */
static const char *bearer_token(const request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    if (!h || strncasecmp(h, "Bearer", 6) || (h[6] && h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    return h;
}

int profile_authn_has_credentials(request_rec *r)
{
    void *ws_key = NULL;
    request_rec *initial = initial_request(r);
    if (apr_table_get(initial->headers_in, "X-API-Key") || bearer_token(initial))
        return 1;
    apr_pool_userdata_get(&ws_key, WS_API_KEY, initial->pool);
    return ws_key != NULL;
}

/* r is the initial request: its pool outlives every subrequest that reuses the outcome. */
static int authenticate(request_rec *r, const profile_principal_t **out,
                        profile_authn_failure_t *why)
{
    const profile_server_config_t *sc = profile_server_config(r->server);
    const char *key = apr_table_get(r->headers_in, "X-API-Key");
    const char *token = key ? NULL : bearer_token(r);
    apr_time_t now = apr_time_now();
    void *ws_key = NULL;

    if (!key && !token) {
        apr_pool_userdata_get(&ws_key, WS_API_KEY, r->pool);
        key = ws_key;
    }
    if (key)
        return *key ? key_principal(r, sc, key, now, out, why)
                    : unauthorized(why, "invalid_key", "empty API key");
    if (token)
        return *token ? token_principal(r, sc, token, now, out, why)
                      : unauthorized(why, "invalid_token", "empty bearer token");
    return unauthorized(why, NULL, "authentication required: an X-API-Key header or an "
                                   "Authorization: Bearer token");
}

/* r->user and the notes usable in LogFormat (%u, %{profile-principal}n …). */
static void note_identity(request_rec *r, const profile_principal_t *p)
{
    r->user = (char *)p->name;
    apr_table_setn(r->notes, "profile-principal", p->name);
    apr_table_setn(r->notes, "profile-role", profile_role_name(p->role));
    if (p->key_id)
        apr_table_setn(r->notes, "profile-key-id", p->key_id);
}

int profile_authenticate(request_rec *r, const profile_principal_t **principal,
                         profile_authn_failure_t *why)
{
    request_rec *initial = initial_request(r);
    outcome_t *o = NULL;

    apr_pool_userdata_get((void **)&o, OUTCOME_KEY, initial->pool);
    if (!o) {
        o = apr_pcalloc(initial->pool, sizeof(*o));
        o->status = authenticate(initial, &o->principal, &o->why);
        apr_pool_userdata_setn(o, OUTCOME_KEY, NULL, initial->pool);
    }
    *principal = o->status == OK ? o->principal : NULL;
    *why = o->why;
    if (o->status == OK)
        note_identity(r, o->principal);
    return o->status;
}

/* error_description allows no quote, backslash or control character (RFC 6750 3). */
static const char *header_safe(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s ? s : ""), *c;
    for (c = out; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '\'';
    return out;
}

static void challenge(request_rec *r, const char *error, const char *description)
{
    const char *realm = profile_auth_realm(&profile_server_config(r->server)->auth);
    const char *v = error ? apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"%s\", "
                                                  "error_description=\"%s\"",
                                         realm, error, header_safe(r->pool, description))
                          : apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", v);
}

void profile_authn_challenge(request_rec *r, const profile_authn_failure_t *why)
{
    /* RFC 6750 error codes belong to bearer tokens; a bad key gets the plain challenge. */
    int token = why->error && !strcmp(why->error, "invalid_token");
    challenge(r, token ? why->error : NULL, why->description);
}

int profile_authn_note_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, PROFILE_AUTH_TYPE))
        return DECLINED;
    if (r->user)
        challenge(r, "insufficient_scope", "the credential lacks a role or scope required here");
    else if (!apr_table_get(r->err_headers_out, "WWW-Authenticate"))
        challenge(r, NULL, NULL);
    return OK;
}

static const char *scope_list(apr_pool_t *p, unsigned scopes)
{
    int n, i;
    const char **names = profile_scopes_names(p, scopes, &n);
    char *out = "";
    for (i = 0; i < n; i++)
        out = apr_pstrcat(p, out, i ? " " : "", names[i], NULL);
    return out;
}

int profile_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const profile_principal_t *p;
    profile_authn_failure_t why;
    const char *scopes, *role;
    int status;

    if (!type || strcasecmp(type, PROFILE_AUTH_TYPE))
        return DECLINED;
    status = profile_authenticate(r, &p, &why);
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, why.retry_after_s));
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10652)
                      "cannot authenticate: %s", why.description);
        return status;
    }
    if (status != OK) {
        profile_authn_challenge(r, &why);
        if (why.error)
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10653)
                          "authentication failed for \"%s\": %s (%s)", r->uri, why.description,
                          why.error);
        return HTTP_UNAUTHORIZED;
    }
    r->ap_auth_type = (char *)PROFILE_AUTH_TYPE;
    scopes = scope_list(r->pool, p->scopes);
    role = profile_role_name(p->role);
    apr_table_setn(r->subprocess_env, "PROFILE_PRINCIPAL", p->name);
    apr_table_setn(r->subprocess_env, "PROFILE_ROLE", role);
    apr_table_setn(r->subprocess_env, "PROFILE_SCOPES", scopes);
    apr_table_setn(r->headers_in, "X-Profile-Principal", p->name);
    apr_table_setn(r->headers_in, "X-Profile-Role", role);
    apr_table_setn(r->headers_in, "X-Profile-Scopes", scopes);
    if (p->user_id)
        apr_table_setn(r->headers_in, "X-Profile-User-Id",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, p->user_id));
    if (p->key_id) {
        apr_table_setn(r->subprocess_env, "PROFILE_KEY_ID", p->key_id);
        apr_table_setn(r->headers_in, "X-Profile-Key-Id", p->key_id);
    }
    return OK;
}

/* ---- post_read_request: identity headers and the api_key query parameter ---- */

/* X-Profile-* (and X_Profile_*, which some backends read as the same name). */
static int identity_header(const char *name)
{
    static const char prefix[] = "x-profile-";
    int i;
    for (i = 0; prefix[i]; i++) {
        char c = (char)apr_tolower(name[i]);
        if (c != prefix[i] && !(prefix[i] == '-' && c == '_'))
            return 0;
    }
    return 1;
}

void profile_strip_identity_headers(request_rec *r)
{
    for (;;) {
        const apr_array_header_t *h = apr_table_elts(r->headers_in);
        const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
        int i;
        for (i = 0; i < h->nelts && !(e[i].key && identity_header(e[i].key)); i++)
            ;
        if (i == h->nelts)
            return;
        apr_table_unset(r->headers_in, e[i].key); /* every copy, whatever its case */
    }
}

/* %XX and '+' decoded copy of s[0..len). */
static char *form_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;
    for (i = 0; i < len; i++) {
        if (s[i] == '+')
            *o++ = ' ';
        else if (s[i] == '%' && i + 2 < len && apr_isxdigit(s[i + 1])
                 && apr_isxdigit(s[i + 2])) {
            char hex[3] = { s[i + 1], s[i + 2], 0 };
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        else
            *o++ = s[i];
    }
    *o = '\0';
    return out;
}

/* The query without api_key parameters (NULL when nothing is left). *value gets the first
 * one's decoded value when value is not NULL; *removed counts them. */
static char *strip_query(apr_pool_t *p, const char *query, const char **value, int *removed)
{
    char *out = apr_palloc(p, strlen(query) + 1), *o = out;
    const char *s = query;
    while (s) {
        const char *amp = strchr(s, '&');
        apr_size_t len = amp ? (apr_size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        apr_size_t name_len = eq ? (apr_size_t)(eq - s) : len;
        if (!strcasecmp(form_decode(p, s, name_len), "api_key")) {
            if (value && !*value && eq)
                *value = form_decode(p, eq + 1, len - name_len - 1);
            (*removed)++;
        }
        else if (len > 0) {
            if (o > out)
                *o++ = '&';
            memcpy(o, s, len);
            o += len;
        }
        s = amp ? amp + 1 : NULL;
    }
    *o = '\0';
    return o > out ? out : NULL;
}

/* uri ("path?query#fragment") with api_key removed from its query. */
static const char *strip_uri(apr_pool_t *p, const char *uri)
{
    const char *q = strchr(uri, '?'), *frag;
    char *query;
    int removed = 0;
    if (!q)
        return uri;
    frag = strchr(q, '#');
    query = strip_query(p, apr_pstrmemdup(p, q + 1, frag ? (apr_size_t)(frag - q - 1)
                                                         : strlen(q + 1)),
                        NULL, &removed);
    if (!removed)
        return uri;
    return apr_pstrcat(p, apr_pstrmemdup(p, uri, (apr_size_t)(q - uri)), query ? "?" : "",
                       query ? query : "", frag ? frag : "", NULL);
}

/* the_request is "METHOD target PROTOCOL": only the target changes. */
static const char *strip_request_line(apr_pool_t *p, const char *line)
{
    const char *sp = strchr(line, ' '), *end;
    if (!sp)
        return line;
    end = strchr(sp + 1, ' ');
    if (!end)
        end = sp + 1 + strlen(sp + 1);
    return apr_pstrcat(p, apr_pstrmemdup(p, line, (apr_size_t)(sp - line) + 1),
                       strip_uri(p, apr_pstrmemdup(p, sp + 1, (apr_size_t)(end - sp - 1))), end,
                       NULL);
}

void profile_authn_sanitize_request(request_rec *r)
{
    const char *upgrade = apr_table_get(r->headers_in, "Upgrade");
    int websocket = upgrade && ap_strcasestr(upgrade, "websocket");
    const char *value = NULL;
    int removed = 0;
    char *args;

    profile_strip_identity_headers(r);
    if (!r->args || (!ap_strcasestr(r->args, "api") && !strchr(r->args, '%')))
        return;
    args = strip_query(r->pool, r->args, websocket ? &value : NULL, &removed);
    if (!removed)
        return;
    r->args = args;
    r->parsed_uri.query = args;
    r->unparsed_uri = (char *)strip_uri(r->pool, r->unparsed_uri);
    if (r->the_request)
        r->the_request = (char *)strip_request_line(r->pool, r->the_request);
    if (value && *value)
        apr_pool_userdata_setn(value, WS_API_KEY, NULL, r->pool);
}
