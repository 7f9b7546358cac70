/* The request hooks of the API: request ids for every request, and the handler that
 * routes requests under `SetHandler profile`. */
#ifndef PROFILE_DISPATCH_H
#define PROFILE_DISPATCH_H

#include "profile.h"

#define PROFILE_API_VERSION "1"

int profile_post_read_request(request_rec *r);
int profile_handler(request_rec *r);

#endif
