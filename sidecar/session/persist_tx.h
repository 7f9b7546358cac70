/* The persister's transaction (session/persist_tx.c): writes one batch taken from the
 * sessions (session/session_batch.h) in one transaction, and after the COMMIT hands its
 * frames to the WebSocket loop. Persister thread only. */
#ifndef LIVE_PERSIST_TX_H
#define LIVE_PERSIST_TX_H

#include "core/config.h"
#include "session/session_batch.h"

void live_tx_init(const live_config_t *cfg);
/* One attempt: 0 when committed. On failure everything was rolled back (or the connection
 * is gone) and the same batch is to be retried as it is; live_tx_error says what failed. */
int  live_tx_write(live_batch_t *batch);
const char *live_tx_error(void);
/* After a committed write: sets the entries' lost / committed_offset and publishes the
 * frames (live_hub_publish), the final status frame flagged final. */
void live_tx_publish(live_batch_t *batch);
/* Frees what the attempts kept and closes the connection. */
void live_tx_close(void);

#endif
