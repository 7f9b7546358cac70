/* Validation and canonical form of TikTok usernames; see username.h. */
#include <apr_strings.h>
#include <string.h>

#include "profiles/username.h"

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '_' || c == '.';
}

/* The offending character as a person would recognise it. The message ends up in a JSON
 * error, so raw bytes are only quoted when they are printable ASCII (a stray UTF-8 lead byte
 * would make the message itself invalid). */
static const char *describe(apr_pool_t *p, const unsigned char *s)
{
    unsigned cp;
    int n, i;

    if (*s >= 0x20 && *s < 0x7f)
        return apr_psprintf(p, "'%c'", *s);
    if (*s < 0x80)
        return apr_psprintf(p, "control character 0x%02X", *s);
    if ((*s & 0xe0) == 0xc0) {
        cp = *s & 0x1f;
        n = 1;
    }
    else if ((*s & 0xf0) == 0xe0) {
        cp = *s & 0x0f;
        n = 2;
    }
    else if ((*s & 0xf8) == 0xf0) {
        cp = *s & 0x07;
        n = 3;
    }
    else
        return "a byte that is not UTF-8";
    for (i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return "a byte that is not UTF-8";
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    return apr_psprintf(p, "non-ASCII character U+%04X", cp);
}

const char *profile_tiktok_username(apr_pool_t *p, const char *raw, const char **out)
{
    const unsigned char *name;
    apr_size_t i;
    char *canon;

    *out = NULL;
    if (!raw || !*raw)
        return "must not be empty";
    name = (const unsigned char *)(raw[0] == '@' ? raw + 1 : raw);

    /* Characters before length: "é" or "@@x" is wrong because of what it holds, whatever its
     * length, and saying which character helps most. Positions count from 1 in what the
     * client sent. */
    for (i = 0; name[i]; i++)
        if (!name_char(name[i]))
            return apr_psprintf(p, "may contain only letters, digits, '_' and '.' "
                                "(found %s at position %lu)", describe(p, name + i),
                                (unsigned long)(i + 1 + (name != (const unsigned char *)raw)));
    if (i < PROFILE_TIKTOK_NAME_MIN || i > PROFILE_TIKTOK_NAME_MAX)
        return apr_psprintf(p, "must be %d to %d characters long, not counting a leading '@' "
                            "(got %lu)", PROFILE_TIKTOK_NAME_MIN, PROFILE_TIKTOK_NAME_MAX,
                            (unsigned long)i);

    canon = apr_pstrdup(p, (const char *)name);
    for (i = 0; canon[i]; i++)
        if (canon[i] >= 'A' && canon[i] <= 'Z')
            canon[i] = (char)(canon[i] - 'A' + 'a');
    *out = canon;
    return NULL;
}
