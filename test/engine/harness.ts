import type { Quality, QuantityName, QuantityReading, Snapshot } from '../../src/core/quantities.js';
import { createEngine } from '../../src/engine/index.js';
import type {
  Command,
  Engine,
  EngineConfig,
  EngineEvent,
  EngineState,
  InboundMessage,
  OutgoingMessage,
} from '../../src/engine/types.js';
import { uuidv7 } from '../../src/protocol/uuidv7.js';

/** Builders and a stepping driver for engine tests: snapshots, inbound messages, one home's state. */

export const SLOT_MS = 15 * 60_000;
/** A slot start: 2030-06-01 12:00 UTC. */
export const T0 = Date.UTC(2030, 5, 1, 12, 0, 0);

export function engineConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    homeId: 'home-a',
    slotMs: SLOT_MS,
    minOfferW: 300,
    reserveW: 200,
    priceCentsPerKwh: 12,
    maxBuyPriceCentsPerKwh: 20,
    minTradeWh: 20,
    smoothingTauMs: 60_000,
    maxReadingAgeMs: 10_000,
    reviseMinIntervalMs: 60_000,
    answerTimeoutMs: 30_000,
    resendBaseMs: 30_000,
    resendMaxMs: 900_000,
    settleDelayMs: 5_000,
    keepMs: 48 * 3_600_000,
    flexLoads: [],
    noExport: null,
    ...over,
  };
}

export type Values = Partial<Record<QuantityName, number | { value: number | null; quality: Quality }>>;

export function snapshot(now: number, values: Values = {}): Snapshot {
  const quantities: Partial<Record<QuantityName, QuantityReading>> = {};
  for (const [name, v] of Object.entries(values) as Array<[QuantityName, Values[QuantityName]]>) {
    if (v === undefined) continue;
    const r = typeof v === 'number' ? { value: v, quality: 'good' as const } : v;
    quantities[name] = {
      value: r.value,
      quality: r.quality,
      ts: r.quality === 'good' ? now : 0,
      source: 'test',
    };
  }
  return { cycle: 0, ts: now, quantities };
}

export function tickEvent(now: number, values: Values = {}): EngineEvent {
  return { kind: 'tick', snapshot: snapshot(now, values) };
}

/** An inbound message as the host hands it over: a fresh envelope id unless given. */
export function inbound<T extends InboundMessage['type']>(
  type: T,
  from: string,
  body: Extract<InboundMessage, { type: T }>['body'],
  opts: { id?: string; ts?: number; exp?: number; corr?: string } = {},
): InboundMessage {
  return {
    type,
    id: opts.id ?? uuidv7(opts.ts ?? T0),
    from,
    ts: opts.ts ?? T0,
    ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
    ...(opts.corr !== undefined ? { corr: opts.corr } : {}),
    body,
  } as InboundMessage;
}

/** What a send command delivers to the home it addresses (as its inbox hands it to that home's engine). */
export function deliver(from: string, m: OutgoingMessage, ts: number): InboundMessage {
  return {
    type: m.type,
    id: m.id,
    from,
    ts,
    ...(m.exp !== undefined ? { exp: m.exp } : {}),
    ...(m.corr !== undefined ? { corr: m.corr } : {}),
    body: m.body,
  } as InboundMessage;
}

export type SendOf<T extends OutgoingMessage['type']> = Extract<OutgoingMessage, { type: T }>;

export function sends(cmds: readonly Command[]): OutgoingMessage[];
export function sends<T extends OutgoingMessage['type']>(cmds: readonly Command[], type: T): SendOf<T>[];
export function sends(cmds: readonly Command[], type?: string): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  for (const c of cmds)
    if (c.kind === 'send' && (type === undefined || c.message.type === type)) out.push(c.message);
  return out;
}

export function ofKind<K extends Command['kind']>(
  cmds: readonly Command[],
  kind: K,
): Extract<Command, { kind: K }>[] {
  return cmds.filter((c): c is Extract<Command, { kind: K }> => c.kind === kind);
}

