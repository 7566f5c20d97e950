import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, serviceOrDirect } from '../../control/client/service-call.js';
import { errorText } from '../../core/errors.js';
import { backupDatabase, openReadOnly } from '../../store/backup.js';
import { loadVerbConfig } from '../config-context.js';
import { dim, printJson } from '../output.js';

interface BackupResult {
  path: string;
  bytes: number;
  durationMs: number;
}

/** `backups/powerdeal-2026-11-21T06-01-02-123Z.db` next to the database. */
function defaultBackupPath(storePath: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  return join(dirname(storePath), 'backups', `powerdeal-${stamp}.db`);
}

/** `powerdeal backup [--to FILE]`: an online, checked copy of the database. */
export function register(program: Command): void {
  program
    .command('backup')
    .description('copy the database while the service runs (checked with integrity_check before it is kept)')
    .option(
      '--to <file>',
      'where to write the copy (default: backups/powerdeal-<time>.db next to the database)',
    )
    .option('--json', 'machine-readable output')
    .action(async (opts: { to?: string; json?: boolean }, cmd: Command) => {
      const { config } = loadVerbConfig(cmd);
      const to = opts.to !== undefined ? resolve(opts.to) : defaultBackupPath(config.store.path, Date.now());
      const { value, via } = await serviceOrDirect(
        config.control.socket,
        (service) => callService<BackupResult>(service, 'backup', { to }, 300_000),
        async () => {
          let source: ReturnType<typeof openReadOnly>;
          try {
            source = openReadOnly(config.store.path);
          } catch (err) {
            throw new CliError(`cannot open ${config.store.path}: ${errorText(err)}`, EXIT.problem);
          }
          try {
            mkdirSync(dirname(to), { recursive: true });
            return { path: to, ...(await backupDatabase(source.db, to)) };
          } finally {
            source.close();
          }
        },
      );
      if (opts.json) printJson({ via, ...value });
      else {
        process.stdout.write(
          `backup written: ${value.path} (${(value.bytes / 1024).toFixed(0)} KiB, ${value.durationMs.toFixed(0)} ms, integrity ok)\n`,
        );
        process.stdout.write(
          `${dim(via === 'service' ? 'online, by the running service' : 'service not running: copied directly')}\n`,
        );
      }
    });
}
