import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { decodeEnvelope, type Envelope } from '../../src/protocol/envelope.js';
import { generateHomeKey, type Keyring, keyringText, writePrivateKey } from '../../src/protocol/keyring.js';
import { createVerifier } from '../../src/protocol/signing.js';
import { parseTopic, type TopicKind } from '../../src/protocol/topics.js';
import type { AcceptBody, AckBody, OfferBody, RejectBody, TradeBody } from '../../src/protocol/trading.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type Trade, tradesRepository } from '../../src/trading/trades-repository.js';
import { type RunProcess, spawnRun } from '../systemd/helpers.js';
import { startMosquitto, stopAllMosquittos } from './mosquitto.js';
import { freePort, waitFor } from './ports.js';

/**
 * A neighbourhood of real `powerdeal run` processes for the trading tests: one directory per home with
 * its config, its own Ed25519 key, its copy of the zone keyring and its database; a recorder on the
 * broker that checks every signature; the `trades` tables read straight from the databases.
 */

/** One-minute slots, so a trade happens within a minute of real time. */
export const TEST_ENGINE = {
  minOfferW: 300,
  reserveW: 200,
  priceCentsPerKwh: 12,
  maxBuyPriceCentsPerKwh: 20,
  minTradeWh: 20,
  slotMinutes: 1,
  trading: true,
} as const;

export interface TradingHomeSpec {
  id: string;
  /** The home's Modbus simulator (inverter unit 1, meter unit 2) on 127.0.0.1. */
  modbusPort: number;
  /** Overrides of TEST_ENGINE. */
  engine?: Partial<Record<keyof typeof TEST_ENGINE, number | boolean>>;
  /** The home's broker list (default: the neighbourhood's one broker). */
  brokers?: string[];
  /** More of the config: top-level sections, `mqtt` merged into the default one. */
  config?: { mqtt?: Record<string, unknown> } & Record<string, unknown>;
  /** The home's fallback endpoint in the keyring (`HOST:PORT`). */
  fallback?: string;
}

export interface TradingHome {
  id: string;
  dir: string;
  configPath: string;
  dbPath: string;
  webPort: number;
  /** The running `powerdeal run`, null before start and after stop. */
  run: RunProcess | null;
  /** Every process started for this home, for the logs of a failure. */
  runs: RunProcess[];
}

export interface Neighbourhood {
  zone: string;
  homes: TradingHome[];
  keyring: Keyring;
  home(id: string): TradingHome;
}

