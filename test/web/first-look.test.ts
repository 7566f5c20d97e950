import { createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { generateHomeKey, keyringText, writePrivateKey } from '../../src/protocol/keyring.js';
import { Service } from '../../src/service/service.js';
import { openStore } from '../../src/store/index.js';
import { type TradeRecord, tradesRepository } from '../../src/trading/trades-repository.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { type PymodbusPeer, startPymodbus } from '../modbus/helpers/pymodbus.js';
import { openBrowser } from './browser.js';

/**
 * The status page as a new user first sees it: an inverter and a meter answering over Modbus TCP from an
 * independent server (pymodbus, not the built-in simulator), no GPIO or I2C device, a real mosquitto, and
 * the trades of three slots today; trading on (a key and a keyring of its own). In Chromium at phone width (360 px) and desktop width, light and dark,
 * in a time zone of its own: the first screen answers "healthy? doing? waiting?", the chart spans the
 * data in local time, the footer claims no simulated part, the slot chart shows offered, sold, bought
 * and settled energy, and axe-core finds no serious or critical violation. Screenshots: test-artifacts/.
 */
const ARTIFACTS = 'test-artifacts';
const TIME_ZONE = 'Asia/Kolkata';
const SLOT_MS = 15 * 60_000;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let broker: Mosquitto;
let peer: PymodbusPeer;
let service: Service;
let base = '';
const dir = mkdtempSync(join(tmpdir(), 'pd-first-look-'));
/** The slots of the seeded trades, oldest first. */
const slots = [3, 2, 1].map((n) => Math.floor(Date.now() / SLOT_MS) * SLOT_MS - n * SLOT_MS);

function seedTrades(path: string): void {
  const store = openStore({ path, log: silentLogger(), readingsFlushMs: 0 });
  try {
    const repo = tradesRepository(store.db);
    const row = (n: number, over: Partial<TradeRecord>): TradeRecord => ({
      id: `0190a1b2-0000-7000-8000-00000000000${n}`,
      accept_id: `0190a1b2-0000-7000-8000-0000000000a${n}`,
      slot_start: slots[0] as number,
      role: 'seller',
      counterparty: 'home-7',
      energy_wh: 0,
      price_cents_per_kwh: 12,
      state: 'confirmed',
      reject_reason: null,
      own_alloc_wh: null,
      peer_alloc_wh: null,
      settled_wh: null,
      updated_at: Date.now(),
      ...over,
    });
    repo.upsert(
      row(1, {
        energy_wh: 1200,
        state: 'settled',
        own_alloc_wh: 1180,
        peer_alloc_wh: 1150,
        settled_wh: 1150,
      }),
    );
    repo.upsert(
      row(2, { slot_start: slots[1] as number, role: 'buyer', energy_wh: 800, state: 'confirmed' }),
    );
    repo.upsert(
      row(3, { slot_start: slots[2] as number, energy_wh: 300, state: 'rejected', reject_reason: 'filled' }),
    );
  } finally {
    store.close();
  }
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  broker = await startMosquitto();
  const port = await freePort();
  peer = await startPymodbus({ tcp: port });
  const db = join(dir, 'powerdeal.db');
  seedTrades(db);
  // Its key and the zone's keyring, so it trades (`powerdeal keys init` makes the same files).
  const key = generateHomeKey();
  writePrivateKey(join(dir, 'home.key'), key);
  writeFileSync(
    join(dir, 'keyring.yaml'),
    keyringText({ zone: 'zone-new', members: new Map([['home-new', createPublicKey(key)]]) }),
  );
  const tcp = `127.0.0.1:${port}`;
  service = new Service({
    config: configSchema.parse({
      home: { id: 'home-new', zone: 'zone-new' },
      devices: [
        { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
        { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
      ],
      mqtt: { brokers: [broker.url], telemetryIntervalMs: 2000 },
      keys: { privateKeyFile: join(dir, 'home.key'), keyringFile: join(dir, 'keyring.yaml') },
      store: { path: db, readingsFlushMs: 0, diskReserveMb: 0 },
      web: { listen: '127.0.0.1:0', tokenFile: join(dir, 'web.token') },
      control: { socket: join(dir, 'control.sock') },
    }),
    profiles: loadProfiles(),
    log: silentLogger(),
    now: Date.now,
    // As `powerdeal run` decides on a machine without GPIO: the in-memory backends, which serve nothing here.
    simulated: true,
    version: '0.0.0-test',
  });
  await service.start();
  base = `http://127.0.0.1:${service.webPort}`;
}, 60_000);

afterAll(async () => {
  await service?.stop(3000);
  await peer?.stop();
  await broker?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const VARIANTS = [
  { name: 'phone-light', viewport: { width: 360, height: 780 }, colorScheme: 'light' as const },
  { name: 'phone-dark', viewport: { width: 360, height: 780 }, colorScheme: 'dark' as const },
  { name: 'desktop-light', viewport: { width: 1280, height: 900 }, colorScheme: 'light' as const },
  { name: 'desktop-dark', viewport: { width: 1280, height: 900 }, colorScheme: 'dark' as const },
];

describe('the status page at first look', () => {
  it.each(VARIANTS)(
    '$name',
    async ({ name, viewport, colorScheme }) => {
      const browser = await openBrowser({ viewport, colorScheme, timezoneId: TIME_ZONE });
      try {
        const { page } = browser;
        await page.goto(base, { waitUntil: 'load' });
        await expect.poll(() => page.textContent('#conn'), { timeout: 15_000 }).toBe('Live');
        await expect.poll(() => page.textContent('#pv-value'), { timeout: 15_000 }).toMatch(/^\d/);

        // Healthy, doing, waiting: three answers, on the first screen.
        await expect.poll(() => page.textContent('#summary'), { timeout: 15_000 }).toBe('Working normally.');
        expect(await page.textContent('#doing')).toMatch(
          /^(Exporting|Importing) [\d.]+ k?W; (offering [\d.]+ k?Wh for .+|selling|buying|trading, nothing to trade now)$/,
        );
        // What the outbox holds, as /api/status says: nothing, or how many and how old.
        await expect
          .poll(
            async () => {
              const st = (await (await fetch(`${base}/api/status`)).json()) as {
                outbox: { depth: Record<string, number> };
              };
              const n = Object.values(st.outbox.depth).reduce((a, b) => a + b, 0);
              const shown = (await page.textContent('#waiting')) ?? '';
              return n === 0
                ? shown === 'Nothing waiting to be sent'
                : shown.startsWith(`${n} message${n === 1 ? '' : 's'} waiting to be sent`);
            },
            { timeout: 20_000 },
          )
          .toBe(true);
        const last = await page.locator('#waiting').boundingBox();
        expect((last?.y ?? Number.POSITIVE_INFINITY) + (last?.height ?? 0)).toBeLessThan(viewport.height);

        // The footer names no simulated part: the inverter and the meter are real Modbus devices.
        const footer = (await page.textContent('#footer')) ?? '';
        expect(footer).toContain('zone-new/home-new');
        expect(footer).not.toContain('simulated');

        // The chart spans its few points (at least 10 minutes), ending now, labelled in local time.
        await expect
          .poll(() => page.getAttribute('#chart', 'data-x-max'), { timeout: 15_000 })
          .not.toBeNull();
        // Page code as text: this project's TypeScript has no DOM types.
        const span = (await page.evaluate(`(() => {
          const el = document.getElementById('chart');
          const min = Number(el.dataset.xMin);
          const max = Number(el.dataset.xMax);
          const hm = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
          return {
            min,
            max,
            label: el.getAttribute('aria-label'),
            local: [hm(min), hm(max)],
            zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          };
        })()`)) as { min: number; max: number; label: string | null; local: string[]; zone: string };
        const nowS = Date.now() / 1000;
        expect(span.max).toBeGreaterThan(nowS - 600);
        expect(span.max).toBeLessThan(nowS + 60);
        expect(span.max - span.min).toBeGreaterThanOrEqual(600);
        expect(span.max - span.min).toBeLessThan(4 * 3600);
        expect([TIME_ZONE, 'Asia/Calcutta']).toContain(span.zone); // the same zone, by its old name
        expect(span.label).toBe(
          `Solar, house and grid power from ${span.local[0]} to ${span.local[1]}, local time`,
        );

        // Offered, sold, bought and settled per slot; the rejected request counts for nothing.
        const rows = page.locator('#slots tbody tr');
        // The two seeded slots with binding trades, and the slot of an offer the home may be making now.
        await expect.poll(() => rows.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
        expect(await page.locator(`#slots tr[data-slot="${slots[2]}"]`).count()).toBe(0);
        const cell = (slot: number, key: string) =>
          page.textContent(`#slots tr[data-slot="${slot}"] td[data-key="${key}"]`);
        expect(await cell(slots[0] as number, 'sold')).toBe('1.20 kWh');
        expect(await cell(slots[0] as number, 'settled')).toBe('1.15 kWh');
        expect(await cell(slots[0] as number, 'bought')).toBe('–');
        expect(await cell(slots[1] as number, 'bought')).toBe('800 Wh');
        const widths = (await page.evaluate(
          "[...document.querySelectorAll('#slots .bar')].map((b) => b.style.width)",
        )) as string[];
        expect(widths).toContain('100%');

        // The slot chart fits its card, and at phone width nothing is wider than the screen.
        const slotsFit = await page.evaluate(
          "document.getElementById('slots').getBoundingClientRect().right <= document.getElementById('slots').parentElement.getBoundingClientRect().right",
        );
        expect(slotsFit).toBe(true);
        const overflow = (await page.evaluate(
          'document.scrollingElement.scrollWidth - window.innerWidth',
        )) as number;
        expect(overflow).toBeLessThanOrEqual(0);
        const scheme = await page.evaluate('getComputedStyle(document.body).backgroundColor');
        expect(scheme).toBe(colorScheme === 'dark' ? 'rgb(21, 23, 26)' : 'rgb(244, 245, 247)');

        await page.screenshot({ path: `${ARTIFACTS}/first-look-${name}.png`, fullPage: true });

        // axe-core, run in the page as it is (evaluated through the browser protocol, so the page's CSP stays).
        await page.evaluate(AXE);
        const violations = (await page.evaluate(`axe.run(document).then((r) =>
          r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))`)) as {
          id: string;
          impact: string;
          targets: string[];
        }[];
        expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
        expect(browser.errors).toEqual([]);
        expect(browser.blocked).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    90_000,
  );
});
