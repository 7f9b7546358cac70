/* The benchmark's baseline: a handler that does the least an API answer needs (a fixed
 * JSON body about the size of /healthcheck's), loaded into the same httpd as mod_profile
 * so the ratio between the two measures mod_profile's own cost. Built by test/bench/run. */
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <string.h>

#define PROFILE_BENCH_HANDLER "bench-trivial"

static const char profile_bench_body[] =
    "{\"status\":\"healthy\",\"service\":\"bench-trivial\",\"version\":\"0.1.0\","
    "\"uptime_s\":0,\"timestamp\":\"2026-01-01T00:00:00.000Z\"}";

static int profile_bench_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, PROFILE_BENCH_HANDLER) != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, sizeof(profile_bench_body) - 1);
    if (!r->header_only)
        ap_rwrite(profile_bench_body, sizeof(profile_bench_body) - 1, r);
    return OK;
}

static void profile_bench_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(profile_bench_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(profile_bench_trivial) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    profile_bench_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    0
#endif
};
