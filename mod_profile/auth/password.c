/* argon2id password hashes and the password policy; see password.h. */
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <argon2.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define PHC_PREFIX "$argon2id$"
#define BLOCKLIST_LINE_MAX 256

const char *profile_password_hash(apr_pool_t *p, const char *password,
                                  const profile_argon2_params_t *params)
{
    unsigned char salt[SALT_LEN];
    apr_size_t len, encoded_len;
    char *encoded;

    if (!password || !params || params->memory_kib < 1 || params->iterations < 1
        || params->parallelism < 1)
        return NULL;
    len = strnlen(password, PROFILE_PASSWORD_MAX_BYTES + 1);
    if (len > PROFILE_PASSWORD_MAX_BYTES || RAND_bytes(salt, sizeof(salt)) != 1)
        return NULL;
    encoded_len = argon2_encodedlen(params->iterations, params->memory_kib, params->parallelism,
                                    SALT_LEN, HASH_LEN, Argon2_id);
    encoded = apr_palloc(p, encoded_len);
    if (argon2_hash(params->iterations, params->memory_kib, params->parallelism, password, len,
                    salt, sizeof(salt), NULL, HASH_LEN, encoded, encoded_len, Argon2_id,
                    ARGON2_VERSION_13) != ARGON2_OK)
        return NULL;
    return encoded;
}

int profile_password_verify(const char *phc, const char *password)
{
    apr_size_t len;
    if (!phc || !password || strncmp(phc, PHC_PREFIX, sizeof(PHC_PREFIX) - 1) != 0)
        return 0;
    len = strnlen(password, PROFILE_PASSWORD_MAX_BYTES + 1);
    if (len > PROFILE_PASSWORD_MAX_BYTES)
        return 0;
    return argon2id_verify(phc, password, len) == ARGON2_OK;
}

/* Reads "<name>=<decimal>" at *s, then skips the separator sep. */
static int read_param(const char **s, char name, char sep, long *out)
{
    char *end;
    if ((*s)[0] != name || (*s)[1] != '=' || !apr_isdigit((*s)[2]))
        return 0;
    *out = strtol(*s + 2, &end, 10);
    if (*end != sep)
        return 0;
    *s = end + 1;
    return 1;
}

int profile_password_needs_rehash(const char *phc, const profile_argon2_params_t *params)
{
    static const char head[] = PHC_PREFIX "v=19$";
    const char *s = phc;
    long m, t, par;

    if (!phc || !params || strncmp(phc, head, sizeof(head) - 1) != 0)
        return 1;
    s += sizeof(head) - 1;
    if (!read_param(&s, 'm', ',', &m) || !read_param(&s, 't', ',', &t)
        || !read_param(&s, 'p', '$', &par))
        return 1;
    return m != params->memory_kib || t != params->iterations || par != params->parallelism;
}

static char *lower_dup(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *c;
    for (c = out; *c; c++)
        *c = (char)apr_tolower(*c);
    return out;
}

/* Characters as NIST 800-63B counts them: Unicode code points (UTF-8 lead bytes). */
static apr_size_t count_characters(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

apr_array_header_t *profile_password_check(apr_pool_t *p, const char *password,
                                           const char *username, int min_length,
                                           apr_hash_t *blocklist)
{
    apr_array_header_t *unmet = apr_array_make(p, 4, sizeof(const char *));
    const char *pw = password ? password : "";
    apr_size_t len = strlen(pw);
    char *lower = lower_dup(p, pw);

    if (count_characters(pw) < (apr_size_t)(min_length > 0 ? min_length : 0))
        APR_ARRAY_PUSH(unmet, const char *) =
            apr_psprintf(p, "must be at least %d characters long", min_length);
    if (len > PROFILE_PASSWORD_MAX_BYTES)
        APR_ARRAY_PUSH(unmet, const char *) =
            apr_psprintf(p, "must be at most %d bytes long", PROFILE_PASSWORD_MAX_BYTES);
    if (blocklist && len > 0 && apr_hash_get(blocklist, lower, APR_HASH_KEY_STRING))
        APR_ARRAY_PUSH(unmet, const char *) =
            "is too common (it appears in a list of breached passwords)";
    if (username && *username && strstr(lower, lower_dup(p, username)))
        APR_ARRAY_PUSH(unmet, const char *) = "must not contain the username";
    return unmet->nelts ? unmet : NULL;
}

/* Adds one line (without its end of line) to the blocklist unless it is blank or a comment. */
static void blocklist_add(apr_pool_t *p, apr_hash_t *h, char *line)
{
    apr_size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (line[strspn(line, " \t")] == '\0' || n > BLOCKLIST_LINE_MAX || line[0] == '#')
        return;
    line = lower_dup(p, line);
    apr_hash_set(h, line, APR_HASH_KEY_STRING, line);
}

apr_status_t profile_password_blocklist_load(apr_pool_t *p, const char *path, apr_hash_t **out)
{
    char line[BLOCKLIST_LINE_MAX + 3];  /* the longest kept line, "\r\n" and NUL */
    apr_hash_t *h = apr_hash_make(p);
    apr_file_t *f;
    apr_status_t rv;
    int skipping = 0;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BUFFERED, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    while ((rv = apr_file_gets(line, sizeof(line), f)) == APR_SUCCESS) {
        /* A full buffer without '\n' is part of an over-long line: drop that line whole. */
        int complete = strchr(line, '\n') != NULL || strlen(line) < sizeof(line) - 1;
        if (!skipping && complete)
            blocklist_add(p, h, line);
        skipping = !complete;
    }
    apr_file_close(f);
    if (rv != APR_EOF)
        return rv;
    *out = h;
    return APR_SUCCESS;
}
