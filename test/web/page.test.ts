import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { type Browser, openBrowser } from './browser.js';
import { type Home, startHome } from './helpers.js';

const ARTIFACTS = 'test-artifacts';

/** The status page in real Chromium against a running home, its simulator and a real mosquitto. */
describe('status page', () => {
  let broker: Mosquitto;
  let home: Home;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    broker = await startMosquitto();
    home = await startHome({ broker: broker.url });
    // Exact values to look for: 3.21 kW of sun, 800 W of house, so 2.41 kW exported.
    home.sim.pin({ pvPowerW: 3210, loadPowerW: 800 });
    browser = await openBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await home?.stop();
    await stopAllMosquittos();
  });

  it('loads with no network but the daemon and shows live values from the simulator', async () => {
    const { page } = browser;
    await page.goto(home.base, { waitUntil: 'load' });
    await expect.poll(() => page.textContent('#conn'), { timeout: 15_000 }).toBe('Live');
    await expect.poll(() => page.textContent('#pv-value'), { timeout: 15_000 }).toBe('3.21 kW');
    await expect.poll(() => page.textContent('#load-value'), { timeout: 15_000 }).toBe('800 W');
    expect(await page.textContent('#grid-label')).toBe('Exporting');
    expect(await page.textContent('#grid-value')).toBe('2.41 kW');

    // Live: the cycle number shown keeps moving.
    const first = await page.textContent('#snapshot-time');
    await expect.poll(() => page.textContent('#snapshot-time'), { timeout: 10_000 }).not.toBe(first);

    await expect.poll(() => page.textContent('#link-state'), { timeout: 15_000 }).toBe('Connected');
    expect(await page.textContent('#trades')).toContain('No offers or trades yet');
    const inverter = page.locator('#devices tr[data-device="inverter"]');
    await expect.poll(() => inverter.textContent()).toContain('ok');
    expect(await page.locator('#relays [data-relay="water-heater"]').textContent()).toContain('off');
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
    expect(await page.textContent('#footer')).toContain('simulated: dc-shunt, water-heater');

    expect(browser.blocked).toEqual([]);
    expect(browser.requested.every((u) => u.startsWith(home.base))).toBe(true);
    expect(browser.errors).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/status-page.png`, fullPage: true });
  });

  it('shows a faulted meter: the device, its values and a warning', async () => {
    const { page } = browser;
    home.sim.setFault(2, 'exception');
    try {
      const meter = page.locator('#devices tr[data-device="grid-meter"]');
      await expect.poll(() => meter.textContent(), { timeout: 15_000 }).toContain('fault');
      await expect
        .poll(() => page.textContent('#grid-q'), { timeout: 10_000 })
        .toMatch(/faulted|stale value/);
      expect(await page.textContent('#summary')).toContain('faulted: grid-meter');
      await expect.poll(() => page.textContent('#warnings'), { timeout: 5_000 }).toContain('grid-meter');
    } finally {
      home.sim.setFault(2, 'none');
    }
    await expect
      .poll(() => page.locator('#devices tr[data-device="grid-meter"]').textContent(), { timeout: 15_000 })
      .toContain('ok');
    await expect.poll(() => page.textContent('#grid-q'), { timeout: 10_000 }).toBe('');
  });

  it('shows a broker outage within a few seconds, and the recovery', async () => {
    const { page } = browser;
    await broker.stop();
    await expect.poll(() => page.textContent('#link-state'), { timeout: 10_000 }).toBe('Broker unreachable');
    expect(await page.textContent('#summary')).toContain('broker unreachable');
    await expect.poll(() => page.textContent('#warnings'), { timeout: 5_000 }).toContain('unreachable');
    // The daemon itself is still there: the page stays live.
    expect(await page.textContent('#conn')).toBe('Live');
    await page.screenshot({ path: `${ARTIFACTS}/status-page-broker-down.png`, fullPage: true });

    await broker.start();
    await expect.poll(() => page.textContent('#link-state'), { timeout: 20_000 }).toBe('Connected');
    expect(await page.textContent('#summary')).toContain('Working normally');
  });

  it('says plainly when the daemon cannot be reached', async () => {
    const { page } = browser;
    await home.stop();
    await expect
      .poll(() => page.textContent('#conn'), { timeout: 15_000 })
      .toContain('The controller cannot be reached');
    expect(await page.getAttribute('body', 'data-conn')).toBe('unreachable');
    // No "working normally" next to old values.
    expect(await page.isVisible('#summary')).toBe(false);
    await page.screenshot({ path: `${ARTIFACTS}/status-page-unreachable.png`, fullPage: true });
  });
});
