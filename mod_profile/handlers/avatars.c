/* GET /avatars/generated/{file} and /avatars/initials/{file}: the generator and initials
 * tiers' SVGs. Public (they are embedded in <img> tags) and cacheable for a year: the picture
 * is a pure function of the name and the size. */
#include <apr_strings.h>
#include <string.h>

#include "handlers/handler_util.h"
#include "handlers/handlers.h"
#include "profiles/avatar_svg.h"
#include "util/respond.h"

#define SVG_SUFFIX ".svg"
#define DEFAULT_SIZE 1080

static int send_avatar(profile_request_t *pr,
                       const char *(*draw)(apr_pool_t *, const char *, int))
{
    request_rec *r = pr->r;
    const char *file = apr_table_get(pr->params, "file"), *username, *svg;
    apr_size_t n = strlen(file);
    apr_int64_t size;

    if (n <= strlen(SVG_SUFFIX) || strcmp(file + n - strlen(SVG_SUFFIX), SVG_SUFFIX) != 0)
        return profile_handler_not_found(pr, "Avatars are <username>.svg");
    if (profile_handler_tiktok_username(
            pr, apr_pstrmemdup(r->pool, file, n - strlen(SVG_SUFFIX)), &username))
        return OK;
    if (profile_query_int(pr, "size", PROFILE_AVATAR_SIZE_MIN, PROFILE_AVATAR_SIZE_MAX,
                          DEFAULT_SIZE, &size) != 0)
        return OK;
    svg = draw(r->pool, username, (int)size);
    ap_set_content_type(r, "image/svg+xml");
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=31536000, immutable");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Content-Security-Policy", "default-src 'none'; style-src "
                                                              "'unsafe-inline'");
    ap_set_content_length(r, (apr_off_t)strlen(svg));
    if (!r->header_only)
        ap_rputs(svg, r);
    return OK;
}

int profile_handle_avatar_generated(profile_request_t *pr)
{
    return send_avatar(pr, profile_avatar_identicon);
}

int profile_handle_avatar_initials(profile_request_t *pr)
{
    return send_avatar(pr, profile_avatar_initials);
}
