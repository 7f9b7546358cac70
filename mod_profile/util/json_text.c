/* JSON text values (json_text.h). */
#include "util/json_text.h"

json_t *profile_json_text_or_null(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;

    return v ? v : json_null();
}
