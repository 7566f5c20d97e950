import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradeRow } from '../../src/control/trades.js';
import { decodeEnvelope, type Envelope } from '../../src/protocol/envelope.js';
import {
  generateHomeKey,
  type Keyring,
  keyringText,
  parsePublicKeyText,
  publicKeyText,
  writePrivateKey,
} from '../../src/protocol/keyring.js';
import { createVerifier } from '../../src/protocol/signing.js';
import type { PageStatus } from '../../src/service/status.js';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type CliProcess, runCli, spawnCli } from '../helpers/cli.js';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type Browser, openBrowser } from '../web/browser.js';

/**
 * Trading inside the real service: two `powerdeal run` processes (a seller exporting ~3 kW, a buyer
 * importing ~1.5 kW with a flexible load on a relay), each on its own simulated inverter and meter, a
 * real mosquitto, real Ed25519 keys and one zone keyring, one-minute slots. The seller's signed offer
 * appears on its retained topic, the buyer accepts, the seller's signed trade reaches the buyer, both
 * trades tables agree, the buyer's load switches on when the slot begins, and after the slot both
 * sides settle with settledWh = min(allocations). Everything either home publishes is signed. A home
 * without a key runs with trading off and says why; a broken keyring refuses to start with exit 78.
 */
const ZONE = 'test-zone';
const TOKEN = 'a-test-token-of-at-least-32-characters';
const SLOT_MS = 60_000;

interface Home {
  id: string;
  config: string;
  db: string;
  web: number;
  sim: Simulator;
  run?: CliProcess;
}

