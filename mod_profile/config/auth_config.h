/* Authentication settings of a server (part of profile_server_config_t) and their
 * directives. Unset values are PROFILE_UNSET / NULL; getters apply the defaults. */
#ifndef PROFILE_AUTH_CONFIG_H
#define PROFILE_AUTH_CONFIG_H

#include <apr_hash.h>
#include <apr_tables.h>
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/principal.h"

/* A `ProfileAPIKey <sha256-hex> <name> <scope>…` line. */
typedef struct {
    const char *hash_hex;      /* 64 lower-case hex */
    const char *name;
    unsigned scopes;
} profile_static_key_t;

typedef struct {
    int password_min_length;   /* ProfilePasswordMinLength 8..256, default 12 */
    int registration;          /* ProfileRegistration open|closed: 1|0, default 0 */
    int argon2_memory_kib;     /* ProfilePasswordHashing m=<KiB> t=<n> p=<n>: 19456, 2, 1 */
    int argon2_iterations;
    int argon2_parallelism;
    int hash_concurrency;      /* ProfilePasswordHashConcurrency 1..64, default 4 per process */
    const char *blocklist_path;/* ProfilePasswordBlocklist, default PROFILE_DATA_DIR/common-passwords.txt */
    int jwt_alg;               /* ProfileJWTAlgorithm HS256|RS256|ES256 (profile_jwt_alg_t), default HS256 */
    const unsigned char *jwt_secret; /* ProfileJWTSecret / ProfileJWTSecretFile (>= 32 bytes) */
    apr_size_t jwt_secret_len;
    const unsigned char *jwt_private_key; /* ProfileJWTKeyFiles <private.pem> <public.pem> */
    apr_size_t jwt_private_key_len;
    const unsigned char *jwt_public_key;
    apr_size_t jwt_public_key_len;
    const char *jwt_issuer;    /* ProfileJWTIssuer, default "mod_profile" */
    const char *jwt_audience;  /* ProfileJWTAudience, default "profile-api" */
    int jwt_leeway_s;          /* ProfileJWTLeeway 0..300, default 30 */
    int access_lifetime_s;     /* ProfileAccessTokenLifetime 60..86400, default 900 */
    int refresh_lifetime_s;    /* ProfileRefreshTokenLifetime 300..31536000, default 1209600 */
    int lockout_attempts;      /* ProfileLoginLockout <attempts> <window_s> <lock_s>: 5 900 900 */
    int lockout_window_s;
    int lockout_lock_s;
    int key_rotation_grace_s;  /* ProfileAPIKeyRotationGrace 0..2592000, default 86400 */
    const char *realm;         /* ProfileAuthRealm, default "profile-api" */
    apr_array_header_t *static_keys; /* of profile_static_key_t; NULL when none */

    /* Derived in post_config (never set by directives, never merged). */
    profile_jwt_config_t *jwt; /* NULL when no signing key is configured */
    apr_hash_t *blocklist;
    const char *dummy_hash;    /* PHC hash verified for unknown users (equal login timing) */
    profile_argon2_params_t argon2;
} profile_auth_config_t;

void profile_auth_config_init(profile_auth_config_t *c);
void profile_auth_config_merge(const profile_auth_config_t *base, const profile_auth_config_t *add,
                               profile_auth_config_t *out);
/* post_config: loads the blocklist, builds the JWT config and the dummy hash, per server.
 * Returns an error message (then start-up fails) or NULL. */
const char *profile_auth_config_finish(apr_pool_t *pconf, server_rec *s, profile_auth_config_t *c);
/* check_config hook (runs for `apachectl -t` too): what needs several directives, such as
 * ProfileJWTAlgorithm against the configured keys. */
int profile_auth_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s);

/* Getters with defaults. */
int profile_auth_password_min_length(const profile_auth_config_t *c);
int profile_auth_registration_open(const profile_auth_config_t *c);
int profile_auth_hash_concurrency(const profile_auth_config_t *c);
int profile_auth_refresh_lifetime_s(const profile_auth_config_t *c);
int profile_auth_lockout_attempts(const profile_auth_config_t *c);
int profile_auth_lockout_window_s(const profile_auth_config_t *c);
int profile_auth_lockout_lock_s(const profile_auth_config_t *c);
int profile_auth_key_rotation_grace_s(const profile_auth_config_t *c);
const char *profile_auth_realm(const profile_auth_config_t *c);

