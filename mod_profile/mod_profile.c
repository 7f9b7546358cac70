/* mod_profile: the Profile & Engagement API inside httpd. This file holds only the
 * module structure and hook registration; each concern lives in its own directory. */
#include "profile.h"
#include "auth/authn.h"
#include "config/config.h"
#include "lifecycle/lifecycle.h"
#include "metrics/metrics_shm.h"
#include "ratelimit/ratelimit.h"
#include "routes/dispatch.h"
#include "ws/ws_gate.h"

static const char *const ws_fixups_after[] = { "mod_headers.c", NULL };

static void profile_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(profile_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(profile_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(profile_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(profile_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(profile_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(profile_authn_note_failure, NULL, NULL, APR_HOOK_MIDDLE);
    profile_auth_errors_register();
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "profile-role", AUTHZ_PROVIDER_VERSION,
                              &profile_authz_role_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "profile-scope", AUTHZ_PROVIDER_VERSION,
                              &profile_authz_scope_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(profile_ratelimit_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* After the rate limiter (MIDDLE), and after mod_headers so nothing changes the signed
     * identity headers once they are set; mod_proxy's handler forwards them. */
    ap_hook_fixups(profile_ws_fixups, ws_fixups_after, NULL, APR_HOOK_LAST);
    ap_hook_handler(profile_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(profile_metrics_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA profile_module = {
    STANDARD20_MODULE_STUFF,
    profile_create_dir_config,
    profile_merge_dir_config,
    profile_create_server_config,
    profile_merge_server_config,
    profile_directives,
    profile_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
