import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createEnvelope, type Envelope } from '../../src/protocol/envelope.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';
import type { OutboxClass } from '../../src/store/outbox-types.js';

/**
 * The zone benchmark's traffic model (scripts/bench/zone-load.ts): the message kinds, their rates per
 * home and modelled hour, how the responses follow from them, and the envelopes a simulated home sends.
 */

export const KINDS = ['offer', 'telemetry', 'accept', 'trade', 'reject', 'ack', 'settlement'] as const;
export type Kind = (typeof KINDS)[number];

/** Messages each home sends per modelled hour, by kind (`trade` and `settlement` count the own copy). */
export type ZoneRates = Record<Kind, number>;

/**
 * From the neighbourhood simulation's steady traffic at N=100 (scripts/bench/neighbourhood.ts,
 * `steadyTraffic.runs[].perHomePerHour.sent`, cloudless midday, 15-min slots), telemetry every 10 s.
 */
export const DEFAULT_RATES: ZoneRates = {
  offer: 5.3,
  telemetry: 360,
  accept: 7.8,
  trade: 15.1,
  reject: 0.3,
  ack: 23.8,
  settlement: 32.5,
};

/** `offer=5,telemetry=120` over `base`. */
export function parseRates(text: string, base: ZoneRates = DEFAULT_RATES): ZoneRates {
  const rates = { ...base };
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (!(KINDS as readonly string[]).includes(k ?? '') || !(Number(v) >= 0)) {
      throw new Error(`bad rate "${part}": want KIND=PER_HOME_HOUR with KIND one of ${KINDS.join(', ')}`);
    }
    rates[k as Kind] = Number(v);
  }
  return rates;
}

/**
 * Offers, telemetry and settlements are started by each home on its own timers; the rest answer what a
 * home receives, with the chances that give the configured rates on average:
 * - a home receives `offer × (N−1)` offers an hour and accepts each with chance `accept`;
 * - a seller answers an accept with a trade (to the buyer's inbox, plus the copy on its `trades` topic:
 *   two messages) with chance `trade`, else with a reject with chance `reject`, else not at all;
 * - a settlement goes to a counterparty's inbox plus the copy on the own `trades` topic;
 * - a home acks each trade and settlement it receives with chance `ack`.
 * A rate above what its cause can carry is capped (the report shows what was sent).
 */
export interface Chances {
  accept: number;
  trade: number;
  reject: number;
  ack: number;
}

export function chances(r: ZoneRates, homes: number): Chances {
  const offersSeen = r.offer * (homes - 1);
  const accept = offersSeen > 0 ? Math.min(1, r.accept / offersSeen) : 0;
  const trade = r.accept > 0 ? Math.min(1, r.trade / 2 / r.accept) : 0;
  const reject = r.accept > 0 ? Math.min(1 - trade, r.reject / r.accept) : 0;
  const ackable = r.trade / 2 + r.settlement / 2;
  return { accept, trade, reject, ack: ackable > 0 ? Math.min(1, r.ack / ackable) : 0 };
}

/** Where a message goes: a neighbour's inbox, or one of the sender's own topics. */
export type Route = { inbox: string } | { own: 'offer' | 'telemetry' | 'trades' };

export interface Outgoing {
  kind: Kind;
  cls: OutboxClass;
  route: Route;
  env: Envelope<Record<string, unknown>>;
}

export const SLOT_MS = 15 * 60_000;

export function routeTopic(zone: string, from: string, route: Route): string {
  return 'inbox' in route ? homeTopic(zone, route.inbox, 'inbox') : homeTopic(zone, from, route.own);
}

/** Telemetry of a home with an inverter and a meter: eight quantities, as a 10 s window would carry. */
const TELEMETRY_QUANTITIES = [
  'pvPowerW',
  'pvEnergyWh',
  'gridPowerW',
  'gridImportWh',
  'gridExportWh',
  'gridVoltageV',
  'gridFrequencyHz',
  'loadPowerW',
] as const;

/**
 * Builds one home's envelopes. Offers and accepts are for the slot after the next one, so none expires
 * during a run (their `exp` is that slot's start, as in the protocol).
 */
export class Messages {
  private version = 0;

  constructor(
    readonly home: string,
    readonly zone: string,
    private readonly seq: () => number,
  ) {}

  private env(type: Kind, now: number, body: Record<string, unknown>, exp?: number, corr?: string) {
    return createEnvelope({
      type,
      from: this.home,
      zone: this.zone,
      seq: this.seq(),
      ts: now,
      body,
      exp,
      corr,
    });
  }

