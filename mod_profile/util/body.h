/* Reading a bounded request body and parsing it as JSON. */
#ifndef PROFILE_BODY_H
#define PROFILE_BODY_H

#include "routes/request.h"

/* Reads the body of pr->r, if any, into pr->body. Returns OK, or DONE when it has already
 * sent an error answer (413 over ProfileMaxBodySize, 400 malformed JSON, 415 non-JSON
 * content type). */
int profile_body_read_json(profile_request_t *pr);

#endif