/** One home: its engine and current state; every step's commands are returned and kept. */
export class Home {
  readonly engine: Engine;
  state: EngineState;
  readonly log: Array<{ now: number; event: EngineEvent; commands: Command[] }> = [];

  constructor(over: Partial<EngineConfig> = {}, now = T0) {
    this.engine = createEngine(engineConfig(over));
    this.state = this.engine.initial(now);
  }

  get id(): string {
    return this.engine.config.homeId;
  }

  step(event: EngineEvent, now: number): Command[] {
    const r = this.engine.step(this.state, event, now);
    this.state = r.state;
    this.log.push({ now, event, commands: r.commands });
    return r.commands;
  }

  tick(now: number, values: Values = {}): Command[] {
    return this.step(tickEvent(now, values), now);
  }

  /** Ticks every `everyMs` from `from` (inclusive) to `to` (exclusive) with the same values; all commands. */
  run(from: number, to: number, values: Values | ((now: number) => Values), everyMs = 1000): Command[] {
    const out: Command[] = [];
    for (let t = from; t < to; t += everyMs)
      out.push(...this.tick(t, typeof values === 'function' ? values(t) : values));
    return out;
  }

  receive(now: number, message: InboundMessage): Command[] {
    return this.step({ kind: 'message', message }, now);
  }

  /** All commands of all steps so far. */
  allCommands(): Command[] {
    return this.log.flatMap((l) => l.commands);
  }
}

/** Steps a list of events through a fresh engine state; returns every command and the final state. */
export function runEvents(
  engine: Engine,
  state: EngineState,
  events: ReadonlyArray<{ now: number; event: EngineEvent }>,
): { state: EngineState; commands: Command[][] } {
  const commands: Command[][] = [];
  let s = state;
  for (const { now, event } of events) {
    const r = engine.step(s, event, now);
    s = r.state;
    commands.push(r.commands);
  }
  return { state: s, commands };
}

/** Grid power for a surplus of `w` watts (export is negative gridPowerW). */
export function surplus(w: number): Values {
  return { gridPowerW: -w };
}

/**
 * Homes wired directly: a send to an inbox is stepped into that home, an offer (or its clearing) into every
 * other home, a trades-topic copy nowhere. Deliveries run FIFO at the sender's step time. `drop` may lose
 * messages on the way (return true to drop).
 */
export class Wire {
  readonly homes = new Map<string, Home>();
  readonly delivered: Array<{ now: number; from: string; to: string; message: InboundMessage }> = [];
  drop: (from: string, to: string, m: OutgoingMessage) => boolean = () => false;

  add(...homes: Home[]): this {
    for (const h of homes) this.homes.set(h.id, h);
    return this;
  }

  tick(id: string, now: number, values: Values): void {
    this.route(id, now, this.home(id).tick(now, values));
  }

  private home(id: string): Home {
    const h = this.homes.get(id);
    if (!h) throw new Error(`no home ${id}`);
    return h;
  }

  route(from: string, now: number, cmds: readonly Command[]): void {
    const queue: Array<{ from: string; cmds: readonly Command[] }> = [{ from, cmds }];
    while (queue.length > 0) {
      const { from: src, cmds: batch } = queue.shift()!;
      for (const c of batch) {
        if (c.kind === 'clear-offer') {
          for (const h of this.homes.values()) {
            if (h.id !== src)
              queue.push({ from: h.id, cmds: h.step({ kind: 'offer-withdrawn', home: src }, now) });
          }
        }
        if (c.kind !== 'send') continue;
        const m = c.message;
        const targets =
          'inbox' in m.to
            ? [m.to.inbox]
            : m.to.own === 'offer'
              ? [...this.homes.keys()].filter((k) => k !== src)
              : [];
        for (const to of targets) {
          const h = this.homes.get(to);
          if (!h || this.drop(src, to, m)) continue;
          const message = deliver(src, m, now);
          this.delivered.push({ now, from: src, to, message });
          queue.push({ from: to, cmds: h.receive(now, message) });
        }
      }
    }
  }
}