  private slot(now: number): number {
    return Math.floor(now / SLOT_MS) * SLOT_MS + 2 * SLOT_MS;
  }

  offer(now: number): Outgoing[] {
    const slot = this.slot(now);
    const energyWh = 800 + Math.floor(Math.random() * 1200);
    const body = { slot, slotMs: SLOT_MS, version: ++this.version, energyWh, availableWh: energyWh };
    const env = this.env('offer', now, { ...body, priceCentsPerKwh: 12.5, reserveWh: 100 }, slot);
    return [{ kind: 'offer', cls: 'offer', route: { own: 'offer' }, env }];
  }

  /** The telemetry of the window [from, from + intervalMs). */
  telemetry(from: number, intervalMs: number): Outgoing[] {
    const now = Date.now();
    const q: Record<string, unknown> = {};
    for (const [i, name] of TELEMETRY_QUANTITIES.entries()) {
      const v = Math.round((i + 1) * 1000 + Math.random() * 500) / 10;
      q[name] = { n: 10, mean: v, min: v - 1, max: v + 1, last: v, quality: 'good' };
    }
    const env = this.env('telemetry', now, { from, to: from + intervalMs, samples: 10, q });
    return [{ kind: 'telemetry', cls: 'telemetry', route: { own: 'telemetry' }, env }];
  }

  accept(now: number, offer: Envelope): Outgoing[] {
    const o = offer.body as { slot: number; version: number };
    const body = {
      acceptId: uuidv7(now),
      seller: offer.from,
      slot: o.slot,
      version: o.version,
      energyWh: 300,
      minWh: 100,
      maxPriceCentsPerKwh: 20,
    };
    const env = this.env('accept', now, body, o.slot);
    return [{ kind: 'accept', cls: 'accept', route: { inbox: offer.from }, env }];
  }

  trade(now: number, accept: Envelope): Outgoing[] {
    const a = accept.body as { acceptId: string; slot: number; version: number; energyWh: number };
    const body = {
      tradeId: uuidv7(now),
      acceptId: a.acceptId,
      seller: this.home,
      buyer: accept.from,
      slot: a.slot,
      slotMs: SLOT_MS,
      version: a.version,
      energyWh: a.energyWh,
      priceCentsPerKwh: 12.5,
      confirmedAt: now,
    };
    return [
      {
        kind: 'trade',
        cls: 'trade',
        route: { inbox: accept.from },
        env: this.env('trade', now, body, undefined, accept.id),
      },
      {
        kind: 'trade',
        cls: 'trade',
        route: { own: 'trades' },
        env: this.env('trade', now, body, undefined, accept.id),
      },
    ];
  }

  reject(now: number, accept: Envelope): Outgoing[] {
    const a = accept.body as { acceptId: string; slot: number; version: number };
    const body = {
      acceptId: a.acceptId,
      seller: this.home,
      slot: a.slot,
      reason: 'filled',
      availableWh: 0,
      version: a.version,
    };
    const env = this.env('reject', now, body, undefined, accept.id);
    return [{ kind: 'reject', cls: 'reject', route: { inbox: accept.from }, env }];
  }

  ack(now: number, of: Envelope): Outgoing[] {
    const body = {
      of: of.type === 'trade' ? 'trade' : 'settlement',
      tradeId: (of.body as { tradeId: string }).tradeId,
    };
    const env = this.env('ack', now, body, undefined, of.id);
    return [{ kind: 'ack', cls: 'trade-ack', route: { inbox: of.from }, env }];
  }

  settlement(now: number, to: string): Outgoing[] {
    const body = {
      tradeId: uuidv7(now),
      slot: Math.floor(now / SLOT_MS) * SLOT_MS - SLOT_MS,
      role: Math.random() < 0.5 ? 'seller' : 'buyer',
      tradedWh: 300,
      allocatedWh: 280,
      basis: 'meter',
    };
    return [
      { kind: 'settlement', cls: 'settlement', route: { inbox: to }, env: this.env('settlement', now, body) },
      {
        kind: 'settlement',
        cls: 'settlement',
        route: { own: 'trades' },
        env: this.env('settlement', now, body),
      },
    ];
  }
}

/** The DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A home's Ed25519 key, derived from the run's zone and its id, so every worker knows every public key. */
export function homeKey(zone: string, home: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const seed = createHash('sha256').update(`powerdeal-bench/${zone}/${home}`).digest();
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Exponentially distributed wait (ms) for events at `perHour` per `hourMs`: a Poisson process. */
export function poissonWait(perHour: number, hourMs: number): number {
  return (-Math.log(1 - Math.random()) * hourMs) / perHour;
}
