import { connect, type MqttClient } from 'mqtt';
import { decodeEnvelope } from '../../protocol/envelope.js';
import type { Keyring } from '../../protocol/keyring.js';
import { createVerifier, type Verify } from '../../protocol/signing.js';
import { parseTopic, TOPIC_ROOT } from '../../protocol/topics.js';
import type {
  AcceptBody,
  OfferBody,
  RejectBody,
  RejectReason,
  SettlementBody,
  TradeBody,
} from '../../protocol/trading.js';
import { bold, dim, green, red, yellow } from '../output.js';

/**
 * The demo's live feed: what the homes tell each other, read off the broker like any neighbour would
 * (every message's signature checked against the zone keyring), plus the relays the buyers switch.
 * Re-sends of the same business message (a trade until it is acknowledged, an accept until it is
 * answered) are shown once.
 */
export type DemoEvent =
  | ({ event: 'offer'; ts: number; home: string } & Omit<OfferBody, 'slotMs' | 'reserveWh'>)
  | { event: 'offer-cleared'; ts: number; home: string }
  | ({ event: 'accept'; ts: number; buyer: string } & Omit<AcceptBody, 'minWh'>)
  | ({ event: 'trade'; ts: number } & Omit<TradeBody, 'slotMs' | 'version' | 'confirmedAt'>)
  | {
      event: 'reject';
      ts: number;
      seller: string;
      buyer: string;
      acceptId: string;
      slot: number;
      reason: RejectReason;
      availableWh: number;
    }
  | ({ event: 'settlement'; ts: number; home: string } & Omit<SettlementBody, 'slot'>)
  | { event: 'relay'; ts: number; home: string; relay: string; on: boolean }
  /** A message on the zone's topics that a home would refuse (garbage, a bad or missing signature). */
  | { event: 'refused'; ts: number; topic: string; reason: string };

export interface FeedTotals {
  offers: number;
  trades: number;
  energyWh: number;
  rejects: Partial<Record<RejectReason, number>>;
  settlements: number;
  refused: number;
}

/** Turns the zone's messages into events, once per business message. */
export class FeedDecoder {
  private readonly verify: Verify;
  private readonly lastOffer = new Map<string, string>();
  private readonly seen = new Set<string>();
  readonly totals: FeedTotals = {
    offers: 0,
    trades: 0,
    energyWh: 0,
    rejects: {},
    settlements: 0,
    refused: 0,
  };

  constructor(
    private readonly zone: string,
    keyring: Keyring,
    private readonly now: () => number,
  ) {
    this.verify = createVerifier(keyring);
  }

  handle(topic: string, payload: Buffer): DemoEvent | null {
    const t = parseTopic(topic);
    if (!t || t.zone !== this.zone || t.kind === 'status' || t.kind === 'telemetry') return null;
    const ts = this.now();
    if (payload.length === 0) {
      if (t.kind !== 'offer' || this.lastOffer.get(t.home) === 'cleared') return null;
      this.lastOffer.set(t.home, 'cleared');
      return { event: 'offer-cleared', ts, home: t.home };
    }
    const decoded = decodeEnvelope(payload);
    if (!decoded.ok) return this.refused(topic, decoded.reason, ts);
    const env = decoded.envelope;
    const bad = this.verify(env, payload);
    if (bad !== null) return this.refused(topic, bad, ts);
    // A retained offer from an earlier run on a shared broker: stale, as every home sees it.
    if (env.exp !== undefined && env.exp <= ts) return null;
    switch (env.type) {
      case 'offer': {
        const b = env.body as OfferBody;
        const key = `${b.slot}/${b.version}/${b.availableWh}`;
        if (this.lastOffer.get(env.from) === key) return null;
        if (this.first(`offer/${env.from}/${b.slot}`)) this.totals.offers++;
        this.lastOffer.set(env.from, key);
        return {
          event: 'offer',
          ts,
          home: env.from,
          slot: b.slot,
          version: b.version,
          energyWh: b.energyWh,
          availableWh: b.availableWh,
          priceCentsPerKwh: b.priceCentsPerKwh,
        };
      }
      case 'accept': {
        const b = env.body as AcceptBody;
        if (!this.first(`accept/${b.acceptId}`)) return null;
        return {
          event: 'accept',
          ts,
          buyer: env.from,
          acceptId: b.acceptId,
          seller: b.seller,
          slot: b.slot,
          version: b.version,
          energyWh: b.energyWh,
          maxPriceCentsPerKwh: b.maxPriceCentsPerKwh,
        };
      }
      case 'trade': {
        const b = env.body as TradeBody;
        if (!this.first(`trade/${b.tradeId}`)) return null;
        this.totals.trades++;
        this.totals.energyWh += b.energyWh;
        return {
          event: 'trade',
          ts,
          tradeId: b.tradeId,
          acceptId: b.acceptId,
          seller: b.seller,
          buyer: b.buyer,
          slot: b.slot,
          energyWh: b.energyWh,
          priceCentsPerKwh: b.priceCentsPerKwh,
        };
      }
      case 'reject': {
        const b = env.body as RejectBody;
        if (!this.first(`reject/${b.acceptId}`)) return null;
        this.totals.rejects[b.reason] = (this.totals.rejects[b.reason] ?? 0) + 1;
        return {
          event: 'reject',
          ts,
          seller: env.from,
          buyer: t.home,
          acceptId: b.acceptId,
          slot: b.slot,
          reason: b.reason,
          availableWh: b.availableWh,
        };
      }
      case 'settlement': {
        const b = env.body as SettlementBody;
        if (!this.first(`settlement/${b.tradeId}/${b.role}`)) return null;
        this.totals.settlements++;
        return {
          event: 'settlement',
          ts,
          home: env.from,
          tradeId: b.tradeId,
          role: b.role,
          tradedWh: b.tradedWh,
          allocatedWh: b.allocatedWh,
          basis: b.basis,
        };
      }
      default:
        return null;
    }
  }

