import { CircuitState, ConsecutiveBreaker, circuitBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import type { IClientPublishOptions } from 'mqtt';
import type { MqttConfig } from '../config/schema.js';
import { type Envelope, encodeEnvelope } from '../protocol/envelope.js';
import { statusEnvelope } from '../protocol/messages.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import type { OutboxQueue, OutboxRow } from '../store/outbox-types.js';
import { ReconnectBackoff } from './backoff.js';
import { BrokerChoice } from './broker-choice.js';
import { type Connection, connectNegotiated, type ProtocolVersion } from './connection.js';
import { createInbox, type InboxOptions, type InboxStats } from './inbox.js';
import { classifyPublishError, type PublishFailure } from './reason-codes.js';

/** Consecutive publish failures or PUBACK timeouts that open the circuit breaker. */
export const BREAKER_THRESHOLD = 5;
/** How often an idle drain looks at the outbox when nobody calls notify(). */
const IDLE_POLL_MS = 500;
/** How often an open breaker is asked whether it lets a probe through. */
const OPEN_POLL_MS = 250;
const DEFAULT_DRAIN_START_JITTER_MS = 3000;
/** MQTT 5 Receive Maximum when the broker does not state one. */
const MQTT_DEFAULT_RECEIVE_MAXIMUM = 65_535;
/** Bytes a PUBLISH adds around topic and payload (fixed header, lengths, packet id, properties). */
const PUBLISH_OVERHEAD_BYTES = 32;

/** What the link needs: the inbox's options (home, store, handlers, clock) plus the broker side. */
export interface LinkContext extends InboxOptions {
  mqtt: MqttConfig;
  outbox: OutboxQueue;
  version: string;
  /** Upper bound of the random pause before the backlog drain starts after a connect. */
  drainStartJitterMs?: number;
  /** Signs the status messages (and the will) the link builds itself; without it they go unsigned. */
  signer?: Signer;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface LinkStatus {
  state: 'stopped' | 'connecting' | 'connected' | 'stopping';
  connected: boolean;
  /** The broker in use, or the one being tried. */
  broker: string | null;
  onPrimary: boolean;
  protocolVersion: ProtocolVersion | null;
  breaker: BreakerState;
  inFlight: number;
  /** min(mqtt.maxInFlight, the broker's Receive Maximum). */
  inFlightCap: number;
  peakInFlight: number;
  /** The backlog drain after a connect is rate-limited until it catches up. */
  throttled: boolean;
  lastError: string | null;
  lastErrorTs: number | null;
  /** Successful connections after the first. */
  reconnects: number;
  /** Last PUBACK, epoch ms. */
  lastSuccessTs: number | null;
  published: number;
  retries: number;
  deadLettered: number;
  ackTimeouts: number;
  /** When the primary broker will be probed for the return to primary, epoch ms. */
  nextPrimaryProbeAt: number | null;
  inbox: InboxStats;
}

export interface Link {
  start(): void;
  /**
   * Stops taking rows, publishes the retained `offline` status, waits for in-flight PUBACKs until the
   * deadline, then closes. Rows without a PUBACK stay in the outbox.
   */
  stop(deadlineMs?: number): Promise<void>;
  /** Rows were enqueued: drain now rather than at the next idle poll. */
  notify(): void;
  status(): LinkStatus;
}

class ConnectionLostError extends Error {
  override name = 'ConnectionLostError';
}

class PubackTimeoutError extends Error {
  override name = 'PubackTimeoutError';
}

/** One live connection and what belongs to it. */
interface Active {
  conn: Connection;
  cap: number;
  /** Status publishes awaiting PUBACK (they count against the broker's Receive Maximum too). */
  statusInFlight: number;
}

interface InFlight {
  row: OutboxRow;
  active: Active;
  startedAt: number;
  timedOut: boolean;
  settled: boolean;
  /** Settles the breaker's view of this publish: resolve = healthy, reject = failure. */
  breakerDone?: { resolve: () => void; reject: (err: Error) => void };
}

type Outcome = { kind: 'ack' } | PublishFailure | { kind: 'lost' };

export function createLink(ctx: LinkContext): Link {
  const { mqtt, home, outbox, store } = ctx;
  const log = ctx.log.child({ module: 'link' });
  const now = ctx.now ?? Date.now;
  const clientId = mqtt.clientId ?? `powerdeal-${home.id}`;
  const statusTopic = homeTopic(home.zone, home.id, 'status');
  const drainJitterMs = ctx.drainStartJitterMs ?? DEFAULT_DRAIN_START_JITTER_MS;
  const signed = <B extends object>(env: Envelope<B>): Envelope<B> =>
    ctx.signer ? ctx.signer.sign(env) : env;

  const choice = new BrokerChoice(mqtt.brokers, mqtt.returnToPrimaryMs);
  const backoff = new ReconnectBackoff(mqtt.reconnectBaseMs, mqtt.reconnectMaxMs);
  const versions = new Map<string, ProtocolVersion>();
  const inbox = createInbox({
    home,
    store,
    log,
    now,
    ...(ctx.onMessage ? { onMessage: ctx.onMessage } : {}),
    ...(ctx.onOfferWithdrawn ? { onOfferWithdrawn: ctx.onOfferWithdrawn } : {}),
    ...(ctx.verify ? { verify: ctx.verify } : {}),
  });

  const breaker = circuitBreaker(
    handleWhen((err) => !(err instanceof ConnectionLostError)),
    {
      halfOpenAfter: new ExponentialBackoff({
        initialDelay: mqtt.ackTimeoutMs,
        maxDelay: mqtt.reconnectMaxMs,
      }),
      breaker: new ConsecutiveBreaker(BREAKER_THRESHOLD),
    },
  );
  breaker.onBreak(() =>
    log.warn({ broker: active?.conn.url }, 'link: circuit breaker open, publishing paused'),
  );
  breaker.onHalfOpen(() => log.info('link: circuit breaker half-open, probing with one message'));
  breaker.onReset(() => {
    log.info('link: circuit breaker closed, publishing resumed');
    schedulePump();
  });

  let running = false;
  let leaving = false;
  /** After stop(): settlements no longer touch the store (it may be closed). */
  let closed = false;
  let connecting = false;
  let active: Active | null = null;
  let attemptAbort: AbortController | null = null;
  let probeAbort: AbortController | null = null;

  const inFlight = new Map<number, InFlight>();
  const inFlightIds = new Set<number>();
  let pendingAcks: InFlight[] = [];
  let peakInFlight = 0;

  const throttle = { active: false, tokens: 0, refilledAt: 0, startsAt: 0 };
  const rate = Math.max(1, mqtt.drainRatePerS);
  const burst = Math.max(1, Math.ceil(rate / 20));

  let pumpScheduled = false;
  let pumpTimer: NodeJS.Timeout | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  let probeTimer: NodeJS.Timeout | null = null;
  let sleepTimer: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  const changeWaiters = new Set<() => void>();

  const counters = {
    connects: 0,
    published: 0,
    retries: 0,
    deadLettered: 0,
    ackTimeouts: 0,
    lastSuccessTs: null as number | null,
    lastError: null as string | null,
    lastErrorTs: null as number | null,
  };

  function noteError(message: string): void {
    counters.lastError = message;
    counters.lastErrorTs = now();
  }

  function inFlightCount(a: Active | null = active): number {
    return inFlight.size + (a?.statusInFlight ?? 0);
  }

  function changed(): void {
    for (const wake of [...changeWaiters]) wake();
  }

  /** Resolves at the next in-flight change or after `ms`, whichever comes first. */
  function nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        changeWaiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      changeWaiters.add(done);
    });
  }

  // ---- connection lifecycle --------------------------------------------------------------------

  /** The will: the retained `offline` status, built for each attempt (its own seq). */
  function buildWill(): { topic: string; payload: Buffer } {
    return {
      topic: statusTopic,
      payload: encodeEnvelope(signed(statusEnvelope(home, 'offline', ctx.version, store.seq.next(), now()))),
    };
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepTimer = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepTimer = { timer, wake };
    });
  }

  async function connectLoop(delayMs: number): Promise<void> {
    if (connecting) return;
    connecting = true;
    try {
      if (delayMs > 0) await sleep(delayMs);
      while (running && !leaving && active === null) {
        const url = choice.current;
        attemptAbort = new AbortController();
        try {
          const conn = await connectNegotiated(
            {
              url,
              clientId,
              mqtt,
              persistent: true,
              will: buildWill(),
              signal: attemptAbort.signal,
              onMessage: onInbound,
            },
            versions,
          );
          if (!running || leaving) {
            conn.client.end(true);
            return;
          }
          onConnected(conn);
          return;
        } catch (err) {
          if (!running) return;
          noteError(`connect ${url}: ${(err as Error).message}`);
          log.warn({ broker: url, err: (err as Error).message }, 'link: connection attempt failed');
          choice.failed();
          await sleep(backoff.next());
        } finally {
          attemptAbort = null;
        }
      }
    } finally {
      connecting = false;
    }
  }

  function onInbound(topic: string, payload: Buffer): void {
    if (!closed) inbox.handle(topic, payload);
  }

  function onConnected(conn: Connection): void {
    const receiveMaximum = conn.connack.properties?.receiveMaximum ?? MQTT_DEFAULT_RECEIVE_MAXIMUM;
    const a: Active = {
      conn,
      cap: Math.max(1, Math.min(mqtt.maxInFlight, receiveMaximum)),
      statusInFlight: 0,
    };
    active = a;
    counters.connects++;
    backoff.reset();
    choice.connected(Date.now());
    log.info(
      { broker: conn.url, protocolVersion: conn.protocolVersion, inFlightCap: a.cap },
      'link: connected',
    );
    conn.client.on('close', () => onClosed(a));
    conn.client.on('error', (err) => {
      noteError(err.message);
      log.warn({ broker: conn.url, err: err.message }, 'link: MQTT error');
    });
    if (!conn.client.connected) {
      onClosed(a);
      return;
    }

    const subs = Object.fromEntries(
      inbox.subscriptions.map((topic) => [
        topic,
        conn.protocolVersion === 5 ? { qos: 1 as const, nl: true } : { qos: 1 as const },
      ]),
    );
    conn.client.subscribeAsync(subs).catch((err: Error) => {
      if (active !== a) return;
      noteError(`subscribe: ${err.message}`);
      log.error({ err: err.message }, 'link: subscribing to the inbox failed');
    });
    void publishStatus(a, 'online');

    const t = Date.now();
    throttle.active = true;
    throttle.tokens = 0;
    throttle.startsAt = t + Math.random() * drainJitterMs;
    throttle.refilledAt = throttle.startsAt;
    sweepTimer = setInterval(sweep, Math.max(100, Math.min(1000, mqtt.ackTimeoutMs / 4)));
    scheduleProbe();
    schedulePump();
  }

  function onClosed(a: Active): void {
    if (active !== a) return;
    active = null;
    detach(a);
    noteError(`connection to ${a.conn.url} lost`);
    log.warn({ broker: a.conn.url }, 'link: connection lost');
    if (running && !leaving) {
      choice.failed();
      void connectLoop(backoff.next());
    }
  }

  /** Forgets a connection: commits acks received, hands other in-flight rows back, ends the client. */
  function detach(a: Active): void {
    if (sweepTimer) clearInterval(sweepTimer);
    sweepTimer = null;
    if (probeTimer) clearTimeout(probeTimer);
    probeTimer = null;
    clearPumpTimer();
    flushAcks();
    for (const e of [...inFlight.values()]) if (e.active === a) settle(e, { kind: 'lost' });
    flushAcks();
    a.statusInFlight = 0;
    a.conn.client.end(true);
    changed();
  }

  function publishStatus(a: Active, state: 'online' | 'offline'): Promise<void> {
    let payload: Buffer;
    try {
      payload = encodeEnvelope(signed(statusEnvelope(home, state, ctx.version, store.seq.next(), now())));
    } catch (err) {
      log.error({ err }, 'link: could not build the status message');
      return Promise.resolve();
    }
    a.statusInFlight++;
    return a.conn.client
      .publishAsync(statusTopic, payload, { qos: 1, retain: true })
      .then(
        () => undefined,
        (err: Error) => {
          log.warn({ state, err: err.message }, 'link: status publish failed');
        },
      )
      .finally(() => {
        if (a.statusInFlight > 0) a.statusInFlight--;
        changed();
        schedulePump();
      });
  }

  // ---- return to primary -----------------------------------------------------------------------

  function scheduleProbe(): void {
    const due = choice.probeDueAt;
    if (due === null || probeTimer) return;
    probeTimer = setTimeout(() => void probePrimary(), Math.max(0, due - Date.now()));
  }

  async function probePrimary(): Promise<void> {
    probeTimer = null;
    const a = active;
    if (!a || !running || leaving) return;
    probeAbort = new AbortController();
    try {
      const probe = await connectNegotiated(
        {
          url: choice.primary,
          clientId: `${clientId}-probe`,
          mqtt,
          persistent: false,
          signal: probeAbort.signal,
        },
        versions,
      );
      probe.client.end(true);
    } catch (err) {
      if (!running) return;
      choice.probeFailed(Date.now());
      log.info({ primary: choice.primary, err: (err as Error).message }, 'link: primary still unreachable');
      if (active === a) scheduleProbe();
      return;
    } finally {
      probeAbort = null;
    }
    if (active !== a || !running || leaving) return;
    log.info({ from: a.conn.url, to: choice.primary }, 'link: primary broker is back, returning to it');
    await leave(a, Date.now() + mqtt.ackTimeoutMs);
    if (!running) return;
    choice.switchToPrimary();
    void connectLoop(0);
  }

  /** Leaves a connection cleanly: offline status, in-flight settled (or the deadline), DISCONNECT. */
  async function leave(a: Active, deadline: number): Promise<void> {
    leaving = true;
    try {
      clearPumpTimer();
      void publishStatus(a, 'offline');
      while (active === a && inFlightCount(a) > 0 && Date.now() < deadline) {
        await nextChange(deadline - Date.now());
        flushAcks();
      }
      if (active !== a) return;
      const clean = inFlightCount(a) === 0;
      active = null;
      if (clean) {
        // A normal DISCONNECT: the broker drops the will, the offline status above stands.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          a.conn.client.endAsync(false).catch(() => undefined),
          new Promise((r) => {
            timer = setTimeout(r, Math.max(100, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
      }
      detach(a);
    } finally {
      leaving = false;
    }
  }

  // ---- drain -----------------------------------------------------------------------------------

  function schedulePump(): void {
    if (pumpScheduled || closed) return;
    pumpScheduled = true;
    setImmediate(pump);
  }

  function clearPumpTimer(): void {
    if (pumpTimer) clearTimeout(pumpTimer);
    pumpTimer = null;
  }

  function pumpIn(ms: number): void {
    clearPumpTimer();
    pumpTimer = setTimeout(pump, Math.max(1, Math.ceil(ms)));
  }

  function pump(): void {
    pumpScheduled = false;
    clearPumpTimer();
    flushAcks();
    const a = active;
    if (!a || !running || leaving || closed) return;
    const state = breaker.state;
    // Half-open: one probe is out; its settlement pumps again.
    if (state === CircuitState.HalfOpen || state === CircuitState.Isolated) return;
    let want = a.cap - inFlightCount(a);
    if (want <= 0) return;
    if (state === CircuitState.Open) want = 1;
    // Refill the window in batches: one outbox query per few PUBACKs, not one per PUBACK.
    else if (want < Math.ceil(a.cap / 4) && inFlight.size > 0) return;

    const t = Date.now();
    if (throttle.active) {
      if (t < throttle.startsAt) {
        pumpIn(throttle.startsAt - t);
        return;
      }
      throttle.tokens = Math.min(burst, throttle.tokens + ((t - throttle.refilledAt) * rate) / 1000);
      throttle.refilledAt = t;
      const need = Math.min(want, burst);
      if (throttle.tokens < 1) {
        pumpIn(((need - throttle.tokens) * 1000) / rate);
        return;
      }
      want = Math.min(want, Math.floor(throttle.tokens));
    }

    let rows: OutboxRow[];
    try {
      rows = outbox.nextBatch(want, now(), inFlightIds);
    } catch (err) {
      noteError(`outbox: ${(err as Error).message}`);
      log.error({ err }, 'link: reading the outbox failed');
      pumpIn(IDLE_POLL_MS);
      return;
    }
    if (throttle.active) {
      throttle.tokens -= rows.length;
      if (rows.length < want) {
        throttle.active = false;
        log.debug('link: backlog drained, throttle off');
      }
    }
    for (const row of rows) {
      if (!launch(a, row)) {
        pumpIn(OPEN_POLL_MS);
        return;
      }
    }
    if (rows.length === 0) {
      pumpIn(IDLE_POLL_MS);
      return;
    }
    schedulePump();
  }

  /** Sends one row through the breaker. False when the breaker refused it (open): nothing was sent. */
  function launch(a: Active, row: OutboxRow): boolean {
    const entry: InFlight = { row, active: a, startedAt: Date.now(), timedOut: false, settled: false };
    inFlight.set(row.rowId, entry);
    inFlightIds.add(row.rowId);
    let sent = false;
    breaker
      .execute(
        () =>
          new Promise<void>((resolve, reject) => {
            sent = true;
            entry.breakerDone = { resolve, reject };
            publishRow(entry);
          }),
      )
      // The breaker's verdict only feeds the breaker; the row's fate is decided in settle().
      .catch(() => {});
    if (!sent) {
      inFlight.delete(row.rowId);
      inFlightIds.delete(row.rowId);
      return false;
    }
    peakInFlight = Math.max(peakInFlight, inFlightCount(a));
    return true;
  }

  function publishRow(entry: InFlight): void {
    const { row, active: a } = entry;
    const { conn } = a;
    const maxPacket = conn.connack.properties?.maximumPacketSize;
    const size = row.payload.length + Buffer.byteLength(row.topic) + PUBLISH_OVERHEAD_BYTES;
    if (maxPacket !== undefined && size > maxPacket) {
      settle(entry, {
        kind: 'dead-letter',
        reason: `packet too large for the broker (maximum ${maxPacket} bytes)`,
      });
      return;
    }
    const opts: IClientPublishOptions = { qos: 1, retain: row.retain || row.class === 'offer' };
    if (conn.protocolVersion === 5 && row.expiresAt !== undefined) {
      opts.properties = { messageExpiryInterval: Math.max(1, Math.ceil((row.expiresAt - now()) / 1000)) };
    }
    conn.client.publishAsync(row.topic, row.payload, opts).then(
      () => settle(entry, { kind: 'ack' }),
      (err: unknown) => settle(entry, classifyPublishError(err)),
    );
  }

  function settle(entry: InFlight, outcome: Outcome): void {
    if (entry.settled) return;
    entry.settled = true;
    const rowId = entry.row.rowId;
    const t = now();
    switch (outcome.kind) {
      case 'ack':
        entry.breakerDone?.resolve();
        counters.published++;
        counters.lastSuccessTs = t;
        // The row stays in flight until its delete commits, so no batch can pick it up again.
        pendingAcks.push(entry);
        break;
      case 'dead-letter':
        // The broker is healthy; this one message is not acceptable to it.
        entry.breakerDone?.resolve();
        counters.deadLettered++;
        log.error(
          { rowId, topic: entry.row.topic, reason: outcome.reason },
          'link: broker refused a message for good',
        );
        if (!closed) guard(() => outbox.deadLetter(rowId, outcome.reason, t));
        release(entry);
        break;
      case 'retry':
        entry.breakerDone?.reject(new Error(outcome.reason));
        counters.retries++;
        noteError(outcome.reason);
        if (!closed) guard(() => outbox.retry(rowId, outcome.reason, t));
        release(entry);
        break;
      case 'lost':
        entry.breakerDone?.reject(new ConnectionLostError('connection lost'));
        if (!closed) guard(() => outbox.retry(rowId, 'connection lost', t));
        release(entry);
        break;
    }
    schedulePump();
  }

  function guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      noteError(`outbox: ${(err as Error).message}`);
      log.error({ err }, 'link: outbox update failed');
    }
  }

  function release(entry: InFlight): void {
    inFlight.delete(entry.row.rowId);
    inFlightIds.delete(entry.row.rowId);
    changed();
  }

  /** Commits the PUBACKs received since the last call in one transaction. */
  function flushAcks(): void {
    if (pendingAcks.length === 0) return;
    const batch = pendingAcks;
    pendingAcks = [];
    if (!closed) {
      const t = now();
      guard(() =>
        store.transaction(() => {
          for (const e of batch) outbox.ack(e.row.rowId, t);
        }),
      );
    }
    for (const e of batch) release(e);
  }

  /** PUBACK timeouts: a failure for the breaker, but the row stays in flight until mqtt.js settles it. */
  function sweep(): void {
    const t = Date.now();
    let any = false;
    for (const e of inFlight.values()) {
      if (e.settled || e.timedOut || t - e.startedAt < mqtt.ackTimeoutMs) continue;
      e.timedOut = true;
      any = true;
      counters.ackTimeouts++;
      noteError(`PUBACK timeout after ${mqtt.ackTimeoutMs} ms`);
      e.breakerDone?.reject(new PubackTimeoutError(`no PUBACK after ${mqtt.ackTimeoutMs} ms`));
    }
    if (any) schedulePump();
  }

  // ---- public ----------------------------------------------------------------------------------

  function breakerState(): BreakerState {
    switch (breaker.state) {
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Isolated:
        return 'isolated';
      default:
        return 'closed';
    }
  }

  return {
    start() {
      if (running) return;
      if (closed) throw new Error('link: a stopped link cannot be started again');
      running = true;
      void connectLoop(0);
    },

    async stop(deadlineMs = 5000) {
      if (!running) return;
      const deadline = Date.now() + deadlineMs;
      running = false;
      attemptAbort?.abort();
      probeAbort?.abort();
      sleepTimer?.wake();
      if (probeTimer) clearTimeout(probeTimer);
      probeTimer = null;
      clearPumpTimer();
      const a = active;
      if (a) await leave(a, deadline);
      flushAcks();
      closed = true;
      log.info({ published: counters.published }, 'link: stopped');
    },

    notify: schedulePump,

    status(): LinkStatus {
      const a = active;
      return {
        state: closed
          ? 'stopped'
          : leaving
            ? 'stopping'
            : a
              ? 'connected'
              : running
                ? 'connecting'
                : 'stopped',
        connected: a !== null,
        broker: a?.conn.url ?? (running ? choice.current : null),
        onPrimary: a !== null && a.conn.url === choice.primary,
        protocolVersion: a?.conn.protocolVersion ?? null,
        breaker: breakerState(),
        inFlight: inFlightCount(),
        inFlightCap: a?.cap ?? 0,
        peakInFlight,
        throttled: a !== null && throttle.active,
        lastError: counters.lastError,
        lastErrorTs: counters.lastErrorTs,
        reconnects: Math.max(0, counters.connects - 1),
        lastSuccessTs: counters.lastSuccessTs,
        published: counters.published,
        retries: counters.retries,
        deadLettered: counters.deadLettered,
        ackTimeouts: counters.ackTimeouts,
        nextPrimaryProbeAt: a ? choice.probeDueAt : null,
        inbox: inbox.stats(),
      };
    },
  };
}
