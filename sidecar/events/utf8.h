/* UTF-8 as jansson and PostgreSQL accept it: what every text of an event is cleaned to. */
#ifndef LIVE_UTF8_H
#define LIVE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 character at s (n bytes available), 0 when invalid: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no NUL. */
size_t live_utf8_char(const unsigned char *s, size_t n);

/* Copies n bytes of src into dst (max bytes and a NUL) as valid UTF-8: invalid bytes and NULs
 * become U+FFFD, the text is cut on a character boundary. Returns the bytes written. */
size_t live_utf8_copy(char *dst, size_t max, const char *src, size_t n);

#endif
