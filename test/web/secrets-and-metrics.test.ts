import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mosquitto, startMosquitto, stopAllMosquittos } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { type Home, startHome } from './helpers.js';
import { parseExposition } from './prometheus-text.js';
import { readEvents } from './sse-client.js';

const USERINFO_SECRET = 'userinfo-secret-9f2c';

/** No secret in any response; /metrics valid for promtool and a strict parser, with the domain metrics. */
describe('secrets and metrics', () => {
  let broker: Mosquitto;
  let home: Home;

  beforeAll(async () => {
    broker = await startMosquitto();
    home = await startHome({
      broker: `mqtt://home-web:${USERINFO_SECRET}@127.0.0.1:${broker.port}`,
      token: true,
      passwordFile: true,
    });
    await waitFor(() => home.service.link?.status().connected, 15_000, 'the link');
    await waitFor(() => home.service.cycle.stats().cycles >= 3, 15_000, 'three cycles');
  });
  afterAll(async () => {
    await home?.stop();
    await stopAllMosquittos();
  });

  const everything = async () => {
    const paths = [
      '/',
      '/api/status',
      '/api/devices',
      '/api/readings',
      `/api/readings?since=${Date.now() - 600_000}`,
      '/api/outbox',
      '/api/dlq',
      '/api/relays',
      '/api/trades',
      '/api/offers',
      '/healthz',
      '/readyz',
      '/metrics',
    ];
    const texts = await Promise.all(paths.map(async (p) => (await fetch(`${home.base}${p}`)).text()));
    const stream = await readEvents(`${home.base}/api/events`);
    try {
      texts.push(JSON.stringify(await stream.next('status')), JSON.stringify(await stream.next('snapshot')));
    } finally {
      stream.close();
    }
    return texts.join('\n');
  };

  it('never shows the token, the broker password or credentials in a broker URL', async () => {
    const secrets = [home.token as string, home.password as string, USERINFO_SECRET];
    const connected = await everything();
    const status = JSON.parse(await (await fetch(`${home.base}/api/status`)).text());
    expect(status.config.mqtt).toMatchObject({
      password: true,
      brokers: [`mqtt://127.0.0.1:${broker.port}`],
    });
    expect(status.link.broker).toBe(`mqtt://127.0.0.1:${broker.port}`);
    for (const s of secrets) expect(connected).not.toContain(s);

    // Errors carry the broker URL too: look again while the broker is down.
    await broker.stop();
    await waitFor(() => home.service.link?.status().lastError, 10_000, 'a link error');
    const down = await everything();
    for (const s of secrets) expect(down).not.toContain(s);
    expect(down).not.toContain('mqtt.pass');
    await broker.start();
    await waitFor(() => home.service.link?.status().connected, 15_000, 'the link again');
  });

  it('/metrics passes promtool check metrics', async () => {
    const text = await (await fetch(`${home.base}/metrics`)).text();
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(promtool.error).toBeUndefined();
    expect(`${promtool.stdout}${promtool.stderr}`).toBe('');
    expect(promtool.status).toBe(0);
  });

  it('/metrics parses strictly and carries the domain metrics', async () => {
    // Telemetry reached the broker at least once (the drain starts after a random pause).
    await waitFor(() => home.service.store.outbox.stats(Date.now()).sent > 0, 15_000, 'a PUBACK');
    home.sim.setFault(2, 'exception');
    await waitFor(
      () => home.service.cycle.latest()?.quantities.gridPowerW?.quality === 'fault',
      15_000,
      'the meter values to fault',
    );
    const res = await fetch(`${home.base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const m = parseExposition(await res.text());
    home.sim.setFault(2, 'none');

    const value = (name: string, labels: Record<string, string> = {}) => m.value(name, labels);
    expect(m.type('powerdeal_quantity')).toBe('gauge');
    expect(value('powerdeal_quantity', { quantity: 'pvPowerW', quality: 'good' })).toBeGreaterThan(0);
    // The meter is faulted: its values are no longer good.
    expect(value('powerdeal_quantity_quality', { quantity: 'gridPowerW', quality: 'good' })).toBe(0);
    expect(m.type('powerdeal_cycle_duration_seconds')).toBe('histogram');
    expect(value('powerdeal_cycle_duration_seconds_count')).toBeGreaterThan(0);
    expect(value('powerdeal_cycle_duration_seconds_bucket', { le: '+Inf' })).toBe(
      value('powerdeal_cycle_duration_seconds_count'),
    );
    expect(value('powerdeal_device_up', { device: 'grid-meter', profile: 'sdm630' })).toBe(0);
    expect(value('powerdeal_device_up', { device: 'inverter', profile: 'sunspec-inverter' })).toBe(1);
    expect(
      value('powerdeal_device_errors_total', { device: 'grid-meter', profile: 'sdm630' }),
    ).toBeGreaterThan(0);
    expect(m.type('powerdeal_device_errors_total')).toBe('counter');
    const breaker = ['closed', 'open', 'half-open'].map((state) =>
      value('powerdeal_device_breaker_state', { device: 'grid-meter', state }),
    );
    expect(breaker.reduce((a, b) => a + b, 0)).toBe(1);
    expect(value('powerdeal_outbox_depth', { class: 'telemetry' })).toBeGreaterThanOrEqual(0);
    expect(value('powerdeal_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(value('powerdeal_outbox_drops_total', { reason: 'shed-cap' })).toBe(0);
    expect(value('powerdeal_outbox_sent_total')).toBeGreaterThan(0);
    expect(value('powerdeal_link_up')).toBe(1);
    expect(value('powerdeal_link_state', { state: 'connected' })).toBe(1);
    expect(value('powerdeal_link_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(value('powerdeal_inbox_rejected_total', { reason: 'bad-signature' })).toBe(0);
    expect(value('powerdeal_trades_total', { role: 'seller' })).toBe(0);
    expect(value('powerdeal_trades_total', { role: 'buyer' })).toBe(0);
    expect(value('powerdeal_trade_settled_wh_total', { role: 'seller' })).toBe(0);
    expect(value('powerdeal_disk_free_bytes')).toBeGreaterThan(0);
    expect(value('powerdeal_disk_size_bytes')).toBeGreaterThanOrEqual(
      value('powerdeal_disk_free_bytes') ?? 0,
    );
    expect(value('powerdeal_disk_low')).toBe(0);
    expect(value('powerdeal_relay_on', { relay: 'water-heater' })).toBe(0);
    expect(value('powerdeal_info', { version: '0.0.0-test', home: 'home-web', zone: 'test-zone' })).toBe(1);
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.type('process_resident_memory_bytes')).toBe('gauge');
  });
});
