/* API key format and check digits; see apikey.h. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "auth/apikey.h"
#include "auth/crypto.h"

#define BODY_LEN (PROFILE_APIKEY_LEN - 1 - PROFILE_APIKEY_CHECK_LEN)

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: keys are short. */
static apr_uint32_t crc32_of(const char *s, apr_size_t n)
{
    apr_uint32_t crc = 0xffffffffu;
    apr_size_t i;
    int k;

    for (i = 0; i < n; i++) {
        crc ^= (unsigned char)s[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

/* The check of the first BODY_LEN characters of key, into out[PROFILE_APIKEY_CHECK_LEN]. */
static void check_of(const char *key, char *out)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    apr_uint32_t v = crc32_of(key, BODY_LEN);
    int i;

    for (i = PROFILE_APIKEY_CHECK_LEN - 1; i >= 0; i--) {
        out[i] = digits[v % 62];
        v /= 62;
    }
}

static int all_alnum(const char *s, apr_size_t n)
{
    apr_size_t i;
    for (i = 0; i < n; i++)
        if (!apr_isalnum(s[i]))
            return 0;
    return 1;
}

const char *profile_apikey_generate_for(apr_pool_t *p, const char *id)
{
    const char *secret;
    char *key;

    if (!id || strlen(id) != PROFILE_APIKEY_ID_LEN || !all_alnum(id, PROFILE_APIKEY_ID_LEN))
        return NULL;
    secret = profile_random_base62(p, PROFILE_APIKEY_SECRET_LEN);
    if (!secret)
        return NULL;
    key = apr_palloc(p, PROFILE_APIKEY_LEN + 1);
    memcpy(key, PROFILE_APIKEY_PREFIX, 3);
    memcpy(key + 3, id, PROFILE_APIKEY_ID_LEN);
    key[3 + PROFILE_APIKEY_ID_LEN] = '_';
    memcpy(key + 4 + PROFILE_APIKEY_ID_LEN, secret, PROFILE_APIKEY_SECRET_LEN);
    key[BODY_LEN] = '_';
    check_of(key, key + BODY_LEN + 1);
    key[PROFILE_APIKEY_LEN] = '\0';
    return key;
}

const char *profile_apikey_generate(apr_pool_t *p, const char **id)
{
    const char *new_id = profile_random_base62(p, PROFILE_APIKEY_ID_LEN);
    if (!new_id)
        return NULL;
    if (id)
        *id = new_id;
    return profile_apikey_generate_for(p, new_id);
}

int profile_apikey_parse(apr_pool_t *p, const char *key, const char **id)
{
    const char *secret = key ? key + 4 + PROFILE_APIKEY_ID_LEN : NULL;
    char check[PROFILE_APIKEY_CHECK_LEN];

    if (!key || strnlen(key, PROFILE_APIKEY_LEN + 1) != PROFILE_APIKEY_LEN
        || strncmp(key, PROFILE_APIKEY_PREFIX, 3) != 0
        || !all_alnum(key + 3, PROFILE_APIKEY_ID_LEN) || key[3 + PROFILE_APIKEY_ID_LEN] != '_'
        || !all_alnum(secret, PROFILE_APIKEY_SECRET_LEN) || key[BODY_LEN] != '_'
        || !all_alnum(key + BODY_LEN + 1, PROFILE_APIKEY_CHECK_LEN))
        return 0;
    check_of(key, check);
    if (memcmp(check, key + BODY_LEN + 1, PROFILE_APIKEY_CHECK_LEN) != 0)
        return 0;
    if (id)
        *id = apr_pstrmemdup(p, key + 3, PROFILE_APIKEY_ID_LEN);
    return 1;
}