  private first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }

  private refused(topic: string, reason: string, ts: number): DemoEvent {
    this.totals.refused++;
    return { event: 'refused', ts, topic, reason };
  }
}

/** A subscriber on the zone's topics that hands each new event to `emit`. */
export class WireFeed {
  private client: MqttClient | null = null;
  readonly decoder: FeedDecoder;

  constructor(
    private readonly opts: {
      broker: string;
      zone: string;
      keyring: Keyring;
      now: () => number;
      emit: (e: DemoEvent) => void;
    },
  ) {
    this.decoder = new FeedDecoder(opts.zone, opts.keyring, opts.now);
  }

  /** Connects and subscribes; rejects if the broker does not answer within `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    const client = connect(this.opts.broker, {
      protocolVersion: 4,
      clientId: `powerdeal-demo-feed-${process.pid}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    this.client = client;
    // Without a listener mqtt.js throws on errors; the feed simply reconnects.
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => {
      const e = this.decoder.handle(topic, payload);
      if (e) this.opts.emit(e);
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.subscribeAsync(`${TOPIC_ROOT}/${this.opts.zone}/#`, { qos: 1 }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
    this.client = null;
  }
}

const clock = (ts: number) => new Date(ts).toLocaleTimeString('en-GB', { hour12: false });
const hhmm = (ts: number) => clock(ts).slice(0, 5);
const short = (id: string) => id.slice(-6);

/** One readable line per event. */
export function formatEvent(e: DemoEvent): string {
  const at = dim(clock(e.ts));
  const tag = (name: string) => name.padEnd(11);
  switch (e.event) {
    case 'offer': {
      const left =
        e.availableWh === 0
          ? 'sold out'
          : e.availableWh < e.energyWh
            ? `${e.availableWh} Wh left`
            : 'all available';
      return `${at}  ${tag('offer')} ${bold(e.home)} offers ${e.energyWh} Wh for ${hhmm(e.slot)} at ${e.priceCentsPerKwh} c/kWh (v${e.version}, ${left})`;
    }
    case 'offer-cleared':
      return `${at}  ${tag('offer')} ${bold(e.home)} has no offer now`;
    case 'accept':
      return dim(
        `${clock(e.ts)}  ${tag('accept')} ${e.buyer} asks ${e.seller} for ${e.energyWh} Wh of ${hhmm(e.slot)} (v${e.version}, up to ${e.maxPriceCentsPerKwh} c/kWh)`,
      );
    case 'trade':
      return green(
        `${clock(e.ts)}  ${tag('trade')} ${e.seller} sells ${e.buyer} ${e.energyWh} Wh for ${hhmm(e.slot)} at ${e.priceCentsPerKwh} c/kWh  [${short(e.tradeId)}]`,
      );
    case 'reject':
      return yellow(
        `${clock(e.ts)}  ${tag('reject')} ${e.seller} refuses ${e.buyer}: ${e.reason} (${e.availableWh} Wh left)`,
      );
    case 'settlement':
      return `${at}  ${tag('settlement')} ${e.home} (${e.role}) metered ${e.allocatedWh} of ${e.tradedWh} Wh (${e.basis})  [${short(e.tradeId)}]`;
    case 'relay':
      return `${at}  ${tag('relay')} ${e.home} ${e.relay} ${e.on ? bold('on') : 'off'}`;
    case 'refused':
      return red(`${clock(e.ts)}  ${tag('refused')} ${e.topic}: ${e.reason}`);
  }
}
