/* JSON text values for answers built from stored rows. Pure: no httpd. */
#ifndef PROFILE_JSON_TEXT_H
#define PROFILE_JSON_TEXT_H

#include <jansson.h>

/* A JSON string, or null for NULL and for text that is not UTF-8 (json_string refuses it):
 * rows may be written by another program, and one bad value must not break an answer. */
json_t *profile_json_text_or_null(const char *s);

#endif