describe('trading between two real powerdeal run processes', () => {
  let dir: string;
  let broker: Mosquitto;
  let wire: MqttClient;
  let keyring: Keyring;
  const seen: { topic: string; env: Envelope; verdict: string | null; at: number }[] = [];
  const unsigned: string[] = [];
  const homes: Home[] = [];
  const sims: Simulator[] = [];
  let seller: Home;
  let buyer: Home;
  let keyringFile: string;
  let browser: Browser | undefined;

  const api = async (h: Home): Promise<PageStatus> =>
    (await (await fetch(`http://127.0.0.1:${h.web}/api/status`)).json()) as PageStatus;
  const tradesOf = async (h: Home): Promise<TradeRow[]> => {
    const r = await runCli(['trades', '--json', '--config', h.config]);
    if (r.code !== 0) throw new Error(`trades exited ${r.code}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { via: string; trades: TradeRow[] }).trades;
  };

  async function homeConfig(
    id: string,
    sim: Simulator,
    extra: { devices?: string[]; keyFile?: string; keyring?: string; tokenFile?: string } = {},
  ): Promise<Home> {
    const web = await freePort();
    const db = join(dir, `${id}.db`);
    const config = join(dir, `${id}.yaml`);
    writeFileSync(
      config,
      [
        `home: { id: ${id}, zone: ${ZONE} }`,
        'cycleMs: 1000',
        'devices:',
        '  - id: inverter',
        '    profile: sunspec-inverter',
        `    modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 1, timeoutMs: 500 }`,
        '  - id: grid-meter',
        '    profile: sdm630',
        `    modbus: { tcp: "127.0.0.1:${sim.tcpPort}", unitId: 2, timeoutMs: 500 }`,
        ...(extra.devices ?? []),
        'mqtt:',
        `  brokers: ["${broker.url}"]`,
        '  reconnectBaseMs: 200',
        '  drainStartJitterMs: 0',
        '  telemetryIntervalMs: 5000',
        'engine:',
        '  slotMinutes: 1',
        '  minOfferW: 300',
        '  reserveW: 200',
        '  priceCentsPerKwh: 12',
        '  maxBuyPriceCentsPerKwh: 20',
        '  minTradeWh: 10',
        'keys:',
        `  privateKeyFile: ${extra.keyFile ?? join(dir, `${id}.key`)}`,
        `  keyringFile: ${extra.keyring ?? keyringFile}`,
        `store: { path: ${db} }`,
        `web: { listen: "127.0.0.1:${web}"${extra.tokenFile ? `, tokenFile: ${extra.tokenFile}` : ''} }`,
        `control: { socket: ${join(dir, `${id}.sock`)} }`,
      ].join('\n'),
    );
    const home: Home = { id, config, db, web, sim };
    homes.push(home);
    return home;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-trading-'));
    broker = await startMosquitto();
    keyringFile = join(dir, 'keyring.yaml');
    const members = new Map();
    for (const id of ['seller-1', 'buyer-1']) {
      const key = generateHomeKey();
      writePrivateKey(join(dir, `${id}.key`), key);
      members.set(id, parsePublicKeyText(publicKeyText(key)));
    }
    keyring = { zone: ZONE, members };
    writeFileSync(keyringFile, keyringText(keyring));
    const verify = createVerifier(keyring);

    wire = connect(broker.url, { protocolVersion: 5 });
    wire.on('message', (topic, payload) => {
      if (payload.length === 0) return; // a cleared offer
      const d = decodeEnvelope(payload);
      if (!d.ok) throw new Error(`undecodable message on ${topic}: ${d.reason}`);
      const verdict = verify(d.envelope, payload);
      if (verdict !== null && (d.envelope.from === 'seller-1' || d.envelope.from === 'buyer-1'))
        unsigned.push(`${topic} ${d.envelope.type}: ${verdict}`);
      seen.push({ topic, env: d.envelope, verdict, at: Date.now() });
    });
    await new Promise<void>((resolve) => wire.once('connect', () => resolve()));
    await wire.subscribeAsync(`powerdeal/v1/${ZONE}/#`, { qos: 1 });

    // Seller: 3.5 kW of PV, 0.5 kW of load → exports 3 kW. Buyer: no PV, 1.5 kW of load → imports 1.5 kW.
    const sellerSim = await startSimulator({ tcp: { port: 0 }, seed: 11 });
    sims.push(sellerSim);
    sellerSim.pin({ pvPowerW: 3500, loadPowerW: 500 });
    const buyerSim = await startSimulator({ tcp: { port: 0 }, seed: 12 });
    sims.push(buyerSim);
    buyerSim.pin({ pvPowerW: 0, loadPowerW: 1500 });
    seller = await homeConfig('seller-1', sellerSim);
    const tokenFile = join(dir, 'web.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    buyer = await homeConfig('buyer-1', buyerSim, {
      tokenFile,
      devices: [
        '  - id: water-heater',
        '    profile: relay',
        '    gpio: { line: 17 }',
        '    load: { powerW: 1000, minOnS: 0, minOffS: 0 }',
      ],
    });
    // Both start now and warm up while the quick cases below run.
    for (const h of [seller, buyer]) {
      h.run = spawnCli(['run', '--simulated', '--config', h.config], {
        env: { POWERDEAL_LOG_LEVEL: 'info' },
      });
    }
  });

  afterAll(async () => {
    await browser?.close();
    for (const h of homes) await h.run?.stop('SIGKILL');
    await wire?.endAsync();
    await stopAllMosquittos();
    for (const sim of sims) await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start on a broken keyring, a keyring of another zone or a no-export relay (exit 78)', async () => {
    const broken = join(dir, 'broken-keyring.yaml');
    writeFileSync(broken, `zone: ${ZONE}\nmembers:\n  seller-1: "ed25519:not-a-key"\n`);
    const otherZone = join(dir, 'other-zone.yaml');
    writeFileSync(otherZone, keyringText({ zone: 'elsewhere', members: keyring.members }));
    const sim = seller.sim;
    const cases: { home: Home; expect: RegExp }[] = [
      {
        home: await homeConfig('broken-1', sim, { keyring: broken }),
        expect: /keys\.keyringFile.*members\.seller-1/s,
      },
      {
        home: await homeConfig('zone-1', sim, { keyring: otherZone }),
        expect: /keys\.keyringFile.*elsewhere/s,
      },
    ];
    const relayHome = await homeConfig('relay-1', sim, {
      devices: ['  - id: boiler', '    profile: relay', '    gpio: { line: 5 }'],
    });
    // The no-export device must be a SunSpec inverter: a relay cannot take an export limit.
    const text = readFileSync(relayHome.config, 'utf8');
    writeFileSync(
      relayHome.config,
      text.replace(
        '  minTradeWh: 10',
        '  minTradeWh: 10\n  noExport: { device: boiler, inverterWMax: 5000 }',
      ),
    );
    cases.push({ home: relayHome, expect: /engine\.noExport\.device.*boiler.*inverter/s });
    for (const c of cases) {
      const r = await runCli(['run', '--simulated', '--config', c.home.config], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(78);
      expect(r.stderr).toMatch(/refusing to start/);
      expect(r.stderr).toMatch(c.expect);
    }
  });

  it('runs without a key: trading off with the reason and the fix, no crash', async () => {
    const missing = join(dir, 'nobody.key');
    const home = await homeConfig('nokey-1', seller.sim, { keyFile: missing });
    home.run = spawnCli(['run', '--simulated', '--config', home.config]);
    const status = await waitFor(
      async () => {
        const s = await api(home);
        return (s.cycle?.cycles ?? 0) >= 3 ? s : undefined;
      },
      30_000,
      'the keyless home running',
      300,
    );
    expect(status.trading).toMatchObject({ state: 'off', off: 'no-key', signing: false });
    expect(status.trading?.reason).toBe(`trading off: no key at ${missing}; run \`powerdeal keys init\``);
    const health = (await (await fetch(`http://127.0.0.1:${home.web}/healthz`)).json()) as {
      summary: string;
    };
    expect(health.summary).toMatch(/trading off: no key/);
    const cli = await runCli(['status', '--config', home.config]);
    expect(cli.stdout).toContain(`trading off: no key at ${missing}`);
    expect(home.run.child.exitCode).toBeNull();
    expect(await home.run.stop('SIGTERM')).toBe(0);
  });

  it('sells, buys, switches the load when the slot begins, and settles on min(allocations)', async () => {
    // 1. The seller's signed offer on its retained topic.
    const offer = await waitFor(
      () => seen.find((m) => m.topic === `powerdeal/v1/${ZONE}/seller-1/offer` && m.env.type === 'offer'),
      90_000,
      "the seller's offer",
      100,
    );
    expect(offer.verdict).toBeNull();
    const offerBody = offer.env.body as { slot: number; energyWh: number; priceCentsPerKwh: number };
    // ~3 kW exported minus the 200 W reserve over one minute: about 46 Wh.
    expect(offerBody.energyWh).toBeGreaterThanOrEqual(35);
    expect(offerBody.energyWh).toBeLessThanOrEqual(50);
    expect(offerBody.priceCentsPerKwh).toBe(12);

    // 2. The buyer accepts; 3. the seller's signed trade reaches the buyer's inbox.
    const trade = await waitFor(
      () => seen.find((m) => m.topic === `powerdeal/v1/${ZONE}/buyer-1/inbox` && m.env.type === 'trade'),
      90_000,
      'a trade to the buyer',
      100,
    );
    const accept = seen.find(
      (m) => m.topic === `powerdeal/v1/${ZONE}/seller-1/inbox` && m.env.type === 'accept',
    );
    expect(accept?.env.from).toBe('buyer-1');
    expect(accept?.verdict).toBeNull();
    expect(trade.env.from).toBe('seller-1');
    expect(trade.verdict).toBeNull();
    const t = trade.env.body as {
      tradeId: string;
      slot: number;
      energyWh: number;
      priceCentsPerKwh: number;
      confirmedAt: number;
    };
    expect(t.confirmedAt).toBeLessThan(t.slot);
    expect(t.slot % SLOT_MS).toBe(0);
    // The buyer needs 1.5 kW of base load plus its 1 kW water heater over the slot: ~41 Wh.
    expect(t.energyWh).toBeGreaterThanOrEqual(20);
    expect(t.energyWh).toBeLessThanOrEqual(offerBody.energyWh);

    // Both trades tables hold it, with the same id, energy and price.
    const [sold, bought] = await waitFor(
      async () => {
        const s = (await tradesOf(seller)).find((r) => r.id === t.tradeId);
        const b = (await tradesOf(buyer)).find((r) => r.id === t.tradeId);
        return s && b ? ([s, b] as const) : undefined;
      },
      30_000,
      'the trade in both tables',
      500,
    );
    expect(sold).toMatchObject({ role: 'seller', counterparty: 'buyer-1', slot: t.slot });
    expect(bought).toMatchObject({ role: 'buyer', counterparty: 'seller-1', slot: t.slot });
    for (const row of [sold, bought]) {
      expect(row.energyWh).toBe(t.energyWh);
      expect(row.priceCentsPerKwh).toBe(t.priceCentsPerKwh);
      expect(['confirmed', 'settled']).toContain(row.state);
    }
    const table = await runCli(['trades', '--config', seller.config]);
    expect(table.stdout).toMatch(
      new RegExp(
        `seller\\s+buyer-1\\s+${t.energyWh} Wh\\s+12 c/kWh\\s+(confirmed|settled)\\s+(-|own \\d+ Wh, awaiting peer|\\d+ Wh \\(\\d+ / \\d+\\))\\s+${t.tradeId}`,
      ),
    );
    // STATUS= (the health summary) says what the seller is doing.
    const health = (await (await fetch(`http://127.0.0.1:${seller.web}/healthz`)).json()) as {
      summary: string;
    };
    expect(health.summary).toMatch(/, (offer( sold)? \d+ Wh|trades \d+ open)$/);

    // 4. Off until the slot begins, then on (automatic, not an override), through the page's API.
    const before = await api(buyer);
    const heaterBefore = before.relays.find((r) => r.id === 'water-heater');
    if (Date.now() < t.slot - 2000) expect(heaterBefore?.on).toBe(false);
    const on = await waitFor(
      async () => {
        const s = await api(buyer);
        const r = s.relays.find((x) => x.id === 'water-heater');
        return r?.on === true ? { s, r, at: Date.now() } : undefined;
      },
      t.slot - Date.now() + 30_000,
      'the water heater on',
      200,
    );
    expect(on.at).toBeGreaterThanOrEqual(t.slot);
    expect(on.r.mode).toBe('auto');
    expect(on.s.trading).toMatchObject({ state: 'on', signing: true, loadsOn: ['water-heater'] });

    // A manual override wins over the engine; back in auto the relay follows the engine's wish again.
    const override = async (mode: string) => {
      const res = await fetch(`http://127.0.0.1:${buyer.web}/api/relays/water-heater`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ mode }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { on: boolean | null; mode: string };
    };
    expect(await override('off')).toMatchObject({ on: false, mode: 'off' });
    const overridden = await api(buyer);
    expect(overridden.relays.find((r) => r.id === 'water-heater')).toMatchObject({ on: false, mode: 'off' });
    expect(await override('auto')).toMatchObject({ on: true, mode: 'auto' });
    expect(on.s.trades.some((x) => x.id === t.tradeId && x.role === 'buyer')).toBe(true);
    const sellerStatus = await api(seller);
    expect(sellerStatus.trading?.state).toBe('on');
    expect(sellerStatus.trading?.totals?.trades.seller).toBeGreaterThanOrEqual(1);
    const cliStatus = await runCli(['status', '--json', '--config', buyer.config]);
    const viaCli = JSON.parse(cliStatus.stdout) as { status: PageStatus };
    expect(viaCli.status.trading?.loadsOn).toEqual(['water-heater']);

    // The page shows trading on and the trade, on both sides.
    browser = await openBrowser();
    const { page } = browser;
    for (const [h, line] of [
      [buyer, `Bought ${t.energyWh} Wh from seller-1`],
      [seller, `Sold ${t.energyWh} Wh to buyer-1`],
    ] as const) {
      await page.goto(`http://127.0.0.1:${h.web}/`, { waitUntil: 'load' });
      await expect.poll(() => page.textContent('#trading-state'), { timeout: 15_000 }).toMatch(/^Trading on/);
      await expect.poll(() => page.textContent('#trades'), { timeout: 15_000 }).toContain(line);
    }
    expect(await page.textContent('#trading')).toMatch(/Surplus|Deficit/);
    expect(browser.errors).toEqual([]);
    await browser.close();
    browser = undefined;

    // 5. After the slot (+ the settle delay) both sides settle on min(seller's, buyer's allocation).
    await waitFor(
      async () => {
        const s = (await tradesOf(seller)).find((r) => r.id === t.tradeId);
        const b = (await tradesOf(buyer)).find((r) => r.id === t.tradeId);
        return s?.state === 'settled' && b?.state === 'settled';
      },
      t.slot + SLOT_MS - Date.now() + 60_000,
      'both sides settled',
      1000,
    );
    const settledAt = Date.now();
    const [sRow, bRow] = [seller, buyer].map((h) => settledRow(h.db, t.tradeId));
    if (!sRow || !bRow) throw new Error('no settled rows');
    // Seller exported ~3 kW for a minute (~50 Wh ≥ traded); the buyer imported ~1.5 kW (~25 Wh < traded).
    expect(sRow.own_alloc_wh).toBe(bRow.peer_alloc_wh);
    expect(bRow.own_alloc_wh).toBe(sRow.peer_alloc_wh);
    const expected = Math.min(sRow.own_alloc_wh ?? -1, bRow.own_alloc_wh ?? -1);
    expect(expected).toBeGreaterThan(0);
    expect(sRow.settled_wh).toBe(expected);
    expect(bRow.settled_wh).toBe(expected);
    expect(bRow.own_alloc_wh).toBeLessThan(t.energyWh);
    expect(
      seen.filter((m) => m.env.type === 'settlement' && m.topic.endsWith('/inbox')).map((m) => m.env.from),
    ).toEqual(expect.arrayContaining(['seller-1', 'buyer-1']));

    // Everything both homes published (status, telemetry, offers, accepts, trades, acks) was signed.
    const kinds = new Set(seen.filter((m) => m.env.from === 'buyer-1').map((m) => m.env.type));
    expect([...kinds]).toEqual(expect.arrayContaining(['status', 'telemetry', 'accept', 'ack']));
    expect(unsigned).toEqual([]);
    console.log(
      JSON.stringify({
        figure: 'service-trading',
        offerToAcceptMs: accept ? accept.at - offer.at : null,
        acceptToTradeMs: accept ? trade.at - accept.at : null,
        tradeEnergyWh: t.energyWh,
        slotStartToRelayOnMs: on.at - t.slot,
        slotEndToBothSettledMs: settledAt - (t.slot + SLOT_MS),
        allocationsWh: { seller: sRow.own_alloc_wh, buyer: bRow.own_alloc_wh, settled: sRow.settled_wh },
      }),
    );

    for (const h of [seller, buyer]) expect(await h.run?.stop('SIGTERM')).toBe(0);
  }, 240_000);
});

interface SettledRow {
  own_alloc_wh: number | null;
  peer_alloc_wh: number | null;
  settled_wh: number | null;
}

/** The settlement columns, read from the home's database file while it runs (WAL allows a reader). */
function settledRow(path: string, id: string): SettledRow | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[string], SettledRow>(
        'SELECT own_alloc_wh, peer_alloc_wh, settled_wh FROM trades WHERE id = ?',
      )
      .get(id);
  } finally {
    db.close();
  }
}
