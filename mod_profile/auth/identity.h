/* The rules for account names, shared by the API and profilectl (pure: no httpd). */
#ifndef PROFILE_IDENTITY_H
#define PROFILE_IDENTITY_H

#define PROFILE_USERNAME_MIN 3
#define PROFILE_USERNAME_MAX 32
#define PROFILE_EMAIL_MAX 254

/* 3..32 characters. */
int profile_username_length_ok(const char *username);
/* Only letters, digits, '_', '.' and '-'. */
int profile_username_chars_ok(const char *username);
/* local@domain.tld: one '@', a local part of 1..64, a dotted domain, at most 254 bytes,
 * no spaces or control characters. */
int profile_email_ok(const char *email);

#endif
