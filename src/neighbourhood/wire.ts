import type { OfferBody, TradeBody } from '../protocol/trading.js';
import type { WireMessage } from './broker.js';

/** The client id of the rogue client. */
export const ROGUE_ID = 'rogue';

/**
 * What the broker saw: every publish of every home, decoded. The invariants compare the homes' own
 * views against it (offers as published, trades as confirmed on the wire), and the traffic figures come
 * from its counts. Offer clears (empty retained payloads) count as `offer-clear`.
 */
export type TrafficCounts = Record<string, number>;

export interface HomeTraffic {
  /** Publishes that reached the broker, by type (re-sends of one outbox row counted each time). */
  sent: TrafficCounts;
  /** Messages handed to the home's inbox, by type. */
  received: TrafficCounts;
}

export interface WireOffer {
  seller: string;
  slot: number;
  /** The largest energyWh of any revision published for the slot. */
  maxEnergyWh: number;
}

export class WireRecorder {
  readonly published: TrafficCounts = {};
  readonly delivered: TrafficCounts = {};
  readonly perHome = new Map<string, HomeTraffic>();
  private readonly offers = new Map<string, WireOffer>();
  private readonly trades = new Map<string, { body: TradeBody; canonical: string }>();
  /** A tradeId published with two different bodies. */
  readonly tradeConflicts: string[] = [];

  /** A home's publish reached the broker: returns its envelope type. */
  publishedBy(home: string, msg: WireMessage): string | null {
    const env = parse(msg.payload);
    const type =
      env === null ? (msg.payload.length === 0 ? 'offer-clear' : 'unknown') : countedType(env.type, msg);
    bump(this.published, type);
    bump(this.traffic(home).sent, type);
    if (env?.type === 'offer') this.offer(env.from, env.body as OfferBody);
    if (env?.type === 'trade') this.trade(env.body as TradeBody);
    return env?.type ?? null;
  }

  /** A message handed to a home's inbox; the rogue client's count as `rogue`. */
  deliveredTo(to: string, msg: WireMessage): void {
    const type =
      msg.from === ROGUE_ID
        ? 'rogue'
        : msg.type === null
          ? msg.payload.length === 0
            ? 'offer-clear'
            : 'unknown'
          : countedType(msg.type, msg);
    bump(this.delivered, type);
    bump(this.traffic(to).received, type);
  }

  /** Starts the per-home counts afresh (after a warm-up). */
  resetHomeTraffic(): void {
    this.perHome.clear();
  }

  wireOffers(): WireOffer[] {
    return [...this.offers.values()].sort((a, b) => compare(a.seller, b.seller) || a.slot - b.slot);
  }

  wireTrades(): TradeBody[] {
    return [...this.trades.values()].map((t) => t.body).sort((a, b) => compare(a.tradeId, b.tradeId));
  }

  private traffic(home: string): HomeTraffic {
    let t = this.perHome.get(home);
    if (!t) {
      t = { sent: {}, received: {} };
      this.perHome.set(home, t);
    }
    return t;
  }

  private offer(seller: string, body: OfferBody): void {
    const key = `${seller}|${body.slot}`;
    const o = this.offers.get(key);
    if (!o) this.offers.set(key, { seller, slot: body.slot, maxEnergyWh: body.energyWh });
    else if (body.energyWh > o.maxEnergyWh) o.maxEnergyWh = body.energyWh;
  }

  private trade(body: TradeBody): void {
    const canonical = JSON.stringify(body, Object.keys(body).sort());
    const seen = this.trades.get(body.tradeId);
    if (!seen) this.trades.set(body.tradeId, { body, canonical });
    else if (seen.canonical !== canonical && !this.tradeConflicts.includes(body.tradeId)) {
      this.tradeConflicts.push(body.tradeId);
    }
  }
}

function parse(payload: Buffer): { type: string; from: string; body: unknown } | null {
  if (payload.length === 0) return null;
  try {
    const env = JSON.parse(payload.toString('utf8')) as { type?: unknown; from?: unknown; body?: unknown };
    return typeof env.type === 'string' && typeof env.from === 'string'
      ? { type: env.type, from: env.from, body: env.body }
      : null;
  } catch {
    return null;
  }
}

function bump(c: TrafficCounts, key: string): void {
  c[key] = (c[key] ?? 0) + 1;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The counted type: an offer sent to one home's inbox (the answer to its offer request) is `offer-answer`. */
function countedType(type: string, msg: WireMessage): string {
  return type === 'offer' && msg.topic.endsWith('/inbox') ? 'offer-answer' : type;
}
