import { request } from 'node:http';
import { connect } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { createLogger } from '../../src/log/logger.js';
import { type Home, startHome } from './helpers.js';

const RELAY_LINE = 17; // active-low: off = high

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

/**
 * DNS rebinding: the real service's page on a free loopback port, asked with forged Host and Origin
 * headers (what a browser sends once a foreign name points at the Pi).
 */
describe('the page answers only to its own names', () => {
  let home: Home;
  let port: number;
  const logged: Record<string, unknown>[] = [];

  /** One raw request on 127.0.0.1 with exactly these headers. */
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        // A stream that is allowed is answered with its first event; enough to see it was let in.
        res.on('data', (d: string) => {
          text += d;
          if (res.headers['content-type']?.startsWith('text/event-stream')) res.destroy();
        });
        const done = () =>
          resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: text });
        res.on('end', done);
        res.on('close', done);
      });
      req.on('error', reject);
      req.end(body);
    });
  const get = (host: string, path = '/api/status') => send('GET', path, { host });
  const setRelay = (mode: string, headers: Record<string, string>) =>
    send(
      'POST',
      '/api/relays/water-heater',
      {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/json',
        authorization: `Bearer ${home.token}`,
        ...headers,
      },
      JSON.stringify({ mode }),
    );
  const relayOn = () => (home.service.hardware.gpio as FakeGpioBackend).level(RELAY_LINE) === false;
  const refusals = () => logged.filter((l) => l.level === 'warn' && /^web: refused/.test(String(l.msg)));

  beforeAll(async () => {
    const log = createLogger({
      level: 'warn',
      journald: false,
      destination: { write: (s: string) => void logged.push(JSON.parse(s) as Record<string, unknown>) },
    });
    home = await startHome({ token: true, allowedHosts: ['Powerdeal.Home.Arpa', 'pi.lan:9999'], log });
    port = home.service.webPort as number;
  });
  afterAll(async () => {
    await home?.stop();
  });

  it('serves its own names: listen address, loopback, host name, interface addresses, configured', async () => {
    const short = hostname().split('.')[0];
    const addresses = Object.values(networkInterfaces())
      .flat()
      .map((a) => (a?.family === 'IPv6' ? `[${a.address}]` : a?.address));
    const own = [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST.:${port}`,
      `[::1]:${port}`,
      `${hostname()}:${port}`,
      `${short}.local:${port}`,
      ...addresses.map((a) => `${a}:${port}`),
      // Configured without a port: any port, as behind a reverse proxy.
      'powerdeal.home.arpa',
      'powerdeal.home.arpa:443',
      'pi.lan:9999',
    ];
    for (const host of own) {
      const r = await get(host);
      expect(r.status, host).toBe(200);
    }
  });

  it('refuses any other Host with 421 and a plain body naming the header and the key', async () => {
    const r = await get('evil.example');
    expect(r.status).toBe(421);
    expect(r.type).toBe('text/plain; charset=utf-8');
    expect(r.body).toBe(
      'refused: the Host header "evil.example" is not a name this page answers to; to allow it, add "evil.example" to web.allowedHosts in the config\n',
    );
    for (const host of [
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      // Its own names, on another port than the one it listens on.
      `127.0.0.1:${port + 1}`,
      'localhost',
      // A port-bound configured name on another port.
      `pi.lan:${port}`,
      `127.0.0.1:${port}/x`,
      `user@127.0.0.1:${port}`,
    ]) {
      const refused = await get(host);
      expect(refused.status, host).toBe(421);
      expect(refused.body).toMatch(/^refused: the Host header ".*" is not /);
    }
    // The page, its files and the live stream alike.
    expect((await get('evil.example', '/')).status).toBe(421);
    expect((await get('evil.example', '/assets/app.js')).status).toBe(421);
    expect((await get('evil.example', '/api/events')).status).toBe(421);
  });

  it('logs a refused host once, not per request', async () => {
    const before = refusals().length;
    for (let i = 0; i < 5; i++) await get('rebind.example');
    await get('other.example');
    const added = refusals().slice(before);
    expect(added.map((l) => l.value)).toEqual(['rebind.example', 'other.example']);
    expect(added[0]).toMatchObject({ header: 'host' });
  });

  it('refuses a request without a Host header (HTTP/1.0)', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('GET /api/status HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 421 /);
    expect(reply).toMatch(/refused: the request has no Host header/);
  });

  it('refuses a state change from a foreign Origin even with a valid token', async () => {
    expect(relayOn()).toBe(false);
    const foreign = await setRelay('on', { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.type).toBe('text/plain; charset=utf-8');
    expect(foreign.body).toBe(
      'refused: the Origin header "http://evil.example" is not a name this page answers to; to allow it, add "evil.example" to web.allowedHosts in the config\n',
    );
    for (const origin of [
      'null',
      `http://127.0.0.1:${port + 1}`,
      `http://127.0.0.1:${port}/path`,
      `ftp://127.0.0.1:${port}`,
      // Without the scheme it is no origin at all.
      `127.0.0.1:${port}`,
    ]) {
      const refused = await setRelay('on', { origin });
      expect(refused.status, origin).toBe(403);
      expect(refused.body).toMatch(/^refused: the Origin header/);
    }
    // Refused before the token is looked at.
    const noToken = await send('POST', '/api/relays/water-heater', {
      host: `127.0.0.1:${port}`,
      origin: 'http://evil.example',
    });
    expect(noToken.status).toBe(403);
    expect(relayOn()).toBe(false);
  });

  it('takes a state change from its own page, or from a client that names no origin', async () => {
    const page = await setRelay('on', { origin: `http://127.0.0.1:${port}` });
    expect(page.status).toBe(200);
    expect(relayOn()).toBe(true);
    const proxied = await setRelay('auto', { origin: 'https://powerdeal.home.arpa' });
    expect(proxied.status).toBe(200);
    expect(relayOn()).toBe(false);
    // The CLI and curl: no Origin, the token alone.
    const curl = await setRelay('on', {});
    expect(curl.status).toBe(200);
    expect(relayOn()).toBe(true);
    expect((await setRelay('auto', {})).status).toBe(200);
    // The token is still needed with the page's own origin.
    const untokened = await send(
      'POST',
      '/api/relays/water-heater',
      { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' },
      '{"mode":"on"}',
    );
    expect(untokened.status).toBe(401);
  });

  it('still loads the page, its files and the live stream with Host 127.0.0.1', async () => {
    const host = `127.0.0.1:${port}`;
    const page = await get(host, '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toMatch(/<html/i);
    expect((await get(host, '/assets/app.js')).status).toBe(200);
    // A GET is a read whatever its Origin: the browser keeps a foreign page from reading the answer.
    const events = await send('GET', '/api/events', { host, origin: 'http://evil.example' });
    expect(events.status).toBe(200);
    expect(events.type).toMatch(/^text\/event-stream/);
    expect(events.body).toMatch(/^(retry|event|:)/m);
  });
});
