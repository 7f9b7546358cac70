/* TikTok usernames as the API accepts them: an optional leading '@', then 2..24 characters of
 * [A-Za-z0-9_.]. Compared case-insensitively: the canonical form is lower case. Pure. */
#ifndef PROFILE_USERNAME_H
#define PROFILE_USERNAME_H

#include <apr_pools.h>

#define PROFILE_TIKTOK_NAME_MIN 2
#define PROFILE_TIKTOK_NAME_MAX 24

/* The canonical (lower-case, without '@') name in *out and NULL, or NULL in *out and a
 * message for the client saying what is wrong, e.g. "must be 2 to 24 characters long" or
 * "may contain only letters, digits, '_' and '.' (found '-' at position 3)". raw is the
 * decoded path segment. */
const char *profile_tiktok_username(apr_pool_t *p, const char *raw, const char **out);

#endif
