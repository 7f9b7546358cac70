/* The two avatars made here, both deterministic functions of the username (so their URLs
 * can be cached for a year): a 5×5 mirrored identicon (the generator tier) and the user's
 * initials on a colour derived from the name (the initials tier). Pure. */
#ifndef PROFILE_AVATAR_SVG_H
#define PROFILE_AVATAR_SVG_H

#include <apr_pools.h>

#define PROFILE_AVATAR_SIZE_MIN 16
#define PROFILE_AVATAR_SIZE_MAX 2048

/* A complete SVG document (width = height = size pixels) for the canonical username.
 * The text depends on nothing but (username, size). */
const char *profile_avatar_identicon(apr_pool_t *p, const char *username, int size);

/* Initials: the first letter or digit of the name, upper case, plus the first letter or digit
 * after a '_' or '.' when there is one ("john_doe" → "JD", "x.y" → "XY", "__a" → "A");
 * "?" when the name has none. Colour: one of a fixed palette of backgrounds with white-text
 * contrast of at least 4.5:1, picked by a hash of the name. */
const char *profile_avatar_initials(apr_pool_t *p, const char *username, int size);

/* The initials text alone (for tests and the JSON), e.g. "JD". */
const char *profile_initials_of(apr_pool_t *p, const char *username);

#endif
