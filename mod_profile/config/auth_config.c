/* Authentication settings: init/merge, getters, and the checks and post-config
 * step that derives the JWT configuration, the password blocklist and the dummy hash. */
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#include "config/config.h"
#include "auth/crypto.h"

#include "config/auth_defaults.h"

void profile_auth_config_init(profile_auth_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->password_min_length = UNSET;
    c->registration = UNSET;
    c->argon2_memory_kib = UNSET;
    c->argon2_iterations = UNSET;
    c->argon2_parallelism = UNSET;
    c->hash_concurrency = UNSET;
    c->jwt_alg = UNSET;
    c->jwt_leeway_s = UNSET;
    c->access_lifetime_s = UNSET;
    c->refresh_lifetime_s = UNSET;
    c->lockout_attempts = UNSET;
    c->lockout_window_s = UNSET;
    c->lockout_lock_s = UNSET;
    c->key_rotation_grace_s = UNSET;
}

void profile_auth_config_merge(const profile_auth_config_t *base, const profile_auth_config_t *add,
                               profile_auth_config_t *out)
{
    /* Fields one directive sets together merge together. */
    const profile_auth_config_t *hashing = add->argon2_memory_kib != UNSET ? add : base;
    const profile_auth_config_t *secret = add->jwt_secret ? add : base;
    const profile_auth_config_t *keys = add->jwt_private_key ? add : base;
    const profile_auth_config_t *lockout = add->lockout_attempts != UNSET ? add : base;

    profile_auth_config_init(out);
    MERGE_INT(password_min_length);
    MERGE_INT(registration);
    out->argon2_memory_kib = hashing->argon2_memory_kib;
    out->argon2_iterations = hashing->argon2_iterations;
    out->argon2_parallelism = hashing->argon2_parallelism;
    MERGE_INT(hash_concurrency);
    MERGE_PTR(blocklist_path);
    MERGE_INT(jwt_alg);
    out->jwt_secret = secret->jwt_secret;
    out->jwt_secret_len = secret->jwt_secret_len;
    out->jwt_private_key = keys->jwt_private_key;
    out->jwt_private_key_len = keys->jwt_private_key_len;
    out->jwt_public_key = keys->jwt_public_key;
    out->jwt_public_key_len = keys->jwt_public_key_len;
    MERGE_PTR(jwt_issuer);
    MERGE_PTR(jwt_audience);
    MERGE_INT(jwt_leeway_s);
    MERGE_INT(access_lifetime_s);
    MERGE_INT(refresh_lifetime_s);
    out->lockout_attempts = lockout->lockout_attempts;
    out->lockout_window_s = lockout->lockout_window_s;
    out->lockout_lock_s = lockout->lockout_lock_s;
    MERGE_INT(key_rotation_grace_s);
    MERGE_PTR(realm);
    MERGE_PTR(static_keys);
    /* jwt, blocklist, dummy_hash and argon2 are derived per server in post_config. */
}

#define GETTER(name, field, def) \
    int name(const profile_auth_config_t *c) { return OR_DEFAULT(c->field, def); }

GETTER(profile_auth_password_min_length, password_min_length, DEFAULT_MIN_LENGTH)
GETTER(profile_auth_hash_concurrency, hash_concurrency, DEFAULT_HASH_CONCURRENCY)
GETTER(profile_auth_refresh_lifetime_s, refresh_lifetime_s, DEFAULT_REFRESH_S)
GETTER(profile_auth_lockout_attempts, lockout_attempts, DEFAULT_LOCKOUT_ATTEMPTS)
GETTER(profile_auth_lockout_window_s, lockout_window_s, DEFAULT_LOCKOUT_WINDOW_S)
GETTER(profile_auth_lockout_lock_s, lockout_lock_s, DEFAULT_LOCKOUT_LOCK_S)
GETTER(profile_auth_key_rotation_grace_s, key_rotation_grace_s, DEFAULT_GRACE_S)

int profile_auth_registration_open(const profile_auth_config_t *c)
{
    return c->registration == 1;
}

