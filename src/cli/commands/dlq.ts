import type { Command } from 'commander';
import { Option } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { ago, callService, intFlag } from '../../control/client/service-call.js';
import { listDeadLetters, purgeDeadLetters, retryDeadLetters } from '../../control/ops/dead-letters.js';
import type { DeadLetterRetryResult, DeadLetterView } from '../../views/outbox.js';
import { dim, green, printJson, red, table } from '../output.js';
import { onStore } from '../store-access.js';

function ids(args: string[]): number[] {
  return args.map((a) => {
    if (!/^\d+$/.test(a))
      throw new CliError(`a dead letter id is a whole number (see dlq ls), got "${a}"`, EXIT.usage);
    return Number(a);
  });
}

/** `powerdeal dlq ls|retry|purge`: messages refused for good, inbound and outbound. */
export function register(program: Command): void {
  const dlq = program
    .command('dlq')
    .description(
      'dead letters: messages refused for good (malformed, unsigned, expired, refused by the broker)',
    );

  dlq
    .command('ls')
    .description('list dead letters, newest first, with the reason')
    .addOption(new Option('--direction <dir>', 'only inbound or outbound').choices(['in', 'out']))
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { direction?: 'in' | 'out'; limit: string; json?: boolean }, cmd: Command) => {
      const query = { direction: opts.direction, limit: intFlag('limit', opts.limit, 1, 10_000) };
      const { value: rows, via } = await onStore(
        cmd,
        'read',
        (s) => callService<DeadLetterView[]>(s, 'dlq.list', query),
        (ops) => listDeadLetters(ops, query),
      );
      if (opts.json) {
        printJson({ via, rows });
        return;
      }
      if (rows.length === 0) process.stdout.write('no dead letters\n');
      else {
        const now = Date.now();
        process.stdout.write(
          `${table(
            ['ID', 'AGE', 'DIR', 'REASON', 'CLASS', 'FROM', 'BYTES', 'RETRY', 'TOPIC'],
            rows.map((d) => [
              String(d.id),
              ago(now - d.ts),
              d.direction,
              d.reason,
              d.class ?? '',
              d.from ?? '',
              String(d.payloadBytes),
              d.retryable ? green('yes') : dim('no'),
              d.topic,
            ]),
          )}\n`,
        );
      }
    });

  dlq
    .command('retry <ids...>')
    .description('send outbound dead letters again (back to the outbox, same message id)')
    .option('--json', 'machine-readable output')
    .action(async (args: string[], opts: { json?: boolean }, cmd: Command) => {
      const wanted = ids(args);
      const { value, via } = await onStore(
        cmd,
        'write',
        (s) => callService<DeadLetterRetryResult>(s, 'dlq.retry', { ids: wanted }),
        (ops) => retryDeadLetters(ops, { ids: wanted }),
      );
      if (opts.json) printJson({ via, ...value });
      else {
        for (const r of value.requeued)
          process.stdout.write(`${green('requeued')} ${r.id} as outbox row ${r.rowId}\n`);
        for (const r of value.refused) process.stdout.write(`${red('refused')} ${r.id}: ${r.reason}\n`);
      }
      process.exitCode = value.refused.length > 0 ? EXIT.problem : EXIT.ok;
    });

  dlq
    .command('purge [ids...]')
    .description('delete the given dead letters, or all of them')
    .option('--yes', 'really delete (required)')
    .option('--json', 'machine-readable output')
    .action(async (args: string[], opts: { yes?: boolean; json?: boolean }, cmd: Command) => {
      const wanted = args.length > 0 ? ids(args) : undefined;
      if (!opts.yes) {
        throw new CliError(
          `purge deletes ${wanted ? `${wanted.length} dead letter(s)` : 'every dead letter'} for good: add --yes`,
          EXIT.usage,
        );
      }
      const { value, via } = await onStore(
        cmd,
        'write',
        (s) => callService<{ purged: number }>(s, 'dlq.purge', { ids: wanted }),
        (ops) => purgeDeadLetters(ops, { ids: wanted }),
      );
      if (opts.json) printJson({ via, ...value });
      else process.stdout.write(`${value.purged} dead letter(s) purged\n`);
    });
}
