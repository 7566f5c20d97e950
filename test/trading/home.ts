import { createPublicKey, type KeyObject } from 'node:crypto';
import { configSchema } from '../../src/config/schema.js';
import type { QuantityName, QuantityValues, Snapshot } from '../../src/core/quantities.js';
import { createEngine } from '../../src/engine/index.js';
import { createInbox, type Inbox } from '../../src/link/inbox.js';
import { createLogger, type Logger, silentLogger } from '../../src/log/logger.js';
import { decodeEnvelope, type Envelope } from '../../src/protocol/envelope.js';
import type { Keyring } from '../../src/protocol/keyring.js';
import { createSigner, createVerifier, type Verify } from '../../src/protocol/signing.js';
import { type OutboxRow, openStore, type Store } from '../../src/store/index.js';
import { engineConfigFrom } from '../../src/trading/engine-config.js';
import { type ActuatorCommand, TradingHost } from '../../src/trading/host.js';

/** One home of a test neighbourhood: a real store file, the real engine, real signatures. */

export const ZONE = 'test-zone';
export const SLOT_MS = 15 * 60_000;
/** A minute into a slot, so the next slot (the one traded) is 14 minutes away. */
export const T0 = Math.floor(1_750_000_000_000 / SLOT_MS) * SLOT_MS + 60_000;

export interface Clock {
  now: number;
}

export interface Home {
  id: string;
  store: Store;
  host: TradingHost;
  inbox: Inbox;
  notified: number;
  actuated: ActuatorCommand[];
}

export function homeConfig(id: string) {
  return configSchema.parse({
    home: { id, zone: ZONE },
    engine: {
      minOfferW: 300,
      reserveW: 200,
      priceCentsPerKwh: 12,
      maxBuyPriceCentsPerKwh: 20,
      slotMinutes: 15,
    },
  });
}

export function testKeyring(keys: Record<string, KeyObject>): Keyring {
  return {
    zone: ZONE,
    members: new Map(Object.entries(keys).map(([id, k]) => [id, publicKeyOf(k)])),
  };
}

function publicKeyOf(k: KeyObject): KeyObject {
  return k.type === 'private' ? createPublicKey(k) : k;
}

/** Opens (or reopens) a home from its store file; start() is left to the caller. */
export function openHome(opts: {
  id: string;
  path: string;
  key: KeyObject;
  keyring: Keyring;
  clock: Clock;
  log?: Logger;
  onNotify?: () => void;
  /** Runs after the host took a message, still inside the inbox's transaction. */
  afterMessage?: () => void;
}): Home {
  const log = opts.log ?? silentLogger();
  const store = openStore({ path: opts.path, log, now: () => opts.clock.now });
  const home = { id: opts.id, zone: ZONE };
  const now = () => opts.clock.now;
  const self: Home = {
    id: opts.id,
    store,
    notified: 0,
    actuated: [],
    host: undefined as unknown as TradingHost,
    inbox: undefined as unknown as Inbox,
  };
  self.host = new TradingHost({
    home,
    engine: createEngine(engineConfigFrom(homeConfig(opts.id))),
    store,
    signer: createSigner(opts.id, opts.key),
    now,
    log,
    actuate: (cmds) => self.actuated.push(...cmds),
    notify: () => {
      self.notified++;
      opts.onNotify?.();
    },
  });
  const verify: Verify = createVerifier(opts.keyring);
  self.inbox = createInbox({
    home,
    store,
    log,
    now,
    verify,
    onMessage: (env) => {
      self.host.message(env);
      opts.afterMessage?.();
    },
    onOfferWithdrawn: (from) => self.host.offerWithdrawn(from),
  });
  return self;
}

export function gridSnapshot(clock: Clock, gridPowerW: number, cycle = 0): Snapshot {
  return snapshotOf(clock, { gridPowerW }, cycle);
}

/** A snapshot of good values read now. */
export function snapshotOf(clock: Clock, values: QuantityValues, cycle = 0): Snapshot {
  const quantities: Snapshot['quantities'] = {};
  for (const [name, value] of Object.entries(values) as [QuantityName, number][]) {
    quantities[name] = { value, quality: 'good', ts: clock.now, source: 'grid-meter' };
  }
  return { cycle, ts: clock.now, quantities };
}

/** The rows ready to send, acknowledged as a broker would (deleted from the outbox). */
export function drain(store: Store, now: number): OutboxRow[] {
  const rows = store.outbox.nextBatch(1000, now, new Set());
  store.outbox.ackMany(
    rows.map((r) => r.rowId),
    now,
  );
  return rows;
}

export function decoded(row: { payload: Buffer }): Envelope {
  const d = decodeEnvelope(row.payload);
  if (!d.ok) throw new Error(`undecodable row: ${d.reason} ${d.detail}`);
  return d.envelope;
}

/** A logger whose lines are kept in memory, parsed. */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    journald: false,
    destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { log, lines };
}
