/* Small cryptographic helpers over OpenSSL's libcrypto (pure: no httpd). */
#ifndef PROFILE_CRYPTO_H
#define PROFILE_CRYPTO_H

#include <apr_pools.h>

/* 64 lower-case hex characters of SHA-256(data). */
const char *profile_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len);
/* Constant-time comparison of two equal-length strings; 0 when lengths differ. */
int profile_secure_equals(const char *a, const char *b);
/* n cryptographically random characters of [A-Za-z0-9]; NULL if the RNG fails. */
const char *profile_random_base62(apr_pool_t *p, apr_size_t n);

#endif
