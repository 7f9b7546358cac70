/* UTF-8 validation and cleaning (utf8.h). */
#include <string.h>

#include "events/utf8.h"

size_t live_utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;

    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

size_t live_utf8_copy(char *dst, size_t max, const char *src, size_t n)
{
    static const char repl[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0, i = 0;

    while (i < n) {
        size_t len = live_utf8_char(s + i, n - i);
        const char *piece = len ? src + i : repl;
        size_t plen = len ? len : 3;
        if (o + plen > max)
            break;
        memcpy(dst + o, piece, plen);
        o += plen;
        i += len ? len : 1;
    }
    dst[o] = '\0';
    return o;
}
