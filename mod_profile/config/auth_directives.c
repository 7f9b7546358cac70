/* The authentication directives of config/auth_config.h: each error names the directive and
 * what it accepts, and never echoes a secret. */
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <string.h>

#include "config/auth_defaults.h"
#include "auth/crypto.h"

/* ---- directive handlers ---- */

static profile_auth_config_t *auth_conf(cmd_parms *cmd)
{
    return &profile_server_config(cmd->server)->auth;
}

/* Printable ASCII without quotes or backslashes: safe inside a quoted header value. */
static int plain_text(const char *s, apr_size_t max)
{
    apr_size_t n = 0;
    for (; *s; s++, n++)
        if (!apr_isprint(*s) || *s == '"' || *s == '\\')
            return 0;
    return n > 0 && n <= max;
}

/* Reads a file of at most max bytes (see config.h); the path is relative to ServerRoot. */
const char *profile_directive_read_file(cmd_parms *cmd, const char *arg, apr_size_t max,
                                   unsigned char **data, apr_size_t *len)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char err[128];
    apr_size_t n;

    if (!path)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "invalid path '%s'", arg));
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, cmd->temp_pool);
    if (rv == APR_SUCCESS)
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv != APR_SUCCESS)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "cannot read %s: %s", path,
                                      apr_strerror(rv, err, sizeof(err))));
    if (fi.filetype != APR_REG || fi.size < 0 || (apr_size_t)fi.size > max) {
        apr_file_close(f);
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "%s must be a regular file of at most %lu bytes",
                                      path, (unsigned long)max));
    }
    n = (apr_size_t)fi.size;
    *data = apr_palloc(cmd->pool, n + 1);
    rv = n ? apr_file_read_full(f, *data, n, &n) : APR_SUCCESS;
    apr_file_close(f);
    if (rv != APR_SUCCESS)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "cannot read %s: %s", path,
                                      apr_strerror(rv, err, sizeof(err))));
    (*data)[n] = '\0';
    *len = n;
    return NULL;
}

const char *profile_directive_read_secret(cmd_parms *cmd, const char *arg, apr_size_t max,
                                          unsigned char **data, apr_size_t *len)
{
    const char *err = profile_directive_read_file(cmd, arg, max, data, len);

    if (err)
        return err;
    /* A trailing line break is from the editor or `echo`, not part of the secret. */
    while (*len > 0 && ((*data)[*len - 1] == '\n' || (*data)[*len - 1] == '\r'))
        (*data)[--*len] = '\0';
    return NULL;
}

/* A directive taking one integer in [min, max]. */
#define INT_DIRECTIVE(fn, field, min, max) \
    const char *fn(cmd_parms *cmd, void *d, const char *arg) \
    { \
        (void)d; \
        return profile_directive_int(cmd, arg, min, max, &auth_conf(cmd)->field); \
    }

INT_DIRECTIVE(profile_set_password_min_length, password_min_length, 8, PROFILE_PASSWORD_MAX_BYTES)
INT_DIRECTIVE(profile_set_hash_concurrency, hash_concurrency, 1, 64)
INT_DIRECTIVE(profile_set_jwt_leeway, jwt_leeway_s, 0, 300)
INT_DIRECTIVE(profile_set_access_lifetime, access_lifetime_s, 60, 86400)
INT_DIRECTIVE(profile_set_refresh_lifetime, refresh_lifetime_s, 300, 31536000)
INT_DIRECTIVE(profile_set_key_rotation_grace, key_rotation_grace_s, 0, 2592000)

const char *profile_set_registration(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!strcasecmp(arg, "open"))
        auth_conf(cmd)->registration = 1;
    else if (!strcasecmp(arg, "closed"))
        auth_conf(cmd)->registration = 0;
    else
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be open or closed, got '%s'", arg));
    return NULL;
}

