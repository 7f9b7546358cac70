/* Authentication inside httpd: the credentials of a request (X-API-Key first, then
 * Authorization: Bearer, then — on WebSocket upgrades only — the api_key query parameter)
 * become a principal. Used by the `AuthType Profile` front end on any Location and by the
 * route table of the API. */
#ifndef PROFILE_AUTHN_H
#define PROFILE_AUTHN_H

#include <mod_auth.h>
#include "profile.h"
#include "auth/principal.h"

#define PROFILE_AUTH_TYPE "Profile"

typedef struct {
    int status;                /* HTTP_UNAUTHORIZED or HTTP_SERVICE_UNAVAILABLE */
    const char *error;         /* "invalid_token", "invalid_key", or NULL when no credentials */
    const char *description;   /* for error_description and the error JSON message */
    int retry_after_s;         /* for 503 */
} profile_authn_failure_t;

/* Authenticates r once (the outcome is kept for the request and its subrequests).
 * OK with *principal set, or the failure's status with *why filled. */
int profile_authenticate(request_rec *r, const profile_principal_t **principal,
                         profile_authn_failure_t *why);

/* Whether r carries credentials at all (X-API-Key, Authorization: Bearer, or api_key on a
 * WebSocket upgrade): cheap, no verification. */
int profile_authn_has_credentials(request_rec *r);

/* Sets WWW-Authenticate for a 401 (RFC 6750 form, realm from ProfileAuthRealm). */
void profile_authn_challenge(request_rec *r, const profile_authn_failure_t *why);

/* note_auth_failure hook for `AuthType Profile` (httpd calls it when Require denies an
 * authenticated principal): the Bearer challenge, with error="insufficient_scope". */
int profile_authn_note_failure(request_rec *r, const char *auth_type);

/* Registers the error JSON for httpd's 401/403 in `AuthType Profile` locations
 * (auth_errors.c). */
void profile_auth_errors_register(void);

/* check_authn hook for `AuthType Profile`: sets r->user, the notes and environment
 * (PROFILE_PRINCIPAL, PROFILE_ROLE, PROFILE_KEY_ID) and the identity headers for backends. */
int profile_check_authn(request_rec *r);

/* Removes every X-Profile-* (and X_Profile_*) request header, whatever its case. */
void profile_strip_identity_headers(request_rec *r);

/* post_read_request: removes client-sent identity headers (X-Profile-*) and the api_key
 * query parameter from every request (from r->args, r->unparsed_uri and r->the_request), so
 * it is never logged or proxied; on WebSocket upgrade requests its value is kept for
 * profile_authenticate. */
void profile_authn_sanitize_request(request_rec *r);

/* Providers behind `Require profile-role <role>…` and `Require profile-scope <scope>…`. */
extern const authz_provider profile_authz_role_provider;
extern const authz_provider profile_authz_scope_provider;

/* Per-process state (key cache, revocation feed): made in child_init. */
void profile_auth_child_init(apr_pool_t *pchild, server_rec *s);

#endif
