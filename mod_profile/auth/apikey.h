/* API key format: pk_<id>_<secret>_<check>
 *   id     12 characters [A-Za-z0-9], public, the key's database id
 *   secret 32 characters [A-Za-z0-9]
 *   check  6 characters [A-Za-z0-9]: CRC-32 of "pk_<id>_<secret>" in base 62, so typos and
 *          random strings are refused without a database lookup.
 * Keys are stored only as profile_sha256_hex(whole key). Pure code: no httpd. */
#ifndef PROFILE_APIKEY_H
#define PROFILE_APIKEY_H

#include <apr_pools.h>

#define PROFILE_APIKEY_PREFIX "pk_"
#define PROFILE_APIKEY_ID_LEN 12
#define PROFILE_APIKEY_SECRET_LEN 32
#define PROFILE_APIKEY_CHECK_LEN 6
#define PROFILE_APIKEY_LEN (3 + PROFILE_APIKEY_ID_LEN + 1 + PROFILE_APIKEY_SECRET_LEN + 1 \
                            + PROFILE_APIKEY_CHECK_LEN)

/* A new key; *id gets its id. NULL if the RNG fails. */
const char *profile_apikey_generate(apr_pool_t *p, const char **id);
/* A new key with the given id (rotation keeps the id). */
const char *profile_apikey_generate_for(apr_pool_t *p, const char *id);
/* 1 when key has the format and a correct check; *id then gets the id. */
int profile_apikey_parse(apr_pool_t *p, const char *key, const char **id);

#endif
