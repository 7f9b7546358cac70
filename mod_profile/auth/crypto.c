/* Hashing, constant-time comparison and random strings over libcrypto; see crypto.h. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/crypto.h"

static const char base62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const char *profile_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0, i;
    char *out;

    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
        return NULL;
    out = apr_palloc(p, 2 * md_len + 1);
    for (i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * md_len] = '\0';
    return out;
}

int profile_secure_equals(const char *a, const char *b)
{
    apr_size_t n;
    if (!a || !b)
        return 0;
    n = strlen(a);
    if (n != strlen(b))
        return 0;
    return CRYPTO_memcmp(a, b, n) == 0;
}

const char *profile_random_base62(apr_pool_t *p, apr_size_t n)
{
    /* Bytes of 248 and above are dropped: 248 = 4 * 62, so every character is equally likely. */
    unsigned char buf[64];
    char *out = apr_palloc(p, n + 1);
    apr_size_t filled = 0;

    while (filled < n) {
        apr_size_t i;
        if (RAND_bytes(buf, sizeof(buf)) != 1) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return NULL;
        }
        for (i = 0; i < sizeof(buf) && filled < n; i++)
            if (buf[i] < 248)
                out[filled++] = base62[buf[i] % 62];
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    out[n] = '\0';
    return out;
}
