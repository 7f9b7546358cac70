/* The text of one <script id="…"> element of an HTML page (TikTok's pages carry their data
 * that way): plain C, linked by both mod_profile and profile-live. The page is upstream input:
 * every scan stays within len. */
#ifndef LIVE_HTML_SCRIPT_H
#define LIVE_HTML_SCRIPT_H

#include <stddef.h>

/* HTML white space. */
int live_html_space(char c);

/* The text of <script id="id">…</script>: 1 with *body and *body_len set, 0 when the page has
 * no such script, -1 when it has one that does not end. Other scripts are skipped whole, so
 * their text cannot fake a tag. */
int live_html_script(const char *h, size_t len, const char *id, const char **body,
                     size_t *body_len);

#endif