/** Writes every home's config, key and keyring copy under `root` (nothing else is written anywhere). */
export async function writeNeighbourhood(
  root: string,
  zone: string,
  broker: string,
  specs: readonly TradingHomeSpec[],
): Promise<Neighbourhood> {
  const members = new Map<string, KeyObject>();
  const homes: TradingHome[] = [];
  for (const spec of specs) {
    const dir = join(root, spec.id);
    mkdirSync(dir, { recursive: true });
    const key = generateHomeKey();
    writePrivateKey(join(dir, 'home.key'), key);
    members.set(spec.id, createPublicKey(key));
    const dbPath = join(dir, 'powerdeal.db');
    const webPort = await freePort();
    const tcp = `127.0.0.1:${spec.modbusPort}`;
    const config = {
      home: { id: spec.id, zone },
      cycleMs: 1000,
      devices: [
        { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
        { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
      ],
      // No drain jitter: a restarted home answers what waits for it at once.
      mqtt: {
        brokers: spec.brokers ?? [broker],
        telemetryIntervalMs: 10_000,
        drainStartJitterMs: 0,
        ...spec.config?.mqtt,
      },
      engine: { ...TEST_ENGINE, ...spec.engine },
      keys: { privateKeyFile: join(dir, 'home.key'), keyringFile: join(dir, 'keyring.yaml') },
      store: { path: dbPath, diskReserveMb: 0, backupKeep: 0 },
      web: { listen: `127.0.0.1:${webPort}`, tokenFile: join(dir, 'web.token') },
      control: { socket: join(dir, 'control.sock') },
      ...Object.fromEntries(Object.entries(spec.config ?? {}).filter(([k]) => k !== 'mqtt')),
    };
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify(config));
    homes.push({ id: spec.id, dir, configPath, dbPath, webPort, run: null, runs: [] });
  }
  const fallbacks = new Map(specs.flatMap((s) => (s.fallback ? [[s.id, s.fallback] as const] : [])));
  const keyring: Keyring = { zone, members, fallbacks };
  // Every home gets its own copy of the same keyring, as on real Pis.
  for (const h of homes) writeFileSync(join(h.dir, 'keyring.yaml'), keyringText(keyring));
  return {
    zone,
    homes,
    keyring,
    home: (id) => {
      const h = homes.find((x) => x.id === id);
      if (!h) throw new Error(`no home ${id}`);
      return h;
    },
  };
}

export function startHome(home: TradingHome): RunProcess {
  const run = spawnRun(home.configPath);
  home.run = run;
  home.runs.push(run);
  return run;
}

/** SIGCONT (it may be frozen), then SIGTERM; SIGKILL if it has not exited after `graceMs`. */
export async function stopHome(home: TradingHome, graceMs = 15_000): Promise<void> {
  const run = home.run;
  home.run = null;
  if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.kill('SIGCONT');
  run.kill('SIGTERM');
  const timer = setTimeout(() => run.kill('SIGKILL'), graceMs);
  await run.exited;
  clearTimeout(timer);
}

/** The last lines every process of the home wrote, for a failure message. */
export function homeLogs(home: TradingHome, lines = 40): string {
  return home.runs
    .map(
      (r, i) =>
        `--- ${home.id} run #${i + 1} (pid ${r.pid})\n${r.output().split('\n').slice(-lines).join('\n')}`,
    )
    .join('\n');
}

/** The link as a home's `/api/status` reports it; null while the home does not answer. */
export interface LinkView {
  mode: string;
  leader: string | null;
  epoch: number | null;
}

export async function linkOf(h: TradingHome): Promise<LinkView | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${h.webPort}/api/status`);
    return ((await res.json()) as { link: LinkView }).link;
  } catch {
    return null;
  }
}

// ---- the wire ------------------------------------------------------------------------------------------

export interface WireMessage {
  /** performance.now() when the recorder received it. */
  at: number;
  /** Date.now() when the recorder received it. */
  wall: number;
  topic: string;
  /** The home the topic belongs to, and which of its topics. */
  home: string;
  kind: TopicKind;
  /** null for an empty payload (a cleared retained offer). */
  env: Envelope | null;
  /** Why the envelope would be refused (undecodable, unsigned, bad signature, unknown sender); null if fine. */
  refused: string | null;
}

export interface Wire {
  readonly messages: WireMessage[];
  /** Called synchronously for every message as it arrives (to act before anything else can happen). */
  onMessage(fn: (m: WireMessage) => void): void;
  stop(): Promise<void>;
}

/** A subscriber on powerdeal/v1/{zone}/# that keeps every message and checks each signature. */
export async function recordWire(
  brokerUrl: string,
  keyring: Keyring,
  protocolVersion: 4 | 5 = 5,
): Promise<Wire> {
  const verify = createVerifier(keyring);
  const messages: WireMessage[] = [];
  const hooks: Array<(m: WireMessage) => void> = [];
  const client: MqttClient = connect(brokerUrl, { protocolVersion, clientId: `pd-wire-${process.pid}` });
  client.on('error', () => undefined);
  client.on('message', (topic, payload) => {
    const t = parseTopic(topic);
    if (!t) return;
    let env: Envelope | null = null;
    let refused: string | null = null;
    if (payload.length > 0) {
      const d = decodeEnvelope(payload);
      if (d.ok) {
        env = d.envelope;
        refused = verify(env, payload);
      } else refused = d.reason;
    }
    const m: WireMessage = {
      at: performance.now(),
      wall: Date.now(),
      topic,
      home: t.home,
      kind: t.kind,
      env,
      refused,
    };
    messages.push(m);
    for (const h of hooks) h(m);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(`powerdeal/v1/${keyring.zone}/#`, { qos: 1 });
  return {
    messages,
    onMessage: (fn) => void hooks.push(fn),
    stop: async () => {
      await client.endAsync(true);
    },
  };
}

type Bodies = {
  offer: OfferBody;
  accept: AcceptBody;
  trade: TradeBody;
  reject: RejectBody;
  ack: AckBody;
};

export interface Sent<B> {
  m: WireMessage;
  env: Envelope<B>;
  body: B;
}

/** The wire's messages of one type (first sighting order), with their bodies typed. */
export function sent<T extends keyof Bodies>(wire: Wire, type: T): Array<Sent<Bodies[T]>> {
  return wire.messages
    .filter((m) => m.env?.type === type)
    .map((m) => {
      const env = m.env as Envelope<Bodies[T]>;
      return { m, env, body: env.body };
    });
}

// ---- the trades tables ---------------------------------------------------------------------------------

/** The home's `trades` table, read through the trades repository while the service may be running. */
export function readTrades(dbPath: string): Trade[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return tradesRepository(db).newest(Number.MAX_SAFE_INTEGER);
  } finally {
    db.close();
  }
}

/** A binding trade as one side recorded it. */
export const isBinding = (r: Trade) => r.state === 'confirmed' || r.state === 'settled';

