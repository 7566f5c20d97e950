import { performance } from 'node:perf_hooks';
import type { Snapshot } from '../core/quantities.js';
import { RingStats } from '../cycle/ring-stats.js';
import type { Engine } from '../engine/index.js';
import type {
  Command,
  DurableState,
  EngineEvent,
  EngineState,
  InboundMessage,
  OutgoingMessage,
} from '../engine/types.js';
import { deals } from '../engine/views.js';
import type { Logger } from '../log/logger.js';
import { createEnvelope, type Envelope, encodeEnvelope } from '../protocol/envelope.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import { TRADING_TYPES } from '../protocol/trading.js';
import type { Store } from '../store/index.js';
import { OUTBOX_POLICIES, type OutboxMessage } from '../store/outbox-types.js';
import { type TradeRecord, type TradingTables, tradeRecord, tradingTables } from './persist.js';

export type ActuatorCommand = Extract<Command, { kind: 'relay' | 'export-limit' }>;

export interface TradingHostOptions {
  home: { id: string; zone: string };
  engine: Engine;
  store: Store;
  signer: Signer;
  now: () => number;
  log: Logger;
  /** Relay and export-limit commands, called after the step's transaction committed. Must not throw. */
  actuate: (cmds: ReadonlyArray<ActuatorCommand>) => void;
  /** Rows were enqueued (wake the link). */
  notify: () => void;
}

export type SentKind = OutgoingMessage['type'] | 'clear-offer';

export interface TradingHostStats {
  /** Steps attempted (each input is one step). */
  steps: number;
  /** Steps whose transaction failed (the step was lost, the state did not advance). */
  failures: number;
  /** Messages enqueued, by type. */
  sent: Record<SentKind, number>;
  /** Step time (engine step + transaction), over the last STEP_SAMPLES steps; null before any. */
  stepMs: { p50: number | null; p99: number | null };
  lastError: string | null;
  /** Stored states that could not be restored at start (each kept in a meta key, see start()). */
  restoreFailures: number;
  /** Rewrites of the engine_state row (each one the whole durable JSON) and their JSON bytes. */
  stateWrites: { rows: number; bytes: number };
}

const TRADING: ReadonlySet<string> = new Set(TRADING_TYPES);
const STEP_SAMPLES = 1024;
/** A repeating failure (every cycle) is logged again at most this often. */
const ERROR_LOG_INTERVAL_MS = 60_000;
/** Meta key prefix of a stored engine state that could not be restored (suffix: the time it was found). */
export const UNRESTORABLE_STATE_KEY = 'engine_state.unrestorable.';

interface StartWork {
  /** The stored JSON that could not be restored, to keep aside (under `keptAs`) in the start step's transaction. */
  bad: { json: string; keptAs: string } | null;
}

interface AfterCommit {
  enqueued: boolean;
  actuate: ActuatorCommand[];
}

/**
 * The edge around the pure engine: every input becomes one engine step, and each step's new durable state,
 * its `trades` rows and its outgoing messages (signed envelopes in the outbox) commit in one SQLite
 * transaction, synced to the device when the step recorded a promise to a neighbour. Only then does the
 * in-memory state advance, the link get woken and the actuators get their commands: a step whose
 * transaction fails is lost as a crashed process would lose it, and the stored and in-memory states agree.
 *
 * message() runs inside the inbox's transaction (dedupe mark + step commit together). Its effects after
 * commit wait for a microtask, and the next step first checks that the stored state is the one the
 * message step wrote: if the enclosing transaction rolled back, the state goes back to what is stored.
 * This assumes one message per enclosing transaction, as the inbox does.
 */
export class TradingHost {
  private readonly home: { id: string; zone: string };
  private readonly engine: Engine;
  private readonly store: Store;
  private readonly signer: Signer;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly actuateFn: TradingHostOptions['actuate'];
  private readonly notifyFn: () => void;
  private readonly tables: TradingTables;
  private readonly offerTopic: string;

