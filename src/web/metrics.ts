import {
  type CollectFunction,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client';
import { QUANTITY_NAMES } from '../core/quantities.js';
import { OUTBOX_PRIORITY } from '../store/outbox-types.js';
import type { ServiceStatus, WatchdogView } from '../views/status.js';
import { hostMetrics } from './metrics-host.js';

/** What the metrics read of the status's trading section (the trading module's TradingStatus fits it). */
export interface TradingGauges {
  state: 'on' | 'off';
  netW: number | null;
  offer: { availableWh: number } | null;
  /** Steps in which the engine threw (a bug): counted, the state kept as it was. */
  engineFaults: number;
  actuation: {
    relaySwitches: number;
    relayFailures: number;
    relayOverridden: number;
    exportLimitWrites: number;
    exportLimitFailures: number;
  } | null;
}

/** The trade book's running totals since the database was created (the metrics' counters). */
export interface TradeCounts {
  trades: Record<'buyer' | 'seller', number>;
  energyWh: Record<'buyer' | 'seller', number>;
  settledWh: Record<'buyer' | 'seller', number>;
  /** Accepts this home refused as seller, by reason. */
  rejects: Record<string, number>;
  offers: number;
}

/** Everything a scrape reports, read once per scrape. */
export interface MetricsView {
  status: ServiceStatus<TradingGauges>;
  /** Dead letters ever added, per reason (survives purges and restarts). */
  deadLetterTotals: Record<string, number>;
  /** Dead letters held now. */
  deadLettersHeld: number;
  trades: TradeCounts;
  relays: { id: string; on: boolean | null; override: boolean }[];
  sseClients: number;
  /** The systemd watchdog; null before `powerdeal run` starts petting it (or in a test's service). */
  watchdog: WatchdogView | null;
  /** When the view was read, epoch ms (ages are measured from it). */
  now: number;
}

/** Registers a metric whose series are recomputed from the view at every scrape. */
export type MetricFactory = (
  name: string,
  help: string,
  labelNames: string[],
  fill: (set: (labels: Record<string, string>, value: number) => void, view: MetricsView) => void,
) => unknown;

export interface Metrics {
  readonly registry: Registry;
  /** One completed cycle took this long. */
  observeCycle(durationMs: number): void;
  /** Prometheus text exposition of everything, from a fresh view. */
  render(): Promise<{ text: string; contentType: string }>;
}

const DEVICE_BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
const LINK_BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;
const LINK_STATES = ['stopped', 'connecting', 'connected', 'stopping'] as const;
const LINK_MODES = ['upstream', 'fallback-leader', 'fallback-member', 'offline'] as const;
const QUALITIES = ['good', 'stale', 'fault'] as const;
const DROP_REASONS = ['expired', 'coalesced', 'shed-cap', 'purged'] as const;

/**
 * Domain metrics (quantities, cycle, devices, outbox, link, inbox, trades) plus the default process
 * metrics, in a registry of its own. Values that live elsewhere (counters in the store, the link's
 * status) are read at scrape time from one view, so a scrape costs one status read.
 */
export function createMetrics(view: () => MetricsView): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters: `promtool check metrics` rejects them, and handle counts say little here.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  let v: MetricsView | undefined;
  const registers = [registry];

  /** A gauge whose every series is recomputed from the view at scrape time. */
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (set: (labels: Record<string, string>, value: number) => void, view: MetricsView) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect: function (this: Gauge) {
        this.reset();
        if (v) fill((labels, value) => this.set(labels, value), v);
      } as CollectFunction<Gauge>,
    });

  /** A counter mirroring a total kept elsewhere (monotonic there; reset only with the database). */
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (set: (labels: Record<string, string>, value: number) => void, view: MetricsView) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect: function (this: Counter) {
        this.reset();
        if (v) fill((labels, value) => this.inc(labels, Math.max(0, value)), v);
      } as CollectFunction<Counter>,
    });

  gauge(
    'powerdeal_info',
    'Build and identity of this home (always 1)',
    ['version', 'home', 'zone'],
    (set, x) => set({ version: x.status.version, home: x.status.home.id, zone: x.status.home.zone }, 1),
  );
  gauge('powerdeal_uptime_seconds', 'Seconds since the service started', [], (set, x) =>
    set({}, x.status.uptimeS),
  );

  // Quantities: the last value, labelled with its quality (only the current quality has a series).
  gauge(
    'powerdeal_quantity',
    'Last value of each quantity, in the unit its name ends with, labelled with its quality',
    ['quantity', 'quality', 'source'],
    (set, x) => {
      for (const name of QUANTITY_NAMES) {
        const q = x.status.snapshot?.quantities[name];
        if (q && q.value !== null) set({ quantity: name, quality: q.quality, source: q.source }, q.value);
      }
    },
  );
  gauge(
    'powerdeal_quantity_quality',
    'Quality of each quantity as a state set: 1 for the current quality, 0 for the others',
    ['quantity', 'quality'],
    (set, x) => {
      for (const name of QUANTITY_NAMES) {
        const q = x.status.snapshot?.quantities[name];
        if (q)
          for (const quality of QUALITIES) set({ quantity: name, quality }, q.quality === quality ? 1 : 0);
      }
    },
  );
  gauge(
    'powerdeal_quantity_age_seconds',
    'Age of the last good value of each quantity',
    ['quantity'],
    (set, x) => {
      const snap = x.status.snapshot;
      if (!snap) return;
      for (const name of QUANTITY_NAMES) {
        const q = snap.quantities[name];
        if (q && q.ts > 0) set({ quantity: name }, Math.max(0, (snap.ts - q.ts) / 1000));
      }
    },
  );

  // Cycle.
  const cycleDuration = new Histogram({
    name: 'powerdeal_cycle_duration_seconds',
    help: 'Duration of a whole cycle: reads, snapshot, every sink',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1, 2, 5],
    registers,
  });
  counter('powerdeal_cycles_total', 'Cycles started', [], (set, x) => set({}, x.status.cycle?.cycles ?? 0));
  counter('powerdeal_cycle_overruns_total', 'Cycles that overran their period', [], (set, x) =>
    set({}, x.status.cycle?.overruns ?? 0),
  );
  counter('powerdeal_cycle_sink_errors_total', 'Snapshot sinks that failed', [], (set, x) =>
    set({}, x.status.cycle?.sinkErrors ?? 0),
  );

  // Devices.
  const deviceLabels = ['device', 'profile'];
  gauge('powerdeal_device_up', 'Whether the device answers (1) or is faulted (0)', deviceLabels, (set, x) => {
    for (const d of x.status.devices) set({ device: d.id, profile: d.profile }, d.state === 'fault' ? 0 : 1);
  });
  counter(
    'powerdeal_device_reads_total',
    'Device reads (or relay writes) attempted',
    deviceLabels,
    (set, x) => {
      for (const d of x.status.devices) set({ device: d.id, profile: d.profile }, d.reads);
    },
  );
  counter(
    'powerdeal_device_errors_total',
    'Device reads (or relay writes) that failed',
    deviceLabels,
    (set, x) => {
      for (const d of x.status.devices) set({ device: d.id, profile: d.profile }, d.failures);
    },
  );
  gauge(
    'powerdeal_device_breaker_state',
    "State of each device's circuit breaker as a state set",
    ['device', 'state'],
    (set, x) => {
      for (const d of x.status.devices)
        for (const state of DEVICE_BREAKER_STATES) set({ device: d.id, state }, d.breaker === state ? 1 : 0);
    },
  );
  gauge('powerdeal_device_latency_seconds', 'Duration of the last successful read', ['device'], (set, x) => {
    for (const d of x.status.devices) if (d.latencyMs !== null) set({ device: d.id }, d.latencyMs / 1000);
  });
  gauge('powerdeal_relay_on', 'Whether the relay output is on (1) or off (0)', ['relay'], (set, x) => {
    for (const r of x.relays) if (r.on !== null) set({ relay: r.id }, r.on ? 1 : 0);
  });
  gauge('powerdeal_relay_override', 'Whether the relay is under a manual override', ['relay'], (set, x) => {
    for (const r of x.relays) set({ relay: r.id }, r.override ? 1 : 0);
  });

  // Outbox and dead letters.
  gauge('powerdeal_outbox_depth', 'Messages waiting to be sent, per class', ['class'], (set, x) => {
    for (const c of OUTBOX_PRIORITY) set({ class: c }, x.status.outbox?.depth[c] ?? 0);
  });
  gauge('powerdeal_outbox_bytes', 'Bytes held in the outbox', [], (set, x) =>
    set({}, x.status.outbox?.bytes ?? 0),
  );
  gauge(
    'powerdeal_outbox_oldest_age_seconds',
    'Age of the oldest waiting message (0 when empty)',
    [],
    (set, x) => set({}, (x.status.outbox?.oldestAgeMs ?? 0) / 1000),
  );
  counter('powerdeal_outbox_drops_total', 'Messages dropped unsent, per reason', ['reason'], (set, x) => {
    for (const r of DROP_REASONS) set({ reason: r }, x.status.outbox?.drops[r] ?? 0);
  });
  counter('powerdeal_outbox_retries_total', 'Send attempts that failed and will be retried', [], (set, x) =>
    set({}, x.status.outbox?.retries ?? 0),
  );
  counter('powerdeal_outbox_sent_total', 'Messages the broker acknowledged', [], (set, x) =>
    set({}, x.status.outbox?.sent ?? 0),
  );
  gauge('powerdeal_dead_letters', 'Dead letters held now', [], (set, x) => set({}, x.deadLettersHeld));
  counter('powerdeal_dead_letters_total', 'Dead letters ever added, per reason', ['reason'], (set, x) => {
    for (const [reason, n] of Object.entries(x.deadLetterTotals)) set({ reason }, n);
  });

  // Link.
  gauge('powerdeal_link_up', 'Whether the broker link is connected', [], (set, x) =>
    set({}, x.status.link?.connected ? 1 : 0),
  );
  gauge('powerdeal_link_state', 'State of the broker link as a state set', ['state'], (set, x) => {
    for (const s of LINK_STATES) set({ state: s }, (x.status.link?.state ?? 'stopped') === s ? 1 : 0);
  });
  gauge(
    'powerdeal_link_breaker_state',
    "State of the link's circuit breaker as a state set",
    ['state'],
    (set, x) => {
      if (x.status.link)
        for (const s of LINK_BREAKER_STATES) set({ state: s }, x.status.link.breaker === s ? 1 : 0);
    },
  );
  gauge('powerdeal_link_mode', 'Which broker carries the messages, as a state set', ['mode'], (set, x) => {
    if (x.status.link) for (const m of LINK_MODES) set({ mode: m }, x.status.link.mode === m ? 1 : 0);
  });
  counter(
    'powerdeal_link_elections_total',
    'Fallback terms taken or leaders followed since start',
    [],
    (set, x) => set({}, x.status.link?.elections ?? 0),
  );
  counter(
    'powerdeal_link_fallback_received_total',
    'Messages received over the fallback broker since start',
    [],
    (set, x) => set({}, x.status.link?.fallbackReceived ?? 0),
  );
  gauge('powerdeal_link_on_primary', 'Whether the link uses the first (primary) broker', [], (set, x) =>
    set({}, x.status.link?.onPrimary ? 1 : 0),
  );
  gauge('powerdeal_link_in_flight', 'Publishes awaiting their PUBACK', [], (set, x) =>
    set({}, x.status.link?.inFlight ?? 0),
  );
  counter('powerdeal_link_reconnects_total', 'Successful broker connections after the first', [], (set, x) =>
    set({}, x.status.link?.reconnects ?? 0),
  );
  counter('powerdeal_link_published_total', 'Publishes acknowledged since start', [], (set, x) =>
    set({}, x.status.link?.published ?? 0),
  );
  counter('powerdeal_link_ack_timeouts_total', 'Publishes whose PUBACK did not come in time', [], (set, x) =>
    set({}, x.status.link?.ackTimeouts ?? 0),
  );
  counter('powerdeal_inbox_accepted_total', 'Inbound messages accepted', [], (set, x) =>
    set({}, x.status.link?.inbox.accepted ?? 0),
  );
  counter('powerdeal_inbox_rejected_total', 'Inbound messages rejected, per reason', ['reason'], (set, x) => {
    for (const [reason, n] of Object.entries(x.status.link?.inbox.rejected ?? {})) set({ reason }, n);
  });

  // Trades.
  counter('powerdeal_trades_total', 'Binding trades, per role of this home', ['role'], (set, x) => {
    for (const [role, n] of Object.entries(x.trades.trades)) set({ role }, n);
  });
  counter(
    'powerdeal_trade_energy_wh_total',
    'Energy traded, per role of this home, Wh',
    ['role'],
    (set, x) => {
      for (const [role, n] of Object.entries(x.trades.energyWh)) set({ role }, n);
    },
  );
  counter(
    'powerdeal_trade_settled_wh_total',
    'Energy settled from the meters (the smaller allocation of the two sides), per role of this home, Wh',
    ['role'],
    (set, x) => {
      for (const [role, n] of Object.entries(x.trades.settledWh)) set({ role }, n);
    },
  );
  counter(
    'powerdeal_trade_rejects_total',
    'Accepts refused by this home as seller, per reason',
    ['reason'],
    (set, x) => {
      for (const [reason, n] of Object.entries(x.trades.rejects)) set({ reason }, n);
    },
  );
  counter('powerdeal_offers_total', 'Offers published', [], (set, x) => set({}, x.trades.offers));
  gauge('powerdeal_trading_on', 'Whether trading runs (1) or is off (0, see /api/status)', [], (set, x) =>
    set({}, x.status.trading?.state === 'on' ? 1 : 0),
  );
  gauge(
    'powerdeal_trading_net_power_watts',
    "The engine's smoothed surplus (+) or deficit (−), W",
    [],
    (set, x) => {
      const net = x.status.trading?.netW;
      if (net !== null && net !== undefined) set({}, net);
    },
  );
  gauge(
    'powerdeal_trading_offer_available_wh',
    'Energy still unsold in the current offer, Wh (0 without one)',
    [],
    (set, x) => set({}, x.status.trading?.offer?.availableWh ?? 0),
  );
  counter(
    'powerdeal_trading_engine_faults_total',
    'Engine steps that threw (a bug, not a bad input): the state was kept and the input dropped',
    [],
    (set, x) => set({}, x.status.trading?.engineFaults ?? 0),
  );
  counter(
    'powerdeal_actuator_commands_total',
    "The engine's relay and export-limit commands, by outcome",
    ['kind', 'outcome'],
    (set, x) => {
      const a = x.status.trading?.actuation;
      if (!a) return;
      set({ kind: 'relay', outcome: 'done' }, a.relaySwitches);
      set({ kind: 'relay', outcome: 'failed' }, a.relayFailures);
      set({ kind: 'relay', outcome: 'overridden' }, a.relayOverridden);
      set({ kind: 'export-limit', outcome: 'done' }, a.exportLimitWrites);
      set({ kind: 'export-limit', outcome: 'failed' }, a.exportLimitFailures);
    },
  );

  hostMetrics(gauge, counter);

  gauge('powerdeal_web_event_clients', 'Live-page (server-sent events) connections', [], (set, x) =>
    set({}, x.sseClients),
  );

  return {
    registry,
    observeCycle: (ms) => cycleDuration.observe(ms / 1000),
    async render() {
      // Kept after the scrape: a concurrent scrape then reads a view at most as old as its own.
      v = view();
      return { text: await registry.metrics(), contentType: registry.contentType };
    },
  };
}
