/* The generated avatars (identicon and initials) as SVG text; see avatar_svg.h. Everything
 * is derived from the FNV-1a hash of the name, so the same name always gives the same bytes
 * and the year-long public caching of these URLs is safe. */
#include <apr_strings.h>
#include <string.h>

#include "profiles/avatar_svg.h"
#include "util/shm_block.h"

#define SVG_OPEN "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "

/* Backgrounds for white initials, each with a contrast ratio of at least 4.5:1 against
 * #ffffff (WCAG AA for normal text); the lowest here is 4.8. */
static const char *const palette[] = {
    "#c62828", "#ad1457", "#6a1b9a", "#4527a0", "#283593", "#1565c0",
    "#0277bd", "#00695c", "#2e7d32", "#bf360c", "#4e342e", "#37474f",
};
#define PALETTE_SIZE (sizeof(palette) / sizeof(palette[0]))

static apr_uint64_t name_hash(const char *username)
{
    return profile_fnv1a(PROFILE_FNV1A_INIT, username, strlen(username));
}

/* Sizes outside the documented range are clamped rather than refused: the caller validates
 * the query, this only keeps the document sane. */
static int clamp_size(int size)
{
    return size < PROFILE_AVATAR_SIZE_MIN ? PROFILE_AVATAR_SIZE_MIN
         : size > PROFILE_AVATAR_SIZE_MAX ? PROFILE_AVATAR_SIZE_MAX : size;
}

/* HSL (hue in degrees, saturation and lightness in thousandths) to 0..255 channels, in
 * integers so the colour is the same on every platform. */
static void hsl_to_rgb(unsigned hue, unsigned sat, unsigned light, unsigned rgb[3])
{
    int l2 = 2 * (int)light - 1000;
    unsigned chroma = (1000 - (unsigned)(l2 < 0 ? -l2 : l2)) * sat / 1000;
    int off = (int)(hue % 120) - 60;
    unsigned second = chroma * (60 - (unsigned)(off < 0 ? -off : off)) / 60;
    unsigned base = light - chroma / 2, r = 0, g = 0, b = 0;

    switch (hue / 60) {
    case 0: r = chroma; g = second; break;
    case 1: r = second; g = chroma; break;
    case 2: g = chroma; b = second; break;
    case 3: g = second; b = chroma; break;
    case 4: r = second; b = chroma; break;
    default: r = chroma; b = second; break;
    }
    rgb[0] = ((r + base) * 255 + 500) / 1000;
    rgb[1] = ((g + base) * 255 + 500) / 1000;
    rgb[2] = ((b + base) * 255 + 500) / 1000;
}

const char *profile_avatar_identicon(apr_pool_t *p, const char *username, int size)
{
    apr_uint64_t h = name_hash(username ? username : "");
    /* 15 bits fill the left three columns; the right two mirror them. An empty pattern (one
     * name in 32768) would look like a broken image, so it becomes a checkerboard. */
    unsigned cells = (unsigned)(h & 0x7fff) ? (unsigned)(h & 0x7fff) : 0x5555;
    unsigned rgb[3];
    char path[25 * sizeof("M4 4h1v1h-1z")], *at = path;
    int row, col, bit;

    /* Any hue, saturated enough to read as a colour and darker than mid-grey so the
     * pattern shows on the light ground. */
    hsl_to_rgb((unsigned)((h >> 16) % 360), 550 + (unsigned)((h >> 32) % 200),
               350 + (unsigned)((h >> 40) % 120), rgb);
    for (row = 0; row < 5; row++)
        for (col = 0; col < 5; col++) {
            bit = row * 3 + (col < 3 ? col : 4 - col);
            if (cells & (1u << bit))
                at += apr_snprintf(at, sizeof(path) - (apr_size_t)(at - path),
                                   "M%d %dh1v1h-1z", col, row);
        }
    *at = '\0';
    size = clamp_size(size);
    return apr_psprintf(p, SVG_OPEN "viewBox=\"-0.5 -0.5 6 6\" shape-rendering=\"crispEdges\">"
                        "<rect x=\"-0.5\" y=\"-0.5\" width=\"6\" height=\"6\" fill=\"#f0f0f0\"/>"
                        "<path fill=\"#%02x%02x%02x\" d=\"%s\"/></svg>",
                        size, size, rgb[0], rgb[1], rgb[2], path);
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

const char *profile_initials_of(apr_pool_t *p, const char *username)
{
    const char *s = username ? username : "";
    char out[2];
    int n = 0;

    while (*s && !is_alnum(*s))
        s++;
    if (!*s)
        return "?";
    out[n++] = upper(*s++);
    while (*s && *s != '_' && *s != '.')
        s++;
    while (*s && !is_alnum(*s))
        s++;
    if (*s)
        out[n++] = upper(*s);
    return apr_pstrmemdup(p, out, (apr_size_t)n);
}

const char *profile_avatar_initials(apr_pool_t *p, const char *username, int size)
{
    const char *initials = profile_initials_of(p, username);

    size = clamp_size(size);
    /* dy rather than dominant-baseline: it centres the capitals in every renderer. */
    return apr_psprintf(p, SVG_OPEN "viewBox=\"0 0 100 100\">"
                        "<circle cx=\"50\" cy=\"50\" r=\"50\" fill=\"%s\"/>"
                        "<text x=\"50\" y=\"50\" dy=\"0.35em\" text-anchor=\"middle\" "
                        "fill=\"#ffffff\" font-family=\"system-ui, -apple-system, 'Segoe UI', "
                        "Roboto, 'Helvetica Neue', Arial, sans-serif\" font-size=\"%d\" "
                        "font-weight=\"600\">%s</text></svg>",
                        size, size, palette[name_hash(username ? username : "") % PALETTE_SIZE],
                        initials[1] ? 40 : 48, initials);
}
