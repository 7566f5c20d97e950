import type { QuantityName, Snapshot } from '../core/quantities.js';
import type { QuantityStats, TelemetryBody } from '../protocol/bodies.js';
import { type HomeId, telemetryEnvelope } from '../protocol/messages.js';
import type { Signer } from '../protocol/signing.js';
import { homeTopic } from '../protocol/topics.js';
import { envelopeMessage } from '../store/outbox-message.js';
import type { OutboxMessage } from '../store/outbox-types.js';

/** Telemetry as an outbox row of class `telemetry`, signed when a signer is given. */
export function telemetryMessage(
  home: HomeId,
  body: TelemetryBody,
  seq: number,
  now: number,
  signer: Signer | null = null,
): OutboxMessage {
  const env = telemetryEnvelope(home, body, seq, now);
  return envelopeMessage(
    signer ? signer.sign(env) : env,
    'telemetry',
    homeTopic(home.zone, home.id, 'telemetry'),
  );
}

/**
 * Telemetry over fixed intervals aligned to the epoch (every home's 10 s windows line up). Fed with each
 * cycle's snapshot; an interval closes when a snapshot at or after its end arrives, so there is no timer
 * here and a simulated clock drives it like the real one. Mean, min and max cover good samples only.
 */
export interface TelemetryAggregatorOptions {
  intervalMs: number;
  home: HomeId;
  /** Signs every telemetry envelope when the home has a key; without one they go unsigned. */
  signer?: Signer | null;
}

export interface TelemetryAggregator {
  /** Adds a snapshot. Returns the body of the interval this snapshot closed, if it closed one. */
  add(snapshot: Snapshot): TelemetryBody | null;
  /** Closes the current interval now (e.g. at shutdown); null if it holds no snapshot. */
  flush(): TelemetryBody | null;
  /** The outbox row for a body, enveloped with `seq` (take it from store.seq.next() in the transaction), signed when it can be. */
  message(body: TelemetryBody, seq: number, now: number): OutboxMessage;
}

interface Acc {
  n: number;
  sum: number;
  min: number;
  max: number;
  last: number | null;
  quality: QuantityStats['quality'];
}

export function createTelemetryAggregator(opts: TelemetryAggregatorOptions): TelemetryAggregator {
  const { intervalMs, home } = opts;
  const signer = opts.signer ?? null;
  if (!(intervalMs > 0)) throw new RangeError('intervalMs must be > 0');
  let start = 0;
  let samples = 0;
  let accs = new Map<QuantityName, Acc>();

  function close(): TelemetryBody | null {
    if (samples === 0) return null;
    const q: TelemetryBody['q'] = {};
    for (const [name, a] of accs) {
      q[name] = {
        n: a.n,
        mean: a.n > 0 ? Math.round((a.sum / a.n) * 1e4) / 1e4 : null,
        min: a.n > 0 ? a.min : null,
        max: a.n > 0 ? a.max : null,
        last: a.last,
        quality: a.quality,
      };
    }
    const body: TelemetryBody = { from: start, to: start + intervalMs, samples, q };
    samples = 0;
    accs = new Map();
    return body;
  }

  function add(snapshot: Snapshot): TelemetryBody | null {
    let closed: TelemetryBody | null = null;
    // A snapshot outside the current interval (the next one, or a clock stepped back) starts a new one.
    if (samples === 0 || snapshot.ts < start || snapshot.ts >= start + intervalMs) {
      closed = close();
      start = Math.floor(snapshot.ts / intervalMs) * intervalMs;
    }
    samples++;
    for (const [name, r] of Object.entries(snapshot.quantities) as [
      QuantityName,
      Snapshot['quantities'][QuantityName],
    ][]) {
      if (!r) continue;
      let a = accs.get(name);
      if (!a) {
        a = {
          n: 0,
          sum: 0,
          min: Number.POSITIVE_INFINITY,
          max: Number.NEGATIVE_INFINITY,
          last: null,
          quality: r.quality,
        };
        accs.set(name, a);
      }
      if (r.quality === 'good' && r.value !== null && Number.isFinite(r.value)) {
        a.n++;
        a.sum += r.value;
        if (r.value < a.min) a.min = r.value;
        if (r.value > a.max) a.max = r.value;
      }
      a.last = r.value !== null && Number.isFinite(r.value) ? r.value : null;
      a.quality = r.quality;
    }
    return closed;
  }

  return {
    add,
    flush: close,
    message: (body, seq, now) => telemetryMessage(home, body, seq, now, signer),
  };
}

/** The parts of the store that enqueueTelemetry uses. */
export interface TelemetryStore {
  readonly outbox: { enqueue(msg: OutboxMessage, now: number): number };
  readonly seq: { next(): number };
  transaction<T>(fn: () => T): T;
}

/** Envelopes a closed interval and enqueues it as class `telemetry`, seq and row in one transaction. */
export function enqueueTelemetry(
  store: TelemetryStore,
  aggregator: TelemetryAggregator,
  body: TelemetryBody,
  now: number,
): number {
  return store.transaction(() => store.outbox.enqueue(aggregator.message(body, store.seq.next(), now), now));
}
