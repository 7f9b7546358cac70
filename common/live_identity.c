/* HMAC-signed identity headers between httpd and the sidecar (see live_identity.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "live_identity.h"

static int field_ok(const char *s)
{
    size_t n = strnlen(s, LIVE_IDENTITY_FIELD_MAX + 1);
    return n <= LIVE_IDENTITY_FIELD_MAX && !memchr(s, '\n', n);
}

int live_identity_sign(const unsigned char *secret, size_t secret_len, int64_t time_s,
                       const char *principal, const char *scopes, const char *session_id,
                       char sig[LIVE_IDENTITY_SIG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char msg[3 * LIVE_IDENTITY_FIELD_MAX + 64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n;

    if (!field_ok(principal) || !field_ok(scopes) || !field_ok(session_id))
        return -1;
    n = snprintf(msg, sizeof(msg), "v1\n%lld\n%s\n%s\n%s", (long long)time_s, principal,
                 scopes, session_id);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return -1;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, (size_t)n,
              mac, &mac_len) || mac_len * 2 != LIVE_IDENTITY_SIG_LEN)
        return -1;
    for (unsigned int i = 0; i < mac_len; i++) {
        sig[2 * i] = hex[mac[i] >> 4];
        sig[2 * i + 1] = hex[mac[i] & 15];
    }
    sig[LIVE_IDENTITY_SIG_LEN] = '\0';
    return 0;
}

int live_identity_verify(const unsigned char *secret, size_t secret_len, int64_t now_s,
                         const char *time_text, const char *principal, const char *scopes,
                         const char *session_id, const char *sig)
{
    char expected[LIVE_IDENTITY_SIG_LEN + 1];
    char *end;
    long long t;

    if (!time_text || !principal || !scopes || !session_id || !sig || !*principal)
        return 0;
    errno = 0;
    t = strtoll(time_text, &end, 10);
    if (errno || end == time_text || *end || t < now_s - LIVE_IDENTITY_MAX_SKEW ||
        t > now_s + LIVE_IDENTITY_MAX_SKEW)
        return 0;
    if (strlen(sig) != LIVE_IDENTITY_SIG_LEN ||
        live_identity_sign(secret, secret_len, t, principal, scopes, session_id, expected))
        return 0;
    return CRYPTO_memcmp(expected, sig, LIVE_IDENTITY_SIG_LEN) == 0;
}

int live_identity_has_scope(const char *scopes, const char *scope)
{
    size_t len = strlen(scope);
    const char *p = scopes;

    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && n && !memcmp(p, scope, n))
            return 1;
        p = end;
    }
    return 0;
}