/* The directive table entries (spliced into profile_directives by config.c). */
#define PROFILE_AUTH_DIRECTIVES \
    AP_INIT_TAKE1("ProfilePasswordMinLength", profile_set_password_min_length, NULL, RSRC_CONF, \
                  "minimum password length in characters, 8..256 (default 12)"), \
    AP_INIT_TAKE1("ProfileRegistration", profile_set_registration, NULL, RSRC_CONF, \
                  "open|closed: whether POST /auth/register creates accounts (default closed)"), \
    AP_INIT_TAKE3("ProfilePasswordHashing", profile_set_password_hashing, NULL, RSRC_CONF, \
                  "m=<KiB> t=<iterations> p=<lanes> for argon2id (default m=19456 t=2 p=1)"), \
    AP_INIT_TAKE1("ProfilePasswordHashConcurrency", profile_set_hash_concurrency, NULL, RSRC_CONF, \
                  "password hashes computed at once per process, 1..64 (default 4)"), \
    AP_INIT_TAKE1("ProfilePasswordBlocklist", profile_set_password_blocklist, NULL, RSRC_CONF, \
                  "file of common passwords refused at registration, one per line"), \
    AP_INIT_TAKE1("ProfileJWTAlgorithm", profile_set_jwt_algorithm, NULL, RSRC_CONF, \
                  "HS256|RS256|ES256 (default HS256)"), \
    AP_INIT_TAKE1("ProfileJWTSecret", profile_set_jwt_secret, NULL, RSRC_CONF, \
                  "HS256 secret, at least 32 bytes"), \
    AP_INIT_TAKE1("ProfileJWTSecretFile", profile_set_jwt_secret_file, NULL, RSRC_CONF, \
                  "file holding the HS256 secret, at least 32 bytes"), \
    AP_INIT_TAKE2("ProfileJWTKeyFiles", profile_set_jwt_key_files, NULL, RSRC_CONF, \
                  "<private.pem> <public.pem> for RS256/ES256"), \
    AP_INIT_TAKE1("ProfileJWTIssuer", profile_set_jwt_issuer, NULL, RSRC_CONF, \
                  "iss of issued tokens, required in verified ones (default mod_profile)"), \
    AP_INIT_TAKE1("ProfileJWTAudience", profile_set_jwt_audience, NULL, RSRC_CONF, \
                  "aud of issued tokens, required in verified ones (default profile-api)"), \
    AP_INIT_TAKE1("ProfileJWTLeeway", profile_set_jwt_leeway, NULL, RSRC_CONF, \
                  "seconds of clock skew allowed on exp/nbf, 0..300 (default 30)"), \
    AP_INIT_TAKE1("ProfileAccessTokenLifetime", profile_set_access_lifetime, NULL, RSRC_CONF, \
                  "access token lifetime in seconds, 60..86400 (default 900)"), \
    AP_INIT_TAKE1("ProfileRefreshTokenLifetime", profile_set_refresh_lifetime, NULL, RSRC_CONF, \
                  "refresh token lifetime in seconds, 300..31536000 (default 1209600)"), \
    AP_INIT_TAKE3("ProfileLoginLockout", profile_set_login_lockout, NULL, RSRC_CONF, \
                  "<failures> <window_s> <lock_s> (default 5 900 900)"), \
    AP_INIT_TAKE1("ProfileAPIKeyRotationGrace", profile_set_key_rotation_grace, NULL, RSRC_CONF, \
                  "seconds a rotated key's old secret keeps working, 0..2592000 (default 86400)"), \
    AP_INIT_TAKE1("ProfileAuthRealm", profile_set_auth_realm, NULL, RSRC_CONF, \
                  "realm in WWW-Authenticate (default profile-api)"), \
    AP_INIT_TAKE_ARGV("ProfileAPIKey", profile_set_static_key, NULL, RSRC_CONF, \
                  "<sha256-hex-of-key> <name> <scope>...: a service key without a database")

const char *profile_set_password_min_length(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_registration(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_password_hashing(cmd_parms *cmd, void *d, const char *m, const char *t,
                                         const char *p);
const char *profile_set_hash_concurrency(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_password_blocklist(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_algorithm(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_secret(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_secret_file(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_key_files(cmd_parms *cmd, void *d, const char *priv, const char *pub);
const char *profile_set_jwt_issuer(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_audience(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_jwt_leeway(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_access_lifetime(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_refresh_lifetime(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_login_lockout(cmd_parms *cmd, void *d, const char *a, const char *w,
                                      const char *l);
const char *profile_set_key_rotation_grace(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_auth_realm(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_static_key(cmd_parms *cmd, void *d, int argc, char *const argv[]);

#endif
