import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { CHROMIUM, CHROMIUM_ARGS } from './browser.js';
import { type Home, startHome } from './helpers.js';

const RELAY_LINE = 17; // active-low: on = low

/**
 * DNS rebinding in real Chromium: its resolver maps a foreign name to the page's loopback address, as a
 * rebinding DNS server would point it at the Pi. The page's own relay button, which POSTs with the
 * page's Origin and the token, keeps working.
 */
describe('DNS rebinding in a browser', () => {
  let home: Home;
  let browser: Browser;
  let port: number;

  beforeAll(async () => {
    home = await startHome({ token: true });
    port = home.service.webPort as number;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.example 127.0.0.1'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await home?.stop();
  });

  it('a page loaded under a rebound name gets the 421 refusal, not the page', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`http://evil.example:${port}/`);
    expect(res?.status()).toBe(421);
    expect(await page.textContent('body')).toContain(
      `the Host header "evil.example:${port}" is not a name this page answers to; to allow it, add "evil.example" to web.allowedHosts`,
    );
    await page.close();
  });

  it('the page itself still switches a relay with its button (same-origin POST, Origin sent)', async () => {
    const page = await browser.newPage();
    // The headers as sent, Origin included (the network layer adds it).
    const origins: Promise<string | undefined>[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') origins.push(r.allHeaders().then((h) => h.origin));
    });
    const res = await page.goto(`http://127.0.0.1:${port}/`);
    expect(res?.status()).toBe(200);
    // A string: the test is compiled without the DOM's types.
    await page.evaluate(`sessionStorage.setItem('powerdeal-token', ${JSON.stringify(home.token)})`);
    const on = page.locator('#relays [data-relay="water-heater"] button', { hasText: /^on$/ });
    await on.first().click({ timeout: 15_000 });
    const gpio = home.service.hardware.gpio as FakeGpioBackend;
    await expect.poll(() => gpio.level(RELAY_LINE), { timeout: 10_000 }).toBe(false);
    expect(await Promise.all(origins)).toEqual([`http://127.0.0.1:${port}`]);
    await page.close();
  });
});
