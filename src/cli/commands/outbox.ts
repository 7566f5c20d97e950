import { type Command, Option } from 'commander';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { ago, callService, intFlag } from '../../control/client/service-call.js';
import { listOutbox, outboxStats, purgeOutbox, retryOutbox } from '../../control/ops/outbox.js';
import type { OutboxStatsDetail } from '../../store/outbox.js';
import { OUTBOX_POLICIES, OUTBOX_PRIORITY, type OutboxClass } from '../../store/outbox-types.js';
import type { OutboxEntry } from '../../views/outbox.js';
import { dim, printJson, red, table, yellow } from '../output.js';
import { onStore } from '../store-access.js';

const CLASSES = OUTBOX_PRIORITY.join(', ');

/** `--class`, limited to the outbox's classes (commander refuses others with a usage error). */
const classOption = () =>
  new Option('--class <class>', `only this class (${CLASSES})`).choices(OUTBOX_PRIORITY);

const viaNote = (via: 'service' | 'direct') =>
  dim(via === 'service' ? 'from the running service' : 'from the database file (service not running)');

/** `powerdeal outbox ls|stats|retry|purge`: what waits to be sent, and what to do about it. */
export function register(program: Command): void {
  const outbox = program
    .command('outbox')
    .description('messages waiting for the broker: list, stats, retry, purge');

  outbox
    .command('ls')
    .description('list waiting rows in drain order (promises first, telemetry last)')
    .addOption(classOption())
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { class?: OutboxClass; limit: string; json?: boolean }, cmd: Command) => {
      const query = { class: opts.class, limit: intFlag('limit', opts.limit, 1, 10_000) };
      const { value: rows, via } = await onStore(
        cmd,
        'read',
        (s) => callService<OutboxEntry[]>(s, 'outbox.list', query),
        (ops) => listOutbox(ops, query),
      );
      if (opts.json) {
        printJson({ via, rows });
        return;
      }
      if (rows.length === 0) process.stdout.write(`outbox empty${opts.class ? ` for ${opts.class}` : ''}\n`);
      else {
        const now = Date.now();
        process.stdout.write(
          `${table(
            ['ROW', 'CLASS', 'AGE', 'TRIES', 'BYTES', 'TOPIC', 'LAST ERROR'],
            rows.map((r) => [
              String(r.rowId),
              r.class,
              ago(now - r.enqueuedAt),
              r.attempts > 0 ? yellow(String(r.attempts)) : '0',
              String(r.bytes),
              r.topic,
              r.lastError ?? '',
            ]),
          )}\n`,
        );
      }
      process.stdout.write(`${viaNote(via)}\n`);
    });

  outbox
    .command('stats')
    .description('depth per class, bytes, oldest age, drops by reason, retries, dead letters')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { value: stats, via } = await onStore(
        cmd,
        'read',
        (s) => callService<OutboxStatsDetail>(s, 'outbox.stats'),
        (ops) => outboxStats(ops),
      );
      if (opts.json) {
        printJson({ via, ...stats });
        return;
      }
      process.stdout.write(
        `${table(
          ['CLASS', 'ROWS', 'BYTES', 'POLICY'],
          OUTBOX_PRIORITY.map((c) => [
            c,
            String(stats.depth[c]),
            String(stats.bytesByClass[c]),
            OUTBOX_POLICIES[c],
          ]),
        )}\n`,
      );
      const drops = Object.entries(stats.drops)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const lines = [
        `total ${stats.rows} rows, ${stats.bytes} bytes (caps ${stats.caps.maxRows} rows, ${stats.caps.maxBytes} bytes)`,
        `oldest ${stats.oldestAgeMs === null ? '-' : ago(stats.oldestAgeMs)}, sent ${stats.sent}, last ack ${stats.lastSuccessTs === null ? 'never' : `${ago(Date.now() - stats.lastSuccessTs)} ago`}`,
        `retries ${stats.retries}, dead letters ${stats.deadLetters}, dropped: ${drops}`,
      ];
      if (stats.overCap > 0)
        lines.push(red(`kept above the cap ${stats.overCap} time(s): the broker has been away long`));
      process.stdout.write(`${lines.join('\n')}\n${viaNote(via)}\n`);
    });

  outbox
    .command('retry')
    .description('clear attempt counts and errors so waiting rows are sent afresh (now, if the service runs)')
    .addOption(classOption())
    .option('--json', 'machine-readable output')
    .action(async (opts: { class?: OutboxClass; json?: boolean }, cmd: Command) => {
      const cls = opts.class;
      const { value, via } = await onStore(
        cmd,
        'write',
        (s) => callService<{ reset: number; link: string | null }>(s, 'outbox.retry', { class: cls }),
        (ops) => retryOutbox(ops, { class: cls }),
      );
      if (opts.json) {
        printJson({ via, ...value });
        return;
      }
      const when =
        via === 'direct'
          ? 'they go when the service starts'
          : value.link === 'connected'
            ? 'the link drains now'
            : value.link === null
              ? 'no broker is configured (mqtt)'
              : 'the broker is not connected: they go when it is';
      process.stdout.write(`${value.reset} row(s) reset; ${when}\n`);
    });

  outbox
    .command('purge')
    .description(
      'delete waiting rows (never-shed classes: trade, trade-ack, reject, settlement only with --force)',
    )
    .addOption(classOption())
    .option('--force', 'also delete never-shed rows: promises to neighbours that will then never be sent')
    .option('--yes', 'really delete (required)')
    .option('--json', 'machine-readable output')
    .action(
      async (opts: { class?: OutboxClass; force?: boolean; yes?: boolean; json?: boolean }, cmd: Command) => {
        const cls = opts.class;
        const force = opts.force === true;
        if (cls !== undefined && OUTBOX_POLICIES[cls] === 'never-shed' && !force) {
          throw new CliError(
            `${cls} rows are promises to neighbours (never shed): purge them only with --force`,
            EXIT.usage,
          );
        }
        if (!opts.yes) {
          throw new CliError(
            `purge deletes ${cls ? `the ${cls} rows` : force ? 'every row' : 'every sheddable row'} for good: add --yes`,
            EXIT.usage,
          );
        }
        const { value, via } = await onStore(
          cmd,
          'write',
          (s) => callService<{ purged: number }>(s, 'outbox.purge', { class: cls, force }),
          (ops) => purgeOutbox(ops, { class: cls, force }),
        );
        if (opts.json) printJson({ via, ...value });
        else {
          const kept =
            cls === undefined && !force ? ' (never-shed rows kept; --force to delete them too)' : '';
          process.stdout.write(`${value.purged} row(s) purged${kept}\n`);
        }
      },
    );
}