const char *profile_auth_realm(const profile_auth_config_t *c)
{
    return c->realm ? c->realm : DEFAULT_REALM;
}

/* ---- checks needing several directives, and post_config ---- */

static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt on the terminal for an encrypted key */
}

static EVP_PKEY *pem_key(const unsigned char *pem, apr_size_t len, int private)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = NULL;
    if (b)
        k = private ? PEM_read_bio_PrivateKey(b, NULL, refuse_passphrase, NULL)
                    : PEM_read_bio_PUBKEY(b, NULL, refuse_passphrase, NULL);
    BIO_free(b);
    return k;
}

/* The key pair suits the algorithm: RSA of at least 2048 bits for RS256, P-256 for ES256. */
static const char *check_key_pair(apr_pool_t *p, const profile_auth_config_t *c, int alg)
{
    EVP_PKEY *priv = pem_key(c->jwt_private_key, c->jwt_private_key_len, 1);
    EVP_PKEY *pub = pem_key(c->jwt_public_key, c->jwt_public_key_len, 0);
    const char *err = NULL;
    char group[64] = "";

    if (!priv)
        err = "ProfileJWTKeyFiles: the private key cannot be read (an unencrypted PEM key is needed)";
    else if (!pub)
        err = "ProfileJWTKeyFiles: the public key cannot be read (a PEM SubjectPublicKeyInfo is "
              "needed)";
    else if (EVP_PKEY_eq(priv, pub) != 1)
        err = "ProfileJWTKeyFiles: the public key does not belong to the private key";
    else if (alg == PROFILE_JWT_RS256
             && (EVP_PKEY_base_id(priv) != EVP_PKEY_RSA || EVP_PKEY_bits(priv) < 2048))
        err = apr_psprintf(p, "ProfileJWTAlgorithm RS256 needs an RSA key of at least 2048 bits "
                              "in ProfileJWTKeyFiles, got a %d-bit %s key",
                           EVP_PKEY_bits(priv), EVP_PKEY_get0_type_name(priv));
    else if (alg == PROFILE_JWT_ES256
             && (EVP_PKEY_base_id(priv) != EVP_PKEY_EC
                 || !EVP_PKEY_get_utf8_string_param(priv, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                    sizeof(group), NULL)
                 || (strcmp(group, "prime256v1") && strcmp(group, "P-256"))))
        err = "ProfileJWTAlgorithm ES256 needs a P-256 (prime256v1) EC key in ProfileJWTKeyFiles";
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    return err;
}

/* What one directive cannot check alone: the algorithm against the keys. */
static const char *check_consistency(apr_pool_t *p, const profile_auth_config_t *c)
{
    if (c->jwt_alg == PROFILE_JWT_HS256 && !c->jwt_secret)
        return "ProfileJWTAlgorithm HS256 needs ProfileJWTSecret or ProfileJWTSecretFile";
    if (c->jwt_alg == UNSET || c->jwt_alg == PROFILE_JWT_HS256) {
        if (c->jwt_private_key)
            return "ProfileJWTKeyFiles needs ProfileJWTAlgorithm RS256 or ES256";
        return NULL;
    }
    if (!c->jwt_private_key)
        return apr_psprintf(p, "ProfileJWTAlgorithm %s needs ProfileJWTKeyFiles",
                            c->jwt_alg == PROFILE_JWT_RS256 ? "RS256" : "ES256");
    return check_key_pair(p, c, c->jwt_alg);
}

int profile_auth_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s)
{
    (void)pconf;
    (void)plog;
    for (; s; s = s->next) {
        const char *err = check_consistency(ptemp, &profile_server_config(s)->auth);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10640) "%s", err);
            return !OK;
        }
    }
    return OK;
}

