/* Per-request state and the request id every request of the server carries. */
#include "routes/request.h"
#include "routes/routes.h"
#include "util/request_id.h"

profile_request_t *profile_request_get(request_rec *r)
{
    profile_request_t *pr = ap_get_module_config(r->request_config, &profile_module);
    if (!pr) {
        pr = apr_pcalloc(r->pool, sizeof(*pr));
        pr->r = r;
        pr->route_index = profile_route_count;
        /* Internal redirects and subrequests inherit the log id of the original request. */
        pr->request_id = r->log_id ? r->log_id : profile_request_id_generate(r->pool);
        ap_set_module_config(r->request_config, &profile_module, pr);
    }
    return pr;
}
