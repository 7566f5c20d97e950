import type { MqttConfig } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { errorText } from '../core/errors.js';
import type { Signer } from '../protocol/signing.js';
import { defaultClientId } from '../protocol/topics.js';
import type { OutboxQueue } from '../store/outbox-types.js';
import { createMqttTransport } from './connection.js';
import { DEFAULT_IDLE_POLL_MS, Drain, type RowRoute } from './drain.js';
import type { FallbackOptions, LinkMode } from './fallback-options.js';
import { FallbackRoute } from './fallback-route.js';
import { createInbox, type InboxOptions, type InboxStats } from './inbox.js';
import { Session } from './session.js';
import { StatusPublisher } from './status-publisher.js';
import {
  type BrokerConnection,
  type BrokerTransport,
  featuresOff,
  type ProtocolVersion,
} from './transport.js';

export { BREAKER_THRESHOLD } from './drain.js';

const DEFAULT_DRAIN_START_JITTER_MS = 3000;

/** What the link needs: the inbox's options (home, store, handlers) plus the broker side. */
export interface LinkContext extends InboxOptions {
  mqtt: MqttConfig;
  outbox: OutboxQueue;
  version: string;
  /** Time, timers and chance for everything the link does (its inbox too); default the system clock. */
  clock?: Clock;
  /**
   * Without `clock`: the time stamped on data (expiry checks, outbox records, envelopes), while timers
   * and chance stay the system clock's (the service's wiring). With `clock`, not read.
   */
  now?: () => number;
  /** Each successful connection, after `online` was sent (trading asks the zone for its offers). */
  onConnected?: () => void;
  /** How the link reaches the brokers; default mqtt.js. */
  transport?: BrokerTransport;
  /** Upper bound of the random pause before the backlog drain starts after a connect. */
  drainStartJitterMs?: number;
  /**
   * How often an idle drain looks at the outbox when nobody called notify(); default 500 ms. Only a
   * safety net: every producer notifies.
   */
  idlePollMs?: number;
  /** Signs the status messages (and the will) the link builds itself; without it they go unsigned. */
  signer?: Signer;
  /** Trading with no broker (fallback-route.ts); without it the link waits for a broker. */
  fallback?: FallbackOptions;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface LinkStatus {
  state: 'stopped' | 'connecting' | 'connected' | 'stopping';
  /** Connected to a broker: upstream, or the zone's fallback broker. */
  connected: boolean;
  /** Which broker carries the home's messages (docs/protocol.md "Fallback"). */
  mode: LinkMode;
  /** In fallback: the home whose broker carries the zone, and its term. */
  leader: string | null;
  epoch: number | null;
  /** When the mode began, epoch ms (null without fallback: the mode follows the connection). */
  modeSince: number | null;
  /** Terms taken or leaders followed since the start. */
  elections: number;
  /** Messages received over the fallback broker since the start. */
  fallbackReceived: number;
  /** The broker in use, or the one being tried. */
  broker: string | null;
  onPrimary: boolean;
  protocolVersion: ProtocolVersion | null;
  /** MQTT 5 features the connected broker does not offer (MQTT5_ONLY_FEATURES on 3.1.1). */
  featuresOff: string[];
  /** `online` re-announced because a late will had overwritten it. */
  onlineReasserted: number;
  /** 'isolated' is part of the reported vocabulary; this link's breaker is never held open by hand. */
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

/**
 * The home's MQTT link, composed of a session (connections, brokers, will: session.ts), a drain (outbox
 * to broker: drain.ts), the retained status (status-publisher.ts) and the inbox (inbox.ts), all on one
 * clock and one transport, so the neighbourhood simulation runs this same code on simulated time.
 */
export function createLink(ctx: LinkContext): Link {
  const { mqtt, home, store } = ctx;
  const log = ctx.log.child({ module: 'link' });
  const clock: Clock = ctx.clock ?? systemClock;
  const stamp = !ctx.clock && ctx.now ? ctx.now : () => clock.now();
  const errors = { lastError: null as string | null, lastErrorTs: null as number | null };
  const noteError = (message: string) => {
    errors.lastError = message;
    errors.lastErrorTs = stamp();
  };
  /** After stop(): nothing touches the store any more (it may be closed). */
  let closed = false;

  const inbox = createInbox({
    home,
    store,
    log,
    now: stamp,
    ...(ctx.onMessage ? { onMessage: ctx.onMessage } : {}),
    ...(ctx.onOfferWithdrawn ? { onOfferWithdrawn: ctx.onOfferWithdrawn } : {}),
    ...(ctx.verify ? { verify: ctx.verify } : {}),
  });
  const status = new StatusPublisher({
    stamp,
    log,
    home,
    store,
    version: ctx.version,
    signer: ctx.signer,
    onSettled: () => {
      drain.changed();
      drain.notify();
    },
  });
  const drain = new Drain({
    clock,
    stamp,
    log,
    mqtt,
    outbox: ctx.outbox,
    store,
    startJitterMs: ctx.drainStartJitterMs ?? DEFAULT_DRAIN_START_JITTER_MS,
    idlePollMs: ctx.idlePollMs ?? DEFAULT_IDLE_POLL_MS,
    othersInFlight: (conn) => status.inFlight(conn),
    noteError,
  });
  const clientId = mqtt.clientId ?? defaultClientId(home.id);
  const transport = ctx.transport ?? createMqttTransport(stamp);
  /** Where a message from `conn` goes: the inbox, or the own status (a late will over `online`). */
  const received = (conn: BrokerConnection | null, topic: string, payload: Buffer, replayed: boolean) => {
    if (closed) return;
    if (topic !== status.topic) inbox.handle(topic, payload);
    // A replayed status is the one stored before this connection announced itself, not a late will.
    else if (!replayed && conn && !session.leaving) status.heard(conn, payload);
  };
  const use = (conn: BrokerConnection, rows: RowRoute | null) => {
    void status.publish(conn, 'online');
    drain.attach(conn, rows);
    try {
      ctx.onConnected?.();
    } catch (err) {
      log.error({ err }, 'link: connected handler threw');
    }
  };
  const forget = (conn: BrokerConnection) => {
    status.forget(conn);
    drain.detach(conn);
  };
  const quiesce = (conn: BrokerConnection, deadline: number) => {
    drain.pause();
    void status.publish(conn, 'offline');
    return drain.settled(conn, deadline);
  };
  const route = ctx.fallback
    ? new FallbackRoute({
        ...ctx.fallback,
        clock,
        log,
        mqtt,
        transport,
        self: home.id,
        returnUpstream: (conn) => use(conn, null),
        side: {
          attach: use,
          lost: forget,
          onMessage: received,
          subscriptions: inbox.subscriptions,
          will: () => status.will(),
          async leave(conn, deadline) {
            if (await quiesce(conn, deadline)) {
              await conn.end(false).catch((err: unknown) => {
                log.debug({ err: errorText(err) }, 'link: DISCONNECT from the fallback broker failed');
              });
            }
            forget(conn);
            await conn.end(true).catch(() => {
              // Already closed.
            });
          },
        },
      })
    : null;
  const session = new Session({
    clock,
    log,
    mqtt,
    transport,
    clientId,
    // They include the own status topic: how a stale will that overwrote `online` is noticed.
    subscriptions: inbox.subscriptions,
    onMessage: (topic, payload, replayed) => {
      // Upstream messages while the fallback still carries the home: the inbox drops what it saw twice.
      received(session.active, topic, payload, replayed);
    },
    will: () => status.will(),
    noteError,
    hooks: {
      up(conn) {
        if (route && !route.upstreamUp(conn)) return;
        use(conn, null);
      },
      down(conn) {
        forget(conn);
        route?.upstreamDown();
      },
      quiesce,
    },
  });

  return {
    start() {
      if (session.isRunning) return;
      if (closed) throw new Error('link: a stopped link cannot be started again');
      session.start();
      route?.start();
    },

    async stop(deadlineMs = 5000) {
      if (!session.isRunning) return;
      await route?.stop(clock.now() + deadlineMs);
      await session.stop(clock.now() + deadlineMs);
      drain.close();
      closed = true;
      log.info({ published: drain.counters.published }, 'link: stopped');
    },

    notify: () => drain.notify(),

    status(): LinkStatus {
      const conn = session.active;
      const c = drain.counters;
      const r = route?.status();
      const mode: LinkMode = r?.mode ?? (conn ? 'upstream' : 'offline');
      const inFallback = mode === 'fallback-leader' || mode === 'fallback-member';
      return {
        state: closed
          ? 'stopped'
          : session.leaving
            ? 'stopping'
            : conn
              ? 'connected'
              : session.isRunning
                ? 'connecting'
                : 'stopped',
        connected: inFallback || conn !== null,
        mode,
        leader: r?.leader ?? null,
        epoch: r?.epoch ?? null,
        modeSince: r?.since ?? null,
        elections: r?.elections ?? 0,
        fallbackReceived: r?.fallbackReceived ?? 0,
        broker: inFallback ? (route?.url ?? null) : session.broker,
        onPrimary: session.onPrimary,
        protocolVersion: conn?.protocolVersion ?? null,
        featuresOff: conn ? featuresOff(conn.protocolVersion) : [],
        onlineReasserted: status.reasserted,
        breaker: drain.breakerState,
        inFlight: drain.inFlightCount,
        inFlightCap: drain.cap,
        peakInFlight: c.peakInFlight,
        throttled: drain.throttled,
        lastError: errors.lastError,
        lastErrorTs: errors.lastErrorTs,
        reconnects: session.reconnects,
        lastSuccessTs: c.lastSuccessTs,
        published: c.published,
        retries: c.retries,
        deadLettered: c.deadLettered,
        ackTimeouts: c.ackTimeouts,
        nextPrimaryProbeAt: session.nextPrimaryProbeAt,
        inbox: inbox.stats(),
      };
    },
  };
}