  private current: EngineState | null = null;
  private startWork: StartWork | null = null;
  /** The JSON this host last wrote to engine_state (what the table holds if that write committed). */
  private lastJson: string | null = null;
  /** Set by a message step inside an enclosing transaction: the state to go back to if it rolled back. */
  private unconfirmed: { base: EngineState } | null = null;
  private deferred: AfterCommit[] = [];
  private flushQueued = false;
  /** Trade rows per durable state, so consecutive steps diff without recomputing the older side. */
  private readonly recordCache = new WeakMap<DurableState, Map<string, TradeRecord>>();

  private steps = 0;
  private failures = 0;
  private restoreFailures = 0;
  private readonly stateWrites = { rows: 0, bytes: 0 };
  private readonly sent: Record<SentKind, number> = {
    offer: 0,
    accept: 0,
    trade: 0,
    reject: 0,
    ack: 0,
    settlement: 0,
    'clear-offer': 0,
  };
  private readonly stepMs = new RingStats(STEP_SAMPLES);
  private lastError: string | null = null;
  private lastErrorLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: TradingHostOptions) {
    this.home = opts.home;
    this.engine = opts.engine;
    this.store = opts.store;
    this.signer = opts.signer;
    this.now = opts.now;
    this.log = opts.log;
    this.actuateFn = opts.actuate;
    this.notifyFn = opts.notify;
    this.tables = tradingTables(opts.store.db);
    this.offerTopic = homeTopic(opts.home.zone, opts.home.id, 'offer');
    if (opts.signer.homeId !== opts.home.id || opts.engine.config.homeId !== opts.home.id) {
      throw new Error(
        `trading: home ${opts.home.id}, signer ${opts.signer.homeId} and engine ${opts.engine.config.homeId} must be the same home`,
      );
    }
  }

  /** The engine state as last committed. Throws before start(). */
  get state(): EngineState {
    if (this.current === null) throw new Error('trading: the host is not started (call start() first)');
    return this.current;
  }

  /** start() has loaded a state. */
  get started(): boolean {
    return this.current !== null;
  }

  /**
   * Loads the durable state from the store (or the initial state) and steps {kind:'start'}. A stored state
   * the engine refuses is logged, kept under a meta key (UNRESTORABLE_STATE_KEY + time) and replaced by the
   * initial state in the same transaction, so a bad row never stops the service twice. If the start step
   * cannot commit, it is tried again before the next input; start() itself does not throw for it.
   */
  start(): void {
    if (this.current !== null) throw new Error('trading: the host is already started');
    const now = this.now();
    const stored = this.tables.loadState();
    let bad: StartWork['bad'] = null;
    let state: EngineState | null = null;
    if (stored?.json != null) {
      try {
        state = this.engine.restore(JSON.parse(stored.json), now);
      } catch (err) {
        bad = { json: stored.json, keptAs: `${UNRESTORABLE_STATE_KEY}${now}` };
        this.restoreFailures++;
        this.log.error(
          { err, bytes: stored.json.length, updatedAt: stored.updatedAt, keptAs: bad.keptAs },
          'trading: the stored engine state cannot be restored; starting from the initial state ' +
            '(open offers and unanswered requests are forgotten; the trades table keeps the history)',
        );
      }
    }
    this.current = state ?? this.engine.initial(now);
    this.lastJson = stored?.json ?? null;
    this.startWork = { bad };
    this.ensureStarted();
  }

  /** A cycle's snapshot. Never throws. */
  tick(snapshot: Snapshot): void {
    this.stepQuietly({ kind: 'tick', snapshot });
  }

  /**
   * A verified envelope from the inbox (deduplicated, except offers), inside the inbox's store transaction.
   * An offer only changes the in-memory state: nothing is written for it. Non-trading types are ignored.
   * Throws only if the store throws (the inbox then rolls back and dead-letters it).
   */
  message(env: Envelope): void {
    if (!TRADING.has(env.type)) return;
    const message = {
      type: env.type,
      id: env.id,
      from: env.from,
      ts: env.ts,
      body: env.body,
      ...(env.exp !== undefined ? { exp: env.exp } : {}),
      ...(env.corr !== undefined ? { corr: env.corr } : {}),
    } as InboundMessage; // the inbox decoded the body with the schema of its type
    if (!this.ensureStarted()) throw new Error(`trading: the start step failed: ${this.lastError}`);
    this.step({ kind: 'message', message });
  }

  /** A neighbour's retained offer topic became empty. Never throws. */
  offerWithdrawn(home: string): void {
    this.stepQuietly({ kind: 'offer-withdrawn', home });
  }

  stats(): TradingHostStats {
    return {
      steps: this.steps,
      failures: this.failures,
      sent: { ...this.sent },
      stepMs: { p50: this.stepMs.quantile(0.5), p99: this.stepMs.quantile(0.99) },
      lastError: this.lastError,
      restoreFailures: this.restoreFailures,
      stateWrites: { ...this.stateWrites },
    };
  }

  private stepQuietly(event: EngineEvent): void {
    try {
      if (this.ensureStarted()) this.step(event);
    } catch {
      // counted and logged by step(); the input is lost like a crashed process would lose it
    }
  }

  /** Runs the pending start step; false if it failed again. */
  private ensureStarted(): boolean {
    const work = this.startWork;
    if (work === null) return true;
    try {
      this.step({ kind: 'start' }, work);
      this.startWork = null;
      return true;
    } catch {
      return false;
    }
  }

  private step(event: EngineEvent, start?: StartWork): void {
    const started = performance.now();
    this.steps++;
    try {
      const prev = this.confirmed();
      const now = this.now();
      const result = this.engine.step(prev, event, now);
      const next = result.state;
      const write = start !== undefined || next.durable !== prev.durable;
      const json = write ? JSON.stringify(next.durable) : null;
      // At start every row is written again: it costs one pass and heals a table behind the state.
      const changed =
        start !== undefined ? [...this.records(next).values()] : write ? this.changed(prev, next) : [];
      const durable =
        result.commands.some((c) => c.kind === 'send' && OUTBOX_POLICIES[c.message.class] === 'never-shed') ||
        changed.some((r) => r.role === 'seller' && r.id !== r.accept_id);
      const nested = this.store.db.inTransaction;
      let enqueued = false;
      this.store.transaction(
        () => {
          if (start?.bad) this.store.meta.set(start.bad.keptAs, start.bad.json);
          if (json !== null) this.tables.saveState(json, now);
          for (const r of changed) this.tables.upsertTrade(r);
          for (const cmd of result.commands) {
            if (cmd.kind === 'send') this.store.outbox.enqueue(this.outboxMessage(cmd.message, now), now);
            else if (cmd.kind === 'clear-offer')
              this.store.outbox.enqueue(this.clearOffer(cmd.exp, now), now);
            else continue;
            enqueued = true;
          }
        },
        { durable },
      );
      if (nested && json !== null && this.unconfirmed === null) this.unconfirmed = { base: prev };
      this.current = next;
      if (json !== null) {
        this.lastJson = json;
        this.stateWrites.rows++;
        this.stateWrites.bytes += Buffer.byteLength(json);
      }
      for (const cmd of result.commands) {
        if (cmd.kind === 'send') this.sent[cmd.message.type]++;
        else if (cmd.kind === 'clear-offer') this.sent['clear-offer']++;
      }
      const after: AfterCommit = {
        enqueued,
        actuate: result.commands.filter(
          (c): c is ActuatorCommand => c.kind === 'relay' || c.kind === 'export-limit',
        ),
      };
      if (nested) this.defer(after);
      else this.afterCommit(after);
    } catch (err) {
      this.failures++;
      this.noteError(err, event.kind);
      throw err;
    } finally {
      this.stepMs.push(performance.now() - started);
    }
  }

  /**
   * The committed state. After message steps made inside an enclosing transaction, checks that the table
   * holds what they wrote; if not, that transaction rolled back and the state goes back to before them.
   * Outside any transaction, also carries out their postponed after-commit work, in order.
   */
  private confirmed(): EngineState {
    if (this.current === null) return this.state; // throws: not started
    if (this.unconfirmed !== null) {
      const stored = this.tables.loadState()?.json ?? null;
      if (stored !== this.lastJson) {
        this.failures++;
        this.noteError(new Error('the transaction around a message step rolled back'), 'message');
        this.current = this.unconfirmed.base;
        this.lastJson = stored;
        this.deferred = [];
      }
      this.unconfirmed = null;
    }
    if (!this.store.db.inTransaction && this.deferred.length > 0) {
      const due = this.deferred;
      this.deferred = [];
      for (const d of due) this.afterCommit(d);
    }
    return this.current;
  }

  /** Postpones after-commit work until the enclosing transaction ended, and checks it committed. */
  private defer(after: AfterCommit): void {
    if (after.enqueued || after.actuate.length > 0) this.deferred.push(after);
    if (this.flushQueued || (this.deferred.length === 0 && this.unconfirmed === null)) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (this.store.closed) {
        this.deferred = [];
        return;
      }
      // Still inside a transaction (a caller running several steps in one): the next step flushes.
      if (this.store.db.inTransaction) return;
      try {
        this.confirmed();
      } catch (err) {
        this.log.error({ err }, 'trading: could not check the stored engine state');
      }
    });
  }

  private afterCommit(after: AfterCommit): void {
    if (after.enqueued) {
      try {
        this.notifyFn();
      } catch (err) {
        this.log.error({ err }, 'trading: notify threw');
      }
    }
    if (after.actuate.length > 0) {
      try {
        this.actuateFn(after.actuate);
      } catch (err) {
        this.log.error({ err, cmds: after.actuate }, 'trading: actuate threw');
      }
    }
  }

  private outboxMessage(m: OutgoingMessage, now: number): OutboxMessage {
    const topic =
      'own' in m.to
        ? homeTopic(this.home.zone, this.home.id, m.to.own)
        : homeTopic(this.home.zone, m.to.inbox, 'inbox');
    const env = this.signer.sign(
      createEnvelope({
        type: m.type,
        id: m.id,
        from: this.home.id,
        zone: this.home.zone,
        seq: this.store.seq.next(),
        ts: now,
        body: m.body,
        exp: m.exp,
        corr: m.corr,
      }),
    );
    const msg: OutboxMessage = {
      id: env.id,
      class: m.class,
      topic,
      payload: encodeEnvelope(env),
      retain: m.retain,
    };
    if (m.exp !== undefined) msg.expiresAt = m.exp;
    if (m.class === 'offer') msg.coalesceKey = topic;
    return msg;
  }

  /** An empty retained payload on the own offer topic: "no offer" (it also replaces an unsent offer row). */
  private clearOffer(exp: number, now: number): OutboxMessage {
    return {
      id: `clear-offer-${exp}-${now}`,
      class: 'offer',
      topic: this.offerTopic,
      payload: Buffer.alloc(0),
      retain: true,
      expiresAt: exp,
      coalesceKey: this.offerTopic,
    };
  }

  private records(state: EngineState): Map<string, TradeRecord> {
    let m = this.recordCache.get(state.durable);
    if (m === undefined) {
      m = new Map();
      for (const v of deals(state)) {
        const r = tradeRecord(v);
        m.set(r.id, r);
      }
      this.recordCache.set(state.durable, m);
    }
    return m;
  }

  private changed(prev: EngineState, next: EngineState): TradeRecord[] {
    const before = this.records(prev);
    const out: TradeRecord[] = [];
    for (const r of this.records(next).values()) {
      const b = before.get(r.id);
      if (b === undefined || !sameRecord(b, r)) out.push(r);
    }
    return out;
  }

  private noteError(err: unknown, what: string): void {
    const text = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    const now = this.now();
    if (text !== this.lastError || now - this.lastErrorLoggedAt >= ERROR_LOG_INTERVAL_MS) {
      this.lastErrorLoggedAt = now;
      this.log.error({ err, step: what }, 'trading: step lost, state not advanced');
    }
    this.lastError = text;
  }
}

function sameRecord(a: TradeRecord, b: TradeRecord): boolean {
  for (const k of Object.keys(a) as (keyof TradeRecord)[]) if (a[k] !== b[k]) return false;
  return true;
}
