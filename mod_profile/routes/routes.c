/* The route table: every endpoint, its method, handler and minimum authentication.
 * Each route also answers under PROFILE_API_PREFIX. */
#include <apr_strings.h>

#include "profile.h"
#include "routes/routes.h"
#include "handlers/handlers.h"

const profile_route_t profile_routes[] = {
    { M_GET, "/healthcheck",         profile_handle_healthcheck,         PROFILE_AUTH_PUBLIC },
    { M_GET, "/health/live",         profile_handle_health_live,         PROFILE_AUTH_PUBLIC },
    { M_GET, "/health/ready",        profile_handle_health_ready,        PROFILE_AUTH_PUBLIC },
    { M_GET, "/monitoring/ping",     profile_handle_monitoring_ping,     PROFILE_AUTH_PUBLIC },
    { M_GET, "/monitoring/detailed", profile_handle_monitoring_detailed, PROFILE_AUTH_PUBLIC },
    { M_GET, "/monitoring/metrics",  profile_handle_monitoring_metrics,  PROFILE_AUTH_PUBLIC },
};

const int profile_route_count = sizeof(profile_routes) / sizeof(profile_routes[0]);

const char *profile_route_label(apr_pool_t *p, int index)
{
    if (index < 0 || index >= profile_route_count)
        return "unmatched";
    return apr_pstrcat(p, profile_method_name(profile_routes[index].method), " ",
                       profile_routes[index].pattern, NULL);
}
