import type { StoreView } from '../control/ops/context.js';
import { silentLogger } from '../log/logger.js';
import { openReadOnly } from '../store/backup.js';
import { SqliteDeadLetters } from '../store/dead-letters.js';
import { DEFAULT_OUTBOX_CAPS, openStore } from '../store/index.js';
import { SqliteOutbox } from '../store/outbox.js';
import { Transactions } from '../store/transactions.js';

export interface DirectStore extends StoreView {
  close(): void;
}

/**
 * The store for a verb run while the service is stopped: read-only for looking, read-write (the
 * service's own open path: integrity check, migrations) for purge and retry.
 */
export function openDirectStore(path: string, mode: 'read' | 'write'): DirectStore {
  if (mode === 'write') {
    const store = openStore({ path, log: silentLogger(), readingsFlushMs: 0 });
    return {
      db: store.db,
      outbox: store.outbox,
      deadLetters: store.deadLetters,
      transaction: (fn) => store.transaction(fn),
      close: () => store.close(),
    };
  }
  const ro = openReadOnly(path);
  const tx = new Transactions(ro.db, path);
  const deadLetters = new SqliteDeadLetters(ro.db, { maxRows: Number.MAX_SAFE_INTEGER });
  return {
    db: ro.db,
    outbox: new SqliteOutbox(ro.db, tx, deadLetters, silentLogger(), DEFAULT_OUTBOX_CAPS),
    deadLetters,
    transaction: (fn) => tx.run(fn),
    close: ro.close,
  };
}
