import { CliError, EXIT } from '../control/client/exit-codes.js';
import { errorText } from '../core/errors.js';
import { type DatabaseLock, DatabaseLockedError, lockDatabase } from '../store/lock.js';

/**
 * The database lock for a verb that writes the file itself (the service stopped). A lock another
 * process holds ends the verb with `refusal`, given the holder's description; the verb never writes
 * beside a running service.
 */
export function lockForVerb(dbPath: string, refusal: (held: string) => CliError): DatabaseLock {
  try {
    return lockDatabase(dbPath, 'verb');
  } catch (err) {
    if (err instanceof DatabaseLockedError) throw refusal(err.message);
    throw new CliError(errorText(err), EXIT.problem);
  }
}
