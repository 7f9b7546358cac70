/* mod_profile: the Profile & Engagement API inside httpd. This file holds only the
 * module structure and hook registration; each concern lives in its own directory. */
#include "profile.h"
#include "config/config.h"
#include "lifecycle/lifecycle.h"
#include "metrics/metrics_shm.h"
#include "routes/dispatch.h"

static void profile_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(profile_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(profile_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(profile_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
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