/* m=<KiB> t=<iterations> p=<lanes>, in any order. */
const char *profile_set_password_hashing(cmd_parms *cmd, void *d, const char *a1, const char *a2,
                                         const char *a3)
{
    static const struct { char key; long min, max; } limits[] = {
        { 'm', 1024, 4194304 }, { 't', 1, 64 }, { 'p', 1, 16 }
    };
    const char *args[3] = { a1, a2, a3 };
    profile_auth_config_t *c = auth_conf(cmd);
    int values[3] = { 0, 0, 0 }, i, j;
    (void)d;

    for (i = 0; i < 3; i++) {
        const char *err;
        long v;
        for (j = 0; j < 3 && (apr_tolower(args[i][0]) != limits[j].key || args[i][1] != '='); j++)
            ;
        if (j == 3 || values[j])
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "expected m=<KiB> t=<iterations> p=<lanes>, "
                                                     "got '%s'", args[i]));
        if ((err = profile_parse_int(cmd->pool, args[i] + 2, limits[j].min, limits[j].max, &v)))
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "%c %s", limits[j].key, err));
        values[j] = (int)v;
    }
    if (values[0] < 8 * values[2])
        return profile_directive_fail(cmd, "m must be at least 8 KiB per lane (8 * p)");
    c->argon2_memory_kib = values[0];
    c->argon2_iterations = values[1];
    c->argon2_parallelism = values[2];
    return NULL;
}

const char *profile_set_password_blocklist(cmd_parms *cmd, void *d, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    char err[128];
    apr_status_t rv;
    (void)d;
    if (!path)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "invalid path '%s'", arg));
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv != APR_SUCCESS)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "cannot read %s: %s", path,
                                      apr_strerror(rv, err, sizeof(err))));
    if (fi.filetype != APR_REG)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "%s is not a regular file", path));
    auth_conf(cmd)->blocklist_path = path;
    return NULL;
}

const char *profile_set_jwt_algorithm(cmd_parms *cmd, void *d, const char *arg)
{
    profile_auth_config_t *c = auth_conf(cmd);
    (void)d;
    if (!strcasecmp(arg, "HS256"))
        c->jwt_alg = PROFILE_JWT_HS256;
    else if (!strcasecmp(arg, "RS256"))
        c->jwt_alg = PROFILE_JWT_RS256;
    else if (!strcasecmp(arg, "ES256"))
        c->jwt_alg = PROFILE_JWT_ES256;
    else
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be HS256, RS256 or ES256, got '%s'", arg));
    return NULL;
}

/* Never echoes the secret, only its length. */
static const char *set_secret(cmd_parms *cmd, const unsigned char *secret, apr_size_t len)
{
    profile_auth_config_t *c = auth_conf(cmd);
    if (len < MIN_SECRET_BYTES)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be at least %d bytes (256 bits), got %lu",
                                      MIN_SECRET_BYTES, (unsigned long)len));
    c->jwt_secret = secret;
    c->jwt_secret_len = len;
    return NULL;
}

const char *profile_set_jwt_secret(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_secret(cmd, (const unsigned char *)arg, strlen(arg));
}

const char *profile_set_jwt_secret_file(cmd_parms *cmd, void *d, const char *arg)
{
    unsigned char *data;
    apr_size_t len;
    const char *err = profile_directive_read_secret(cmd, arg, MAX_KEY_FILE_BYTES, &data, &len);
    (void)d;
    return err ? err : set_secret(cmd, data, len);
}

const char *profile_set_jwt_key_files(cmd_parms *cmd, void *d, const char *priv, const char *pub)
{
    profile_auth_config_t *c = auth_conf(cmd);
    unsigned char *priv_pem, *pub_pem;
    apr_size_t priv_len, pub_len;
    const char *err;
    (void)d;
    if ((err = profile_directive_read_file(cmd, priv, MAX_KEY_FILE_BYTES, &priv_pem, &priv_len))
        || (err = profile_directive_read_file(cmd, pub, MAX_KEY_FILE_BYTES, &pub_pem, &pub_len)))
        return err;
    if (!strstr((const char *)priv_pem, "-----BEGIN"))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "%s is not a PEM file", priv));
    if (!strstr((const char *)pub_pem, "-----BEGIN"))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "%s is not a PEM file", pub));
    c->jwt_private_key = priv_pem;
    c->jwt_private_key_len = priv_len;
    c->jwt_public_key = pub_pem;
    c->jwt_public_key_len = pub_len;
    return NULL;
}