export async function waitForWire<T>(
  what: string,
  check: () => T | undefined | null | false,
  timeoutMs: number,
  homes: readonly TradingHome[],
): Promise<T> {
  try {
    return (await waitFor(check, timeoutMs, what, 50)) as T;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${homes.map((h) => homeLogs(h, 25)).join('\n')}`);
  }
}

// ---- what every trading test checks --------------------------------------------------------------------

/** The first publication of each of `seller`'s offers, one per slot. */
export function firstOffers(wire: Wire, seller: string): Array<Sent<OfferBody>> {
  const seen = new Set<number>();
  return sent(wire, 'offer').filter((o) => {
    if (o.env.from !== seller || seen.has(o.body.slot)) return false;
    seen.add(o.body.slot);
    return true;
  });
}

/** The largest energy any version of `seller`'s offer for `slot` had on the wire. */
export function offeredWh(wire: Wire, seller: string, slot: number): number {
  return Math.max(
    0,
    ...sent(wire, 'offer')
      .filter((o) => o.env.from === seller && o.body.slot === slot)
      .map((o) => o.body.energyWh),
  );
}

/** Distinct trades on the wire (a trade is re-sent until acknowledged, and copied on the trades topic). */
export function wireTrades(wire: Wire, seller: string): Map<string, TradeBody> {
  const trades = new Map<string, TradeBody>();
  for (const t of sent(wire, 'trade')) {
    if (t.env.from === seller) trades.set(t.body.tradeId, t.body);
  }
  return trades;
}

export const inboxOf = (hood: Neighbourhood, home: string) => `powerdeal/v1/${hood.zone}/${home}/inbox`;

/**
 * Two buyers asked for the same offer: it was sold exactly once (one trade, within the offer), to the
 * buyer whose accept the trade names; the other buyer got a reject (filled or insufficient) on its
 * inbox and never a trade; the seller's re-published offer shows what is left.
 */
export function expectContest(
  wire: Wire,
  hood: Neighbourhood,
  seller: string,
  slot: number,
  accepts: ReadonlyMap<string, Sent<AcceptBody>>,
): { winner: string; loser: string; trade: TradeBody; reject: RejectBody } {
  expect([...accepts.keys()].sort()).toHaveLength(2);
  const trades = [...wireTrades(wire, seller).values()].filter((t) => t.slot === slot);
  expect(trades, 'one trade for the contested offer').toHaveLength(1);
  const trade = trades[0] as TradeBody;
  const offered = offeredWh(wire, seller, slot);
  expect(trade.energyWh).toBeLessThanOrEqual(offered);
  const winner = trade.buyer;
  expect(trade.acceptId).toBe(accepts.get(winner)?.body.acceptId);
  const loser = [...accepts.keys()].find((b) => b !== winner) as string;
  const lost = accepts.get(loser)?.body.acceptId;
  const rejects = sent(wire, 'reject').filter(
    (r) => r.m.topic === inboxOf(hood, loser) && r.body.acceptId === lost,
  );
  expect(rejects.length, `a reject on ${loser}'s inbox`).toBeGreaterThan(0);
  const reject = (rejects[0] as Sent<RejectBody>).body;
  expect(['filled', 'insufficient']).toContain(reject.reason);
  // A replayed accept gets the stored answer: every reject for it says the same.
  expect(new Set(rejects.map((r) => r.body.reason)).size).toBe(1);
  expect(sent(wire, 'trade').some((t) => t.body.acceptId === lost)).toBe(false);
  expect(
    sent(wire, 'trade').some((t) => t.m.topic === inboxOf(hood, winner) && t.body.tradeId === trade.tradeId),
  ).toBe(true);
  // What a buyer holds: the highest version, and within it the least available energy. Arrival order is
  // not enough: an offer answered to an offer request travels in a lower-priority class and may arrive
  // after the re-published one it predates.
  const current = sent(wire, 'offer')
    .filter((o) => o.env.from === seller && o.body.slot === slot)
    .reduce<Sent<OfferBody> | undefined>(
      (a, o) =>
        !a ||
        o.body.version > a.body.version ||
        (o.body.version === a.body.version && o.body.availableWh < a.body.availableWh)
          ? o
          : a,
      undefined,
    );
  expect(current?.body.availableWh).toBe((current?.body.energyWh ?? 0) - trade.energyWh);
  return { winner, loser, trade, reject };
}

/**
 * Every signature on the wire checks out, and for every slot up to `uptoSlot`: the seller's `trades`
 * table holds exactly the trades seen on the wire, each buyer's table holds exactly the seller's trades
 * with it (same id, energy, price), and no slot sold more than the seller offered for it. Waits for each
 * trade's acknowledgement first (the buyer has recorded it then).
 */
export async function expectAgreement(
  wire: Wire,
  hood: Neighbourhood,
  seller: string,
  uptoSlot: number,
): Promise<number> {
  expect(wire.messages.filter((m) => m.refused !== null).map((m) => `${m.topic}: ${m.refused}`)).toEqual([]);
  expect(wire.messages.filter((m) => m.env !== null && m.env.sig === undefined)).toEqual([]);
  const onWire = [...wireTrades(wire, seller).values()].filter((t) => t.slot <= uptoSlot);
  await waitForWire(
    'every trade acknowledged by its buyer',
    () =>
      onWire.every((t) =>
        sent(wire, 'ack').some(
          (a) => a.env.from === t.buyer && a.body.of === 'trade' && a.body.tradeId === t.tradeId,
        ),
      ),
    30_000,
    hood.homes,
  );
  const rows = new Map(hood.homes.map((h) => [h.id, readTrades(h.dbPath).filter((r) => r.slot <= uptoSlot)]));
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  const sold = (rows.get(seller) ?? []).filter((r) => r.role === 'seller' && isBinding(r));
  expect(
    sold
      .map((r) => ({ id: r.id, buyer: r.counterparty, energyWh: r.energyWh, price: r.priceCentsPerKwh }))
      .sort(byId),
  ).toEqual(
    onWire
      .map((t) => ({ id: t.tradeId, buyer: t.buyer, energyWh: t.energyWh, price: t.priceCentsPerKwh }))
      .sort(byId),
  );
  for (const h of hood.homes) {
    if (h.id === seller) continue;
    const bought = (rows.get(h.id) ?? [])
      .filter((r) => r.role === 'buyer' && isBinding(r))
      .map((r) => ({
        id: r.id,
        seller: r.counterparty,
        energyWh: r.energyWh,
        price: r.priceCentsPerKwh,
      }));
    const expected = sold
      .filter((r) => r.counterparty === h.id)
      .map((r) => ({ id: r.id, seller, energyWh: r.energyWh, price: r.priceCentsPerKwh }));
    expect(bought.sort(byId), `${h.id} agrees with ${seller}`).toEqual(expected.sort(byId));
  }
  const perSlot = new Map<number, number>();
  for (const r of sold) perSlot.set(r.slot, (perSlot.get(r.slot) ?? 0) + r.energyWh);
  for (const [slot, wh] of perSlot) {
    expect(wh, `sold for slot ${new Date(slot).toISOString()}`).toBeLessThanOrEqual(
      offeredWh(wire, seller, slot),
    );
  }
  return sold.length;
}

/** The loser's own record of its refused request. */
export function expectRejectedRow(hood: Neighbourhood, loser: string, acceptId: string): void {
  const row = readTrades(hood.home(loser).dbPath).find((r) => r.acceptId === acceptId);
  expect(row?.state).toBe('rejected');
  expect(['filled', 'insufficient']).toContain(row?.rejectReason);
}

/** A running contest neighbourhood: its homes, the wire recorder, and one stop for everything. */
export interface Contest {
  hood: Neighbourhood;
  wire: Wire;
  stop(): Promise<void>;
}

/**
 * The e2e contest: a seller exporting 3200 W (50 Wh offered per one-minute slot after its 200 W reserve)
 * and two buyers importing 4200 W (70 Wh each, so both want the whole offer), each on its own pinned
 * simulator, a real mosquitto, keys and one keyring; all three `powerdeal run` processes started and the
 * wire recorded. `stop()` also cleans up after a partial start.
 */
export async function startContest(
  zone: string,
  seller: string,
  buyers: readonly [string, string],
  seed: number,
): Promise<Contest> {
  const root = mkdtempSync(join(tmpdir(), `pd-${zone}-`));
  const sims: Simulator[] = [];
  let hood: Neighbourhood | undefined;
  let wire: Wire | undefined;
  const stop = async () => {
    await Promise.all((hood?.homes ?? []).map((h) => stopHome(h)));
    await wire?.stop();
    await Promise.all(sims.map((s) => s.stop()));
    await stopAllMosquittos();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const broker = await startMosquitto();
    const sim = async (pvPowerW: number, loadPowerW: number, simSeed: number) => {
      const s = await startSimulator({ tcp: { host: '127.0.0.1', port: 0 }, seed: simSeed });
      s.pin({ pvPowerW, loadPowerW });
      sims.push(s);
      return s.tcpPort as number;
    };
    hood = await writeNeighbourhood(root, zone, broker.url, [
      { id: seller, modbusPort: await sim(3400, 200, seed) },
      { id: buyers[0], modbusPort: await sim(0, 4200, seed + 1) },
      { id: buyers[1], modbusPort: await sim(0, 4200, seed + 2) },
    ]);
    wire = await recordWire(broker.url, hood.keyring);
    for (const h of hood.homes) startHome(h);
    return { hood, wire, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
