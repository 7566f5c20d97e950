import { randomBytes } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client/client.js';
import type { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { createTokenGate } from '../../src/web/auth.js';
import { type Home, startHome } from './helpers.js';
import { expectDocumented } from './openapi-schema.js';
import type { Json } from './sse-client.js';

const RELAY_LINE = 17; // active-low: on = physically low

/** Relay overrides and dead-letter retry/purge: only with the bearer token from web.tokenFile. */
describe('state-changing endpoints', () => {
  let home: Home;
  const post = async (path: string, body: unknown, token?: string, raw?: string) => {
    const res = await fetch(`${home.base}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: raw ?? JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
  };
  const gpio = () => home.service.hardware.gpio as FakeGpioBackend;

  beforeAll(async () => {
    home = await startHome({ token: true });
  });
  afterAll(async () => {
    await home?.stop();
  });

  it('switches a relay only with the right token', async () => {
    const token = home.token as string;
    expect(gpio().level(RELAY_LINE)).toBe(true); // off at its safe state

    const none = await post('/api/relays/water-heater', { mode: 'on' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const sameLength = await post(
      '/api/relays/water-heater',
      { mode: 'on' },
      randomBytes(32).toString('hex'),
    );
    expect(sameLength.status).toBe(401);
    const shorter = await post('/api/relays/water-heater', { mode: 'on' }, token.slice(0, -1));
    expect(shorter.status).toBe(401);
    const prefixed = await post('/api/relays/water-heater', { mode: 'on' }, `${token}x`);
    expect(prefixed.status).toBe(401);
    expect(gpio().level(RELAY_LINE)).toBe(true);

    const on = await post('/api/relays/water-heater', { mode: 'on' }, token);
    expectDocumented('POST', '/api/relays/{id}', on.body);
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: 'water-heater', mode: 'on', on: true });
    expect(gpio().level(RELAY_LINE)).toBe(false);
    const listed = (await (await fetch(`${home.base}/api/relays`)).json()) as Json;
    expectDocumented('GET', '/api/relays', listed);
    expect(listed).toEqual([expect.objectContaining({ id: 'water-heater', mode: 'on', on: true })]);

    const auto = await post('/api/relays/water-heater', { mode: 'auto' }, token);
    expect(auto.body).toMatchObject({ mode: 'auto', on: false });
    expect(gpio().level(RELAY_LINE)).toBe(true);

    expect((await post('/api/relays/water-heater', { mode: 'toggle' }, token)).status).toBe(400);
    expect((await post('/api/relays/pool-pump', { mode: 'on' }, token)).status).toBe(404);
    // No token, no information either: an unknown relay is refused before it is looked up.
    expect((await post('/api/relays/pool-pump', { mode: 'on' })).status).toBe(401);
  });

  it('reports a relay whose line fails, and keeps its mode', async () => {
    gpio().fail(RELAY_LINE, 'EIO: i/o error');
    try {
      const r = await post('/api/relays/water-heater', { mode: 'on' }, home.token);
      expect(r.status).toBe(503);
      expect(r.body.error).toContain('EIO');
      const [view] = (await (await fetch(`${home.base}/api/relays`)).json()) as Json;
      expect(view).toMatchObject({ mode: 'auto', state: 'fault', on: null });
    } finally {
      gpio().heal(RELAY_LINE);
    }
    expect((await post('/api/relays/water-heater', { mode: 'off' }, home.token)).body).toMatchObject({
      mode: 'off',
      on: false,
      state: 'ok',
    });
  });

  it('caps request bodies and refuses malformed ones', async () => {
    const big = await post(
      '/api/relays/water-heater',
      undefined,
      home.token,
      JSON.stringify({ mode: 'on', pad: 'x'.repeat(5000) }),
    );
    expect(big.status).toBe(413);
    const bad = await post('/api/relays/water-heater', undefined, home.token, '{"mode": on');
    expect(bad.status).toBe(400);
  });

  it('the control socket runs the same relay operations as the API', async () => {
    const control = await ControlClient.connect(home.service.ctx.config.control.socket);
    if (!control) throw new Error('no control socket');
    try {
      const listed = (await (await fetch(`${home.base}/api/relays`)).json()) as Json;
      expect(await control.call('relays.list')).toEqual(listed);
      const auto = await control.call('relays.set', { id: 'water-heater', mode: 'auto' });
      expectDocumented('POST', '/api/relays/{id}', auto);
      await expect(control.call('relays.set', { id: 'pool-pump', mode: 'on' })).rejects.toMatchObject({
        kind: 'problem',
        message: 'no relay pool-pump',
      });
      await expect(control.call('relays.set', { id: 'water-heater', mode: 'toggle' })).rejects.toMatchObject({
        kind: 'usage',
      });
    } finally {
      control.close();
    }
  });

  it('retries and purges dead letters with the token', async () => {
    const { store } = home.service;
    const now = Date.now();
    const trade = store.deadLetters.add(
      {
        direction: 'out',
        reason: 'broker refused: quota exceeded (0x97)',
        topic: 'powerdeal/v1/test-zone/home-web/trades',
        payload: Buffer.from('{"id":"trade-1"}'),
        messageId: '0190aaaa-0000-7000-8000-000000000001',
        class: 'trade',
        retain: false,
      },
      now,
    );
    const offer = store.deadLetters.add(
      {
        direction: 'out',
        reason: 'broker refused',
        topic: 'powerdeal/v1/test-zone/home-web/offer',
        payload: Buffer.from('{}'),
        messageId: '0190aaaa-0000-7000-8000-000000000002',
        class: 'offer',
        retain: true,
      },
      now,
    );
    const inbound = store.deadLetters.add(
      {
        direction: 'in',
        reason: 'bad-signature',
        topic: 'powerdeal/v1/test-zone/x/offer',
        payload: Buffer.from('{}'),
        from: 'x',
      },
      now,
    );
    const listed = (await (await fetch(`${home.base}/api/dlq`)).json()) as Json;
    expect(listed.map((d: Json) => [d.id, d.retryable])).toEqual([
      [inbound, false],
      [offer, false],
      [trade, true],
    ]);
    expectDocumented('GET', '/api/dlq', listed);
    // One projection: the control socket (the CLI's `dlq ls --json`) lists the same objects.
    const control = await ControlClient.connect(home.service.ctx.config.control.socket);
    expect(control).toBeDefined();
    try {
      expect(await control?.call('dlq.list', { limit: 50 })).toEqual(listed);
    } finally {
      control?.close();
    }

    expect((await post(`/api/dlq/${trade}/retry`, undefined)).status).toBe(401);
    expect((await post(`/api/dlq/${inbound}/retry`, undefined, home.token)).status).toBe(409);
    expect((await post(`/api/dlq/${offer}/retry`, undefined, home.token)).status).toBe(409);
    expect((await post('/api/dlq/99999/retry', undefined, home.token)).status).toBe(404);
    expect(store.deadLetters.count()).toBe(3); // refusals left everything in place

    const retried = await post(`/api/dlq/${trade}/retry`, undefined, home.token);
    expect(retried.status).toBe(200);
    expectDocumented('POST', '/api/dlq/{id}/retry', retried.body);
    const outbox = (await (await fetch(`${home.base}/api/outbox?class=trade`)).json()) as Json;
    expect(outbox.rows).toHaveLength(1);
    expectDocumented('GET', '/api/outbox', outbox);
    const rows = store.outbox.list({ class: 'trade' });
    expect(rows.map((r) => r.id)).toEqual(['0190aaaa-0000-7000-8000-000000000001']);
    expect(rows[0]?.payload.toString()).toBe('{"id":"trade-1"}');
    expect(store.deadLetters.count()).toBe(2);

    expect((await post('/api/dlq/purge', {}, home.token)).status).toBe(400);
    expect((await post('/api/dlq/purge', { ids: [offer] })).status).toBe(401);
    const purged = await post('/api/dlq/purge', { ids: [offer] }, home.token);
    expect(purged.body).toEqual({ purged: 1 });
    expectDocumented('POST', '/api/dlq/purge', purged.body);
    expect((await post('/api/dlq/purge', { all: true }, home.token)).body).toEqual({ purged: 1 });
    expect(store.deadLetters.count()).toBe(0);
    store.outbox.purge({ class: 'trade', force: true }, Date.now());
  });

  it('takes a rotated token at once, and refuses every change without a token file', async () => {
    const old = home.token as string;
    const fresh = randomBytes(32).toString('hex');
    writeFileSync(home.tokenFile, fresh);
    expect((await post('/api/relays/water-heater', { mode: 'auto' }, old)).status).toBe(401);
    expect((await post('/api/relays/water-heater', { mode: 'auto' }, fresh)).status).toBe(200);

    writeFileSync(home.tokenFile, 'short');
    const weak = await post('/api/relays/water-heater', { mode: 'on' }, 'short');
    expect(weak.status).toBe(403);

    unlinkSync(home.tokenFile);
    const r = await post('/api/relays/water-heater', { mode: 'on' }, fresh);
    expect(r.status).toBe(403);
    expect(r.body.error).toContain('web.tokenFile');
    expect((await post('/api/dlq/purge', { all: true }, fresh)).status).toBe(403);
    expect(((await (await fetch(`${home.base}/api/status`)).json()) as Json).web.stateChanges).toBe(false);
    expect(gpio().level(RELAY_LINE)).toBe(true);
  });

  it('compares tokens by digest (Json length, constant time)', () => {
    const file = `${home.dir}/gate.token`;
    const token = 'a'.repeat(40);
    writeFileSync(file, `${token}\n`);
    const gate = createTokenGate(file);
    expect(gate.check(`Bearer ${token}`)).toBe('ok');
    expect(gate.check(`bearer ${token}`)).toBe('ok');
    expect(gate.check(`Bearer ${'a'.repeat(39)}b`)).toBe('invalid');
    expect(gate.check(`Bearer ${'a'.repeat(4000)}`)).toBe('invalid');
    expect(gate.check(`Basic ${token}`)).toBe('missing');
    expect(gate.check(undefined)).toBe('missing');
    expect(createTokenGate(`${home.dir}/absent`).check(`Bearer ${token}`)).toBe('disabled');
  });
});