static const char *set_name(cmd_parms *cmd, const char *arg, const char **field)
{
    if (!plain_text(arg, MAX_NAME_LEN))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be 1..%d printable characters without "
                                                 "quotes or backslashes", MAX_NAME_LEN));
    *field = arg;
    return NULL;
}

const char *profile_set_jwt_issuer(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_name(cmd, arg, &auth_conf(cmd)->jwt_issuer);
}

const char *profile_set_jwt_audience(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return set_name(cmd, arg, &auth_conf(cmd)->jwt_audience);
}

const char *profile_set_login_lockout(cmd_parms *cmd, void *d, const char *a, const char *w,
                                      const char *l)
{
    profile_auth_config_t *c = auth_conf(cmd);
    long attempts, window, lock;
    const char *err;
    (void)d;
    if ((err = profile_parse_int(cmd->pool, a, 1, 1000, &attempts)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "failures ", err, NULL));
    if ((err = profile_parse_int(cmd->pool, w, 1, 86400, &window)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "window_s ", err, NULL));
    if ((err = profile_parse_int(cmd->pool, l, 1, 86400, &lock)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "lock_s ", err, NULL));
    c->lockout_attempts = (int)attempts;
    c->lockout_window_s = (int)window;
    c->lockout_lock_s = (int)lock;
    return NULL;
}

const char *profile_set_auth_realm(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!plain_text(arg, 64))
        return profile_directive_fail(cmd, "must be 1..64 printable characters without quotes or backslashes");
    auth_conf(cmd)->realm = arg;
    return NULL;
}

static int valid_key_name(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++)
        if (!apr_isalnum(*s) && *s != '_' && *s != '.' && *s != '-')
            return 0;
    return n > 0 && n <= 64;
}

const char *profile_set_static_key(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    profile_auth_config_t *c = auth_conf(cmd);
    profile_static_key_t *k;
    const char *unknown;
    unsigned scopes = 0;
    char *hash;
    int i;
    (void)d;

    if (argc < 3)
        return profile_directive_fail(cmd, "needs <sha256-hex-of-key> <name> <scope>...");
    hash = apr_pstrdup(cmd->pool, argv[0]);
    for (i = 0; hash[i]; i++) {
        if (!apr_isxdigit(hash[i]))
            break;
        hash[i] = (char)apr_tolower(hash[i]);
    }
    if (i != 64 || hash[i])
        return profile_directive_fail(cmd, "the first argument must be the SHA-256 of the key as 64 hex characters "
                         "(e.g. printf %s KEY | sha256sum)");
    if (!valid_key_name(argv[1]))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "name must be 1..64 of [A-Za-z0-9_.-], got '%s'",
                                      argv[1]));
    for (i = 2; i < argc; i++) {
        scopes |= profile_scopes_parse(cmd->pool, argv[i], &unknown);
        if (unknown)
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "unknown scope '%s' (known: profiles:read "
                                          "profiles:write sessions:read sessions:write "
                                          "comments:read cache:admin admin)", unknown));
    }
    if (!scopes)
        return profile_directive_fail(cmd, "needs at least one scope");
    if (!c->static_keys)
        c->static_keys = apr_array_make(cmd->pool, 2, sizeof(profile_static_key_t));
    for (i = 0; i < c->static_keys->nelts; i++) {
        k = &APR_ARRAY_IDX(c->static_keys, i, profile_static_key_t);
        if (!strcmp(k->name, argv[1]))
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "the name '%s' is used twice", argv[1]));
        if (!strcmp(k->hash_hex, hash))
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "the key of '%s' is also the key of '%s'",
                                          argv[1], k->name));
    }
    k = apr_array_push(c->static_keys);
    k->hash_hex = hash;
    k->name = apr_pstrdup(cmd->pool, argv[1]);
    k->scopes = scopes;
    return NULL;
}
