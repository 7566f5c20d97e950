import type Database from 'better-sqlite3';
import { configSchema } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { type DeadLetters, SqliteDeadLetters } from './dead-letters.js';
import { type InboxDedupe, SqliteInboxDedupe } from './inbox.js';
import { SqliteMeta, type StoreMeta } from './meta.js';
import { migrate } from './migrations.js';
import { openDatabase, quickCheck } from './open.js';
import { type Outbox, type OutboxCaps, SqliteOutbox } from './outbox.js';
import { StagingOutbox, type TelemetryStaging } from './outbox-staging.js';
import { type Readings, SqliteReadings } from './readings.js';
import { PersistentSeq, type Seq } from './seq.js';
import { Transactions } from './transactions.js';
import { type WriteHealth, WriteHealthTracker } from './write-health.js';

export type { DeadLetter, DeadLetterInput, DeadLetters } from './dead-letters.js';
export type { InboxDedupe } from './inbox.js';
export type { StoreMeta } from './meta.js';
export type { Outbox, OutboxCaps, OutboxListRow, OutboxStatsDetail } from './outbox.js';
export { clearRetainedMessage, envelopeMessage } from './outbox-message.js';
export * from './outbox-types.js';
export type { HourlyAggregate, Readings } from './readings.js';
export type { Seq } from './seq.js';
export { isDiskFull, type WriteHealth } from './write-health.js';

export interface StoreOptions {
  /** Database file; its directory is created if missing. `:memory:` gives a throwaway store. */
  path: string;
  log: Logger;
  /** Clock for the store's own timestamps (quarantine file names, prune schedules). Default Date.now. */
  now?: () => number;
  /** Outbox caps; telemetry is shed oldest-first to stay under them. Default DEFAULT_OUTBOX_CAPS. */
  outboxCaps?: OutboxCaps;
  /** Inbox dedupe retention window. Default 24 h. */
  inboxWindowMs?: number;
  /** Dead letters kept (oldest deleted beyond it; the per-reason totals keep counting). Default 10,000. */
  deadLetterMaxRows?: number;
  /**
   * Readings are buffered in memory and written together, in one transaction, once the oldest buffered
   * one is this old (0: each append is written at once). A commit writes whole pages, so at 1 Hz this
   * cuts the bytes written per hour about fourfold, for up to this much history lost in a crash.
   * `latest()` always sees the newest snapshot; `since`, `hourly`, `prune` and `close` flush first.
   * Default: the config schema's `store.readingsFlushMs`.
   */
  readingsFlushMs?: number;
  /** Telemetry kept in memory until acknowledged or this old (outbox-staging.ts). Default off. */
  telemetryStaging?: TelemetryStaging;
}

export interface Store {
  readonly db: Database.Database;
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  readonly inbox: InboxDedupe;
  /** Per-home envelope seq: persisted, monotonic, never reused after a crash or a power cut. */
  readonly seq: Seq;
  readonly readings: Readings;
  readonly meta: StoreMeta;
  /**
   * Runs `fn` in one transaction (a savepoint when nested). `durable`: the commit is synced to the
   * device before this returns (synchronous=FULL; use it where a promise to a neighbour is recorded);
   * otherwise NORMAL (consistent after a power cut, but the last commits may roll back). Writing a
   * never-shed outbox row or reserving seq numbers makes the enclosing transaction durable by itself.
   */
  transaction<T>(fn: () => T, opts?: { durable?: boolean }): T;
  /** `PRAGMA quick_check`: 'ok' or the problems found. */
  quickCheck(): 'ok' | string;
  /** Where a corrupt database file found at open was moved to, or null. */
  readonly quarantined: string | null;
  /** Whether commits succeed, as the last ones saw it (disk full, I/O errors). */
  writeHealth(): WriteHealth;
  /** The database is closed (after `close()`). */
  readonly closed: boolean;
  /** Writes buffered readings and closes the database. Idempotent. */
  close(): void;
}

/** The caps of a config that sets none (`mqtt.outbox` in the config schema, the one source of defaults). */
export const DEFAULT_OUTBOX_CAPS: OutboxCaps = configSchema.shape.mqtt.unwrap().shape.outbox.parse(undefined);
/** The `store` section of a config that sets none. */
const STORE_DEFAULTS = configSchema.shape.store.parse(undefined);

/**
 * Opens (or creates) the store: WAL, integrity check with quarantine of a corrupt file, migrations.
 * Throws only for what a fresh file cannot fix (permissions, a database from a newer version).
 */
export function openStore(opts: StoreOptions): Store {
  const now = opts.now ?? Date.now;
  const { db, quarantined } = openDatabase(opts.path, opts.log, now, migrate);
  const writes = new WriteHealthTracker(now);
  const tx = new Transactions(db, opts.path, writes);
  const meta = new SqliteMeta(db);
  const deadLetters = new SqliteDeadLetters(db, { maxRows: opts.deadLetterMaxRows ?? 10_000 });
  const table = new SqliteOutbox(db, tx, deadLetters, opts.log, opts.outboxCaps ?? DEFAULT_OUTBOX_CAPS);
  const staging = opts.telemetryStaging?.stageMs ? new StagingOutbox(table, tx, opts.telemetryStaging) : null;
  const outbox: Outbox = staging ?? table;
  const inbox = new SqliteInboxDedupe(db, opts.inboxWindowMs ?? 24 * 3_600_000);
  const seq = new PersistentSeq(db, tx);
  const readings = new SqliteReadings(db, tx, meta, {
    flushMs: opts.readingsFlushMs ?? STORE_DEFAULTS.readingsFlushMs,
  });
  let closed = false;
  return {
    db,
    outbox,
    deadLetters,
    inbox,
    seq,
    readings,
    meta,
    quarantined,
    transaction: (fn, o) => tx.run(fn, o?.durable === true),
    quickCheck: () => quickCheck(db),
    writeHealth: () => writes.snapshot(),
    get closed() {
      return closed;
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        staging?.spillAll(now());
        readings.flush();
      } finally {
        db.close();
      }
    },
  };
}
