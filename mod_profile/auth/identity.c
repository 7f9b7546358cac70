/* Account name rules; see identity.h. */
#include <string.h>

#include "auth/identity.h"

int profile_username_length_ok(const char *username)
{
    size_t len = strlen(username);
    return len >= PROFILE_USERNAME_MIN && len <= PROFILE_USERNAME_MAX;
}

int profile_username_chars_ok(const char *username)
{
    return username[strspn(username, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789_.-")] == '\0';
}

int profile_email_ok(const char *email)
{
    const char *at = strchr(email, '@'), *domain, *s;
    size_t domain_len;

    if (!at || strchr(at + 1, '@') || at == email || at - email > 64
        || strlen(email) > PROFILE_EMAIL_MAX)
        return 0;
    domain = at + 1;
    domain_len = strlen(domain);
    if (!domain_len || !strchr(domain, '.') || *domain == '.' || domain[domain_len - 1] == '.'
        || strstr(domain, ".."))
        return 0;
    for (s = email; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}
