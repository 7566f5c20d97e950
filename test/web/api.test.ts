import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { waitFor } from '../helpers/ports.js';
import { type Home, startHome } from './helpers.js';
import { expectDocumented } from './openapi-schema.js';
import { type Json, readEvents } from './sse-client.js';

/** Every read endpoint, the live stream and its cap, against a home on the simulator (no broker). */
describe('HTTP API', () => {
  let home: Home;
  const get = async (path: string) => {
    const res = await fetch(`${home.base}${path}`);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
  };

  beforeAll(async () => {
    home = await startHome({ maxEventClients: 2 });
    await waitFor(() => home.service.cycle.stats().cycles >= 3, 15_000, 'three cycles');
  });
  afterAll(async () => {
    await home?.stop();
  });

  it('listens on loopback by default, with no token file shipped', () => {
    const cfg = configSchema.parse({ home: { id: 'h', zone: 'z' } });
    expect(cfg.web.listen).toBe('127.0.0.1:8080');
    expect(cfg.web.tokenFile).toBe('/etc/powerdeal/web.token');
  });

  it('/api/status: the service, today, relays, warnings, trades and a secret-free config', async () => {
    const { status, body } = await get('/api/status');
    expect(status).toBe(200);
    expect(body.home).toEqual({ id: 'home-web', zone: 'test-zone' });
    expect(body.snapshot.quantities.pvPowerW.quality).toBe('good');
    expect(body.devices.map((d: { id: string }) => d.id)).toEqual([
      'inverter',
      'grid-meter',
      'dc-shunt',
      'water-heater',
    ]);
    expect(body.today).toHaveProperty('pvWh');
    // Simulated are the I2C sensor and the relay; the Modbus devices are real (here: the simulator over TCP).
    expect(body.simulated).toBe(true);
    expect(body.simulatedParts).toEqual(['dc-shunt', 'water-heater']);
    expect(body.relays).toEqual([expect.objectContaining({ id: 'water-heater', mode: 'auto', on: false })]);
    expect(body.trades).toEqual([]);
    expect(body.offers).toEqual([]);
    expect(body.config.web).toEqual({ listen: '127.0.0.1:0' });
    expect(body.web.stateChanges).toBe(false);
    expect(body.link).toBeNull();
  });

  it('/api/devices: quality, latency and last error per device', async () => {
    const { body } = await get('/api/devices');
    const inverter = body.find((d: { id: string }) => d.id === 'inverter');
    expect(inverter).toMatchObject({ state: 'ok', breaker: 'closed', lastError: null });
    expect(inverter.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('/api/readings: the newest snapshot, or a series with ?since=', async () => {
    const latest = await get('/api/readings');
    expect(latest.body.quantities.gridPowerW.source).toBe('grid-meter');
    const since = Date.now() - 60_000;
    const { body } = await get(`/api/readings?since=${since}&step=1`);
    expect(body.source).toBe('raw');
    expect(body.stepS).toBe(1);
    expect(body.ts.length).toBeGreaterThanOrEqual(1);
    expect(body.series.pvPowerW).toHaveLength(body.ts.length);
    expect(body.series.pvPowerW.some((v: number | null) => v !== null && v > 0)).toBe(true);
    const iso = await get(`/api/readings?since=${new Date(since).toISOString()}`);
    expect(iso.status).toBe(200);
    expect((await get('/api/readings?since=yesterday-ish')).status).toBe(400);
    expect((await get(`/api/readings?since=${since}&step=0`)).status).toBe(400);
  });

  it('/api/outbox: stats, waiting rows with a payload excerpt, dead letters', async () => {
    const { body } = await get('/api/outbox?limit=10');
    expect(body.stats.depth).toHaveProperty('telemetry');
    expect(body.stats).toHaveProperty('oldestAgeMs');
    expect(Array.isArray(body.rows)).toBe(true);
    expect(body.deadLetters).toEqual({ held: 0, byReason: {}, totals: {} });
    expectDocumented('GET', '/api/outbox', body);
    expectDocumented('GET', '/api/dlq', (await get('/api/dlq')).body);
    expect((await get('/api/outbox?class=gossip')).status).toBe(400);
    expect((await get('/api/outbox?limit=100000')).status).toBe(400);
  });

  it('/api/trades and /api/offers: empty lists until trading runs', async () => {
    expect(await get('/api/trades')).toMatchObject({ status: 200, body: [] });
    expect(await get(`/api/offers?since=${Date.now() - 3_600_000}`)).toMatchObject({ status: 200, body: [] });
    expect((await get('/api/trades?since=never')).status).toBe(400);
  });

  it('/healthz and /readyz follow the health model', async () => {
    // The status code always agrees with the report it carries…
    for (const path of ['/healthz', '/readyz']) {
      const r = await get(path);
      expect(r.status).toBe((path === '/healthz' ? r.body.live : r.body.ready) ? 200 : 503);
      expect(typeof r.body.summary).toBe('string');
      expect(r.body.checks.map((c: { name: string }) => c.name)).toContain('cycle');
    }
    // …and a home on healthy simulated hardware is live and ready.
    await waitFor(async () => (await get('/healthz')).status === 200, 10_000, 'live');
    await waitFor(async () => (await get('/readyz')).status === 200, 10_000, 'ready');
    // Stopping the cycle is what the watchdog must notice: /healthz turns 503.
    await home.service.cycle.stop();
    try {
      const down = await waitFor(
        async () => {
          const r = await get('/healthz');
          return r.status === 503 ? r : undefined;
        },
        10_000,
        'not live',
      );
      expect(down.body.live).toBe(false);
      expect((await get('/readyz')).status).toBe(503);
    } finally {
      home.service.cycle.start();
    }
    await waitFor(async () => (await get('/readyz')).status === 200, 10_000, 'ready again');
  });

  it('refuses unknown paths and wrong methods, and serves HEAD', async () => {
    expect((await get('/api/nothing')).status).toBe(404);
    const post = await fetch(`${home.base}/api/status`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    const del = await fetch(`${home.base}/api/relays/water-heater`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    const head = await fetch(`${home.base}/api/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('serves the page and its assets from the daemon, gzipped, with a strict content policy', async () => {
    const page = await fetch(`${home.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    for (const asset of [
      '/assets/app.js',
      '/assets/style.css',
      '/assets/uPlot.min.js',
      '/assets/uPlot.min.css',
    ]) {
      expect(html).toContain(asset);
      const res = await fetch(`${home.base}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(res.status).toBe(200);
      const again = await fetch(`${home.base}${asset}`, {
        headers: { 'if-none-match': res.headers.get('etag') ?? '' },
      });
      expect(again.status).toBe(304);
    }
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect((await fetch(`${home.base}/assets/../../package.json`)).status).toBe(404);
  });

  it('/api/events: retry hint, the whole state first, then each cycle and heartbeats', async () => {
    const stream = await readEvents(`${home.base}/api/events`);
    try {
      const hello = await stream.next('status');
      expect(stream.retryMs()).toBe(2000);
      expect(hello.home.id).toBe('home-web');
      const a = await stream.next('snapshot');
      const b = await stream.next('snapshot');
      expect(b.snapshot.cycle).toBeGreaterThan(a.snapshot.cycle);
      expect(b.snapshot.quantities.pvPowerW.value).toBeGreaterThan(0);
      const beat = await stream.next('heartbeat', 10_000);
      expect(beat.health.live).toBe(true);
    } finally {
      stream.close();
    }
  });

  it('/api/events: caps live clients and frees the place when one leaves', async () => {
    const a = await readEvents(`${home.base}/api/events`);
    const b = await readEvents(`${home.base}/api/events`);
    try {
      await a.next('status');
      await b.next('status');
      const refused = await fetch(`${home.base}/api/events`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('10');
      await refused.body?.cancel();
      a.close();
      await waitFor(
        async () => (await get('/api/status')).body.web.eventClients === 1,
        5000,
        'a freed place',
      );
      const c = await readEvents(`${home.base}/api/events`);
      expect((await c.next('status')).home.id).toBe('home-web');
      c.close();
    } finally {
      a.close();
      b.close();
    }
  });

  it('reports a faulted device with its last error', async () => {
    home.sim.setFault(2, 'exception');
    try {
      const meter = await waitFor(
        async () =>
          (await get('/api/devices')).body.find((d: Json) => d.id === 'grid-meter' && d.state === 'fault'),
        15_000,
        'the meter to fault',
      );
      expect(meter.lastError).toBeTruthy();
      const status = await waitFor(
        async () => {
          const s = (await get('/api/status')).body;
          return s.warnings.some((w: Json) => w.source === 'grid-meter') ? s : undefined;
        },
        5000,
        'a warning about the meter',
      );
      expect(status.warnings[0].message).toContain('device faulted');
    } finally {
      home.sim.setFault(2, 'none');
    }
  });
});