static profile_jwt_config_t *jwt_config(apr_pool_t *p, const profile_auth_config_t *c)
{
    profile_jwt_config_t *j;
    if (c->jwt_alg == UNSET || c->jwt_alg == PROFILE_JWT_HS256) {
        if (!c->jwt_secret)
            return NULL;
    }
    else if (!c->jwt_private_key) {
        return NULL;
    }
    j = apr_pcalloc(p, sizeof(*j));
    j->alg = OR_DEFAULT(c->jwt_alg, PROFILE_JWT_HS256);
    if (j->alg == PROFILE_JWT_HS256) {
        j->sign_key = j->verify_key = c->jwt_secret;
        j->sign_key_len = j->verify_key_len = c->jwt_secret_len;
    }
    else {
        j->sign_key = c->jwt_private_key;
        j->sign_key_len = c->jwt_private_key_len;
        j->verify_key = c->jwt_public_key;
        j->verify_key_len = c->jwt_public_key_len;
    }
    j->issuer = c->jwt_issuer ? c->jwt_issuer : DEFAULT_ISSUER;
    j->audience = c->jwt_audience ? c->jwt_audience : DEFAULT_AUDIENCE;
    j->leeway_s = OR_DEFAULT(c->jwt_leeway_s, DEFAULT_LEEWAY_S);
    j->access_lifetime_s = OR_DEFAULT(c->access_lifetime_s, DEFAULT_ACCESS_S);
    return j;
}

/* Blocklists are loaded once per path and configuration generation, not per virtual host. */
static const char *load_blocklist(apr_pool_t *pconf, server_rec *s, const profile_auth_config_t *c,
                                  apr_hash_t **out)
{
    const char *path = c->blocklist_path ? c->blocklist_path : DEFAULT_BLOCKLIST;
    const char *key = apr_pstrcat(pconf, "profile-blocklist:", path, NULL);
    void *cached = NULL;
    apr_status_t rv;

    apr_pool_userdata_get(&cached, key, pconf);
    if (cached) {
        *out = cached;
        return NULL;
    }
    rv = profile_password_blocklist_load(pconf, path, out);
    if (rv != APR_SUCCESS) {
        char err[128];
        if (c->blocklist_path)
            return apr_psprintf(pconf, "ProfilePasswordBlocklist: cannot load %s: %s", path,
                                apr_strerror(rv, err, sizeof(err)));
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, APLOGNO(10641)
                     "the shipped list of common passwords %s cannot be read: registration "
                     "checks passwords without it (set ProfilePasswordBlocklist)", path);
        *out = apr_hash_make(pconf);
    }
    apr_pool_userdata_setn(*out, key, NULL, pconf);
    return NULL;
}

/* The hash verified for unknown users costs what a real one costs: one per parameter set. */
static const char *dummy_hash(apr_pool_t *pconf, const profile_argon2_params_t *params,
                              const char **out)
{
    const char *key = apr_psprintf(pconf, "profile-dummy-hash:%d/%d/%d", params->memory_kib,
                                   params->iterations, params->parallelism);
    const char *random;
    void *cached = NULL;

    apr_pool_userdata_get(&cached, key, pconf);
    if (cached) {
        *out = cached;
        return NULL;
    }
    random = profile_random_base62(pconf, 32);
    *out = random ? profile_password_hash(pconf, random, params) : NULL;
    if (!*out)
        return "cannot compute the password hash for unknown users (argon2id failed: is "
               "ProfilePasswordHashing's memory available?)";
    apr_pool_userdata_setn(*out, key, NULL, pconf);
    return NULL;
}

const char *profile_auth_config_finish(apr_pool_t *pconf, server_rec *s, profile_auth_config_t *c)
{
    const char *err = check_consistency(pconf, c);
    if (err)
        return err;
    c->jwt = jwt_config(pconf, c);
    c->argon2.memory_kib = OR_DEFAULT(c->argon2_memory_kib, DEFAULT_ARGON2_M);
    c->argon2.iterations = OR_DEFAULT(c->argon2_iterations, DEFAULT_ARGON2_T);
    c->argon2.parallelism = OR_DEFAULT(c->argon2_parallelism, DEFAULT_ARGON2_P);
    if ((err = load_blocklist(pconf, s, c, &c->blocklist)))
        return err;
    return dummy_hash(pconf, &c->argon2, &c->dummy_hash);
}
