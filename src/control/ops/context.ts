import type Database from 'better-sqlite3';
import type { DeadLetters } from '../../store/dead-letters.js';
import type { Outbox } from '../../store/outbox.js';

/**
 * The operations on the outbox, the dead letters, the relays and the trades, defined once: the HTTP API
 * (src/web/routes.ts) and the control socket (src/control/extension.ts) mount the same functions, and
 * the CLI runs the store ones on the database file while the service is stopped. Each transport turns
 * its own request into the typed parameters and an OpError into its own error (a status code, an exit
 * code).
 */

/** The parts of a store the operations touch: the running service's, or the file opened by the CLI. */
export interface StoreView {
  readonly db: Database.Database;
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  transaction<T>(fn: () => T): T;
}

export interface OpsContext {
  store: StoreView;
  now(): number;
  /** The MQTT link, to wake its drain after rows went back to the outbox; absent without one. */
  link?: { notify(): void; status(): { connected: boolean } } | undefined;
}

/** `usage`: the request was wrong; `not-found`, `conflict`: about the thing named; `unavailable`: it failed. */
export type OpErrorKind = 'usage' | 'not-found' | 'conflict' | 'unavailable';

/** An error an operation throws on purpose: its message goes to the person as it is. */
export class OpError extends Error {
  override readonly name = 'OpError';
  constructor(
    message: string,
    readonly kind: OpErrorKind,
  ) {
    super(message);
  }
}
