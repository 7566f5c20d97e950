import { performance } from 'node:perf_hooks';
import type { Snapshot } from '../core/quantities.js';
import type { Engine } from '../engine/index.js';
import type { Command, EngineEvent, EngineState } from '../engine/types.js';
import type { Logger } from '../log/logger.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Signer } from '../protocol/signing.js';
import type { Store } from '../store/index.js';
import { inboundMessage, Outgoing, sendsPromise } from './envelopes.js';
import { HostCounters, type TradingHostStats } from './host-stats.js';
import { restoreState, type StateTable, stateTable, type UnrestorableState } from './state-table.js';
import { TradeRecords } from './trade-records.js';
import { type TradesRepository, tradesRepository } from './trades-repository.js';

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

interface StartWork {
  /** The stored JSON that could not be restored, to keep aside (under `keptAs`) in the start step's transaction. */
  bad: UnrestorableState | null;
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
  private readonly engine: Engine;
  private readonly store: Store;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly actuateFn: TradingHostOptions['actuate'];
  private readonly notifyFn: () => void;
  private readonly stateRow: StateTable;
  private readonly trades: TradesRepository;
  private readonly records = new TradeRecords();
  private readonly outgoing: Outgoing;
  private readonly counters: HostCounters;

  private current: EngineState | null = null;
  private startWork: StartWork | null = null;
  /** The JSON this host last wrote to engine_state (what the table holds if that write committed). */
  private lastJson: string | null = null;
  /** Set by a message step inside an enclosing transaction: the state to go back to if it rolled back. */
  private unconfirmed: { base: EngineState } | null = null;
  private deferred: AfterCommit[] = [];
  private flushQueued = false;

  constructor(opts: TradingHostOptions) {
    this.engine = opts.engine;
    this.store = opts.store;
    this.now = opts.now;
    this.log = opts.log;
    this.actuateFn = opts.actuate;
    this.notifyFn = opts.notify;
    this.stateRow = stateTable(opts.store.db);
    this.trades = tradesRepository(opts.store.db);
    this.outgoing = new Outgoing(opts.home, opts.signer);
    this.counters = new HostCounters(opts.log);
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
    const stored = this.stateRow.load();
    const { state, bad } = restoreState(this.engine, stored, now, this.log);
    if (bad !== null) this.counters.restoreFailures++;
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
    const message = inboundMessage(env);
    if (message === null) return;
    if (!this.ensureStarted())
      throw new Error(`trading: the start step failed: ${this.counters.lastErrorText}`);
    this.step({ kind: 'message', message });
  }

  /** The link (re)connected to a broker. Never throws. */
  connected(): void {
    this.stepQuietly({ kind: 'connected' });
  }

  /** A neighbour's retained offer topic became empty. Never throws. */
  offerWithdrawn(home: string): void {
    this.stepQuietly({ kind: 'offer-withdrawn', home });
  }

  stats(): TradingHostStats {
    return this.counters.snapshot();
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
      return false; // counted and logged by step(); tried again before the next input
    }
  }

  private step(event: EngineEvent, start?: StartWork): void {
    const started = performance.now();
    const c = this.counters;
    c.steps++;
    try {
      const prev = this.confirmed();
      const now = this.now();
      const result = this.engine.step(prev, event, now);
      // The engine threw: result.state is prev and there are no commands. A start step still commits
      // (it may have a bad stored state to keep aside and writes the state); others write nothing.
      if (result.fault) c.engineFault(result.fault, now);
      const next = result.state;
      const write = start !== undefined || next.durable !== prev.durable;
      const json = write ? JSON.stringify(next.durable) : null;
      // At start every row is written again: it costs one pass and heals a table behind the state.
      const changed =
        start !== undefined ? this.records.all(next) : write ? this.records.changed(prev, next) : [];
      const sends = result.commands.filter((cmd) => cmd.kind === 'send' || cmd.kind === 'clear-offer');
      const durable =
        sendsPromise(result.commands) || changed.some((r) => r.role === 'seller' && r.id !== r.accept_id);
      const nested = this.store.db.inTransaction;
      this.store.transaction(
        () => {
          if (start?.bad) this.store.meta.set(start.bad.keptAs, start.bad.json);
          if (json !== null) this.stateRow.save(json, now);
          for (const r of changed) this.trades.upsert(r);
          for (const cmd of sends)
            this.store.outbox.enqueue(this.outgoing.message(cmd, this.store.seq, now), now);
        },
        { durable },
      );
      if (nested && json !== null && this.unconfirmed === null) this.unconfirmed = { base: prev };
      this.current = next;
      if (json !== null) {
        this.lastJson = json;
        c.stateWrites.rows++;
        c.stateWrites.bytes += Buffer.byteLength(json);
      }
      for (const cmd of sends) c.sent[cmd.kind === 'send' ? cmd.message.type : 'clear-offer']++;
      const after: AfterCommit = {
        enqueued: sends.length > 0,
        actuate: result.commands.filter(
          (cmd): cmd is ActuatorCommand => cmd.kind === 'relay' || cmd.kind === 'export-limit',
        ),
      };
      if (nested) this.defer(after);
      else this.afterCommit(after);
    } catch (err) {
      c.lostStep(err, event.kind, this.now());
      throw err;
    } finally {
      c.stepMs.push(performance.now() - started);
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
      const stored = this.stateRow.load()?.json ?? null;
      if (stored !== this.lastJson) {
        this.counters.lostStep(
          new Error('the transaction around a message step rolled back'),
          'message',
          this.now(),
        );
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
}
