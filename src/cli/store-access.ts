import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { ControlClient } from '../control/client/client.js';
import { CliError, EXIT } from '../control/client/exit-codes.js';
import { serviceOrDirect } from '../control/client/service-call.js';
import { OpError, type OpsContext } from '../control/ops/context.js';
import { loadVerbConfig } from './config-context.js';
import { openDirectStore } from './direct-store.js';
import { lockForVerb } from './verb-lock.js';

/**
 * Runs a store verb on the running service (it owns the database writes) or, with it stopped, on the
 * database file: read-only to look, read-write to change. A change made on the file takes the
 * database lock first, so a service that runs but does not answer on this config's control socket
 * (another control.socket, its channel down) is refused with exit 3 rather than written beside.
 */
export async function onStore<T>(
  cmd: Command,
  mode: 'read' | 'write',
  viaService: (service: ControlClient) => Promise<T>,
  direct: (ops: OpsContext) => T,
): Promise<{ value: T; via: 'service' | 'direct' }> {
  const { config } = loadVerbConfig(cmd);
  return serviceOrDirect(config.control.socket, viaService, async () => {
    const path = config.store.path;
    if (!existsSync(path)) {
      throw new CliError(
        `no database at ${path} and the service is not running: start it (systemctl start powerdeal) or check store.path`,
        EXIT.problem,
      );
    }
    const lock =
      mode === 'write'
        ? lockForVerb(
            path,
            (held) =>
              new CliError(
                `refusing to change the database: ${held}; a change goes through the running service, and nothing answers on ${config.control.socket} (control.socket): use the config that service runs with, or wait until that process has ended`,
                EXIT.unreachable,
              ),
          )
        : null;
    try {
      const store = openDirectStore(path, mode);
      try {
        return direct({ store, now: Date.now });
      } catch (err) {
        if (err instanceof OpError) {
          throw new CliError(err.message, err.kind === 'usage' ? EXIT.usage : EXIT.problem);
        }
        throw err;
      } finally {
        store.close();
      }
    } finally {
      lock?.release();
    }
  });
}
