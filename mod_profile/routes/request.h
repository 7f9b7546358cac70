/* Per-request state shared by the dispatcher, handlers and the logging hook. */
#ifndef PROFILE_REQUEST_H
#define PROFILE_REQUEST_H

#include <jansson.h>
#include "config/config.h"
#include "routes/router.h"
#include "auth/principal.h"

typedef struct profile_request_t {
    request_rec *r;
    const char *request_id;
    profile_server_config_t *sconf;
    profile_dir_config_t *dconf;
    const profile_route_t *route;  /* NULL until matched */
    int route_index;               /* profile_route_count when unmatched */
    apr_table_t *params;           /* path captures */
    json_t *body;                  /* parsed JSON body or NULL; freed by an r->pool cleanup */
    const profile_principal_t *principal; /* set for routes that need authentication */
} profile_request_t;

/* The state of r, created on first use (post_read_request creates it for every request). */
profile_request_t *profile_request_get(request_rec *r);

#endif
