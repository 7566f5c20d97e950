import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';
import { type DatabaseLock, DatabaseLockedError, lockDatabase } from '../store/lock.js';

/**
 * How long the service waits for a CLI verb that holds the database. A verb (purge, retry, restore)
 * takes seconds; refusing at once would end a start systemd made just then with an exit it does not
 * restart on. Well inside the unit's TimeoutStartSec=90.
 */
const VERB_WAIT_MS = 30_000;
const RETRY_MS = 250;

/**
 * The service's lock on its database, taken before the database is opened or a device touched. Another
 * service holding it is refused at once (DatabaseLockedError): two controllers of one home would both
 * read the devices, drain one outbox and switch the same relays.
 */
export async function lockForService(dbPath: string, log: Logger): Promise<DatabaseLock> {
  const deadline = Date.now() + VERB_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      return lockDatabase(dbPath, 'service');
    } catch (err) {
      // An unknown holder is retried too: it may be a service in the instant before it names itself.
      if (!(err instanceof DatabaseLockedError) || err.holder?.role === 'service' || Date.now() >= deadline)
        throw err;
      if (!told) {
        log.warn(
          { holder: err.holder, path: dbPath },
          'database held by a CLI verb; waiting for it to finish',
        );
        told = true;
      }
      await sleep(RETRY_MS);
    }
  }
}
