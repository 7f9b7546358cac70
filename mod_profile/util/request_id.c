/* Request id validation and generation; see request_id.h. */
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "util/request_id.h"

int profile_request_id_valid(const char *id)
{
    apr_size_t n = 0;
    if (!id)
        return 0;
    for (; id[n]; n++)
        if (n == PROFILE_REQUEST_ID_MAX || !(apr_isalnum(id[n]) || strchr("._:-", id[n])))
            return 0;
    return n > 0;
}

const char *profile_request_id_generate(apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    char *out = apr_palloc(p, sizeof(raw) * 2 + 1);
    apr_size_t i;

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        /* Uniqueness, not secrecy, is what a request id needs. */
        apr_uint64_t t = (apr_uint64_t)apr_time_now(), a = (apr_uint64_t)(apr_uintptr_t)out;
        memcpy(raw, &t, sizeof(t));
        memcpy(raw + sizeof(t), &a, sizeof(a));
    }
    for (i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xf];
    }
    out[sizeof(raw) * 2] = '\0';
    return out;
}
