/* Password hashing (argon2id, PHC string form) and the password policy. Pure code
 * (libargon2, APR): the per-process bound on concurrent hashing lives in auth/hash_gate.c. */
#ifndef PROFILE_PASSWORD_H
#define PROFILE_PASSWORD_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>

typedef struct {
    int memory_kib;            /* default 19456 (19 MiB) */
    int iterations;            /* default 2 */
    int parallelism;           /* default 1 */
} profile_argon2_params_t;

#define PROFILE_PASSWORD_MAX_BYTES 256

/* "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", or NULL on failure. */
const char *profile_password_hash(apr_pool_t *p, const char *password,
                                  const profile_argon2_params_t *params);
/* 1 when password matches the PHC string, 0 otherwise (also for malformed strings). */
int profile_password_verify(const char *phc, const char *password);
/* 1 when phc was made with other parameters than params (rehash on next login). */
int profile_password_needs_rehash(const char *phc, const profile_argon2_params_t *params);

/* The policy: min_length..PROFILE_PASSWORD_MAX_BYTES bytes, not in blocklist (lower-cased
 * keys), not containing the username (case-insensitive). Returns NULL when it passes, else
 * an array of const char * messages, one per unmet rule. */
apr_array_header_t *profile_password_check(apr_pool_t *p, const char *password,
                                           const char *username, int min_length,
                                           apr_hash_t *blocklist);
/* Reads one password per line ('#' lines ignored) into a hash of lower-cased entries. */
apr_status_t profile_password_blocklist_load(apr_pool_t *p, const char *path, apr_hash_t **out);

#endif
