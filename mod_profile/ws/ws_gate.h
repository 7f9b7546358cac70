/* The WebSocket gateway: a fixups hook for the <Location> with `ProfileWebSocket On` that
 * proxies /ws/comments/{session_id} to the live sidecar. It runs after authentication,
 * authorization and the rate limiter, and before mod_proxy's handler:
 *   - 400 not_websocket unless a GET with Upgrade: websocket;
 *   - 400 invalid_session_id unless the path ends in /comments/<id>, id ^[A-Za-z0-9_-]{1,64}$;
 *   - 401/403 when there is no principal holding comments:read (normally answered already by
 *     AuthType Profile and Require profile-scope comments:read);
 *   - 429 too_many_streams over ProfileWebSocketMaxPerKey open streams of the principal;
 *   - then removes every X-Profile-* request header and adds the signed identity
 *     (common/live_identity.h) the sidecar checks. */
#ifndef PROFILE_WS_GATE_H
#define PROFILE_WS_GATE_H

#include "profile.h"

int profile_ws_fixups(request_rec *r);

#endif
