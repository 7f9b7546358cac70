/* <script id="…"> lookup in HTML pages (html_script.h). */
#include <string.h>
#include <strings.h>

#include "html_script.h"

int live_html_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Where needle (lower-case ASCII) first occurs in h[from, len) ignoring case, or len. */
static size_t find_ci(const char *h, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = from; i + n <= len; i++)
        if ((h[i] | 0x20) == (needle[0] | 0x20) && strncasecmp(h + i, needle, n) == 0)
            return i;
    return len;
}

/* Reads the attributes of a tag from h[*pos] (just after its name) and tells whether one of
 * them is id="id"; *pos ends just past the tag's '>', or at len when the tag never ends. */
static int tag_has_id(const char *h, size_t len, size_t *pos, const char *id)
{
    size_t i = *pos, name, name_len, value = 0, value_len;
    int found = 0;
    char quote;

    while (i < len && h[i] != '>') {
        if (live_html_space(h[i]) || h[i] == '/') {
            i++;
            continue;
        }
        name = i;
        while (i < len && !live_html_space(h[i]) && h[i] != '=' && h[i] != '>' && h[i] != '/')
            i++;
        name_len = i - name;
        while (i < len && live_html_space(h[i]))
            i++;
        value_len = 0;
        if (i < len && h[i] == '=') {
            i++;
            while (i < len && live_html_space(h[i]))
                i++;
            if (i < len && (h[i] == '"' || h[i] == '\'')) {
                quote = h[i++];
                value = i;
                while (i < len && h[i] != quote)
                    i++;
                value_len = i - value;
                if (i < len)
                    i++;
            }
            else {
                value = i;
                while (i < len && !live_html_space(h[i]) && h[i] != '>')
                    i++;
                value_len = i - value;
            }
        }
        if (name_len == 2 && strncasecmp(h + name, "id", 2) == 0 && value_len == strlen(id)
            && memcmp(h + value, id, value_len) == 0)
            found = 1;
    }
    *pos = i < len ? i + 1 : len;
    return found;
}

/* The text of <script id="id">…</script>: 1 with *body and *body_len set, 0 when the page has
 * no such script, -1 when it has one that does not end. Other scripts are skipped whole, so
 * their text cannot fake a tag. */
int live_html_script(const char *h, size_t len, const char *id, const char **body,
                     size_t *body_len)
{
    size_t i = 0, end;
    int match;

    while ((i = find_ci(h, len, i, "<script")) < len) {
        i += strlen("<script");
        if (i < len && !live_html_space(h[i]) && h[i] != '>' && h[i] != '/')
            continue;                   /* <scripts…> or the like */
        match = tag_has_id(h, len, &i, id);
        end = find_ci(h, len, i, "</script");
        if (match) {
            if (end == len)
                return -1;
            *body = h + i;
            *body_len = end - i;
            return 1;
        }
        i = end;
    }
    return 0;
}

