import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { type Home, startHome } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pd-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed pair made by openssl, as scripts/install.sh --tls makes one. */
function selfSigned(name: string, san: string): { certFile: string; keyFile: string; cert: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    `subjectAltName=${san}`,
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}

/** A certificate for `dns` alone issued by a CA of its own (the CA stays out of the file). */
function issued(dns: string): { certFile: string; keyFile: string } {
  const ca = selfSigned(`${dns}-ca`, `DNS:${dns}-ca`);
  const keyFile = join(dir, `${dns}.key`);
  const csr = join(dir, `${dns}.csr`);
  const certFile = join(dir, `${dns}.crt`);
  const ext = join(dir, `${dns}.ext`);
  writeFileSync(ext, `subjectAltName=DNS:${dns}\n`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-new', ...ec, '-subj', `/CN=${dns}`, '-keyout', keyFile, '-out', csr]);
  execFileSync('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
  authorized: boolean;
  fingerprint: string | undefined;
}

/** One HTTPS request on 127.0.0.1 with exactly these headers and TLS options. */
function send(
  port: number,
  path: string,
  opts: { headers?: Record<string, string>; tls?: RequestOptions; method?: string; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host: `127.0.0.1:${port}`, ...opts.headers },
        setHost: false,
        // The name checked against the certificate (a forged Host header must not change it).
        servername: 'localhost',
        ...opts.tls,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const authorized = socket.authorized;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          // A stream is answered with its first event: enough to see it is served.
          if (res.headers['content-type']?.startsWith('text/event-stream')) res.destroy();
        });
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            body: text,
            authorized,
            fingerprint,
          });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('the page over HTTPS (web.tls)', () => {
  const pair = selfSigned('pd-test', 'IP:127.0.0.1,DNS:localhost');
  const trust: RequestOptions = { ca: pair.cert };
  let home: Home;
  let port: number;

  beforeAll(async () => {
    home = await startHome({ token: true, tls: { certFile: pair.certFile, keyFile: pair.keyFile } });
    port = home.service.webPort as number;
  });
  afterAll(async () => {
    await home?.stop();
  });

  it('serves the page and the API to a client that trusts the certificate', async () => {
    expect(home.base).toBe(`https://127.0.0.1:${port}`);
    const page = await send(port, '/', { tls: trust });
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.authorized).toBe(true);
    expect(page.fingerprint).toBe(new X509Certificate(pair.cert).fingerprint256);
    const status = await send(port, '/api/status', { tls: trust });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ home: { id: 'home-web' } });
    const events = await send(port, '/api/events', { tls: trust });
    expect(events.type).toMatch(/^text\/event-stream/);
    expect(events.body).toMatch(/^event: status$/m);
  });

  it('is refused by a client that does not trust it', async () => {
    await expect(send(port, '/api/status')).rejects.toThrow(/self-signed certificate/);
    const other = selfSigned('other', 'IP:127.0.0.1');
    await expect(send(port, '/api/status', { tls: { ca: other.cert } })).rejects.toThrow(/certificate/);
  });

  it('keeps the Host check (a Host without a port means 443) and the token', async () => {
    expect((await send(port, '/api/status', { tls: trust, headers: { host: 'evil.example' } })).status).toBe(
      421,
    );
    expect((await send(port, '/api/status', { tls: trust, headers: { host: '127.0.0.1' } })).status).toBe(
      421,
    );
    const relay = (token?: string) =>
      send(port, '/api/relays/water-heater', {
        tls: trust,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ mode: 'on' }),
      });
    expect((await relay()).status).toBe(401);
    expect((await relay(home.token)).status).toBe(200);
  });

  it('answers no plain HTTP on its port', async () => {
    const plain = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/api/status', headers: { host: `127.0.0.1:${port}` } },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', reject);
      req.end();
    });
    await expect(plain).rejects.toThrow();
  });

  it('is what the CLI reads from, trusting exactly the configured certificate', async () => {
    const config = (tls: { certFile: string; keyFile: string }, webPort = port) => {
      const file = join(dir, `cli-${tls.certFile.split('/').at(-1)}.yaml`);
      writeFileSync(
        file,
        [
          'home: { id: home-web, zone: test-zone }',
          `keys: { privateKeyFile: ${join(dir, 'home.key')}, keyringFile: ${join(dir, 'keyring.yaml')} }`,
          `control: { socket: ${join(dir, 'none.sock')} }`,
          `web: { listen: "127.0.0.1:${webPort}", tls: { certFile: ${tls.certFile}, keyFile: ${tls.keyFile} } }`,
        ].join('\n'),
      );
      return file;
    };
    const ok = await runCli(['readings', '--json', '--config', config(pair)]);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toHaveProperty('quantities');
    // A certificate for the Pi's name only, from a CA the file does not hold: still the one it trusts.
    const named = issued('pi.example');
    const other = await startHome({ tls: named });
    try {
      const devices = await runCli(['devices', '--json', '--config', config(named, other.service.webPort)]);
      expect(JSON.parse(devices.stdout)).toMatchObject({ source: 'service' });
    } finally {
      await other.stop();
    }
    // Another certificate in the config: the service's is not trusted, so it is not reachable.
    const impostor = selfSigned('impostor', 'IP:127.0.0.1');
    const refused = await runCli(['readings', '--config', config(impostor)]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`not reachable at https://127.0.0.1:${port}`);
  });
});

describe('a web.tls the service cannot use', () => {
  const pair = selfSigned('pd-bad', 'DNS:localhost');
  const wrongKey = selfSigned('pd-wrong', 'DNS:localhost').keyFile;
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const start = (tls: string) => {
    const file = join(dir, 'run.yaml');
    writeFileSync(
      file,
      [
        'home: { id: home-bad, zone: test-zone }',
        `store: { path: ${join(dir, 'bad.db')} }`,
        `keys: { privateKeyFile: ${join(dir, 'home.key')}, keyringFile: ${join(dir, 'keyring.yaml')} }`,
        `control: { socket: ${join(dir, 'bad.sock')} }`,
        `web: { listen: "127.0.0.1:0", tls: ${tls} }`,
      ].join('\n'),
    );
    return runCli(['run', '--config', file], { timeoutMs: 20_000 });
  };

  it('refuses to start, naming the key', async () => {
    const notPem = await start(`{ certFile: ${garbage}, keyFile: ${pair.keyFile} }`);
    expect(notPem.code).toBe(78);
    expect(notPem.stderr).toContain(`web.tls.certFile (line 5): ${garbage} is not a PEM certificate`);

    const missing = await start(`{ certFile: ${pair.certFile}, keyFile: ${join(dir, 'gone.key')} }`);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain(
      `web.tls.keyFile (line 5): cannot read ${join(dir, 'gone.key')}: no such file`,
    );

    const swapped = await start(`{ certFile: ${pair.keyFile}, keyFile: ${pair.certFile} }`);
    expect(swapped.code).toBe(78);
    expect(swapped.stderr).toContain('web.tls.certFile');
    expect(swapped.stderr).toContain(`web.tls.keyFile (line 5): ${pair.certFile} is not a PEM private key`);

    const mismatch = await start(`{ certFile: ${pair.certFile}, keyFile: ${wrongKey} }`);
    expect(mismatch.code).toBe(78);
    expect(mismatch.stderr).toContain(`${wrongKey} is not the key of the certificate in ${pair.certFile}`);
  });

  it('says an encrypted key cannot be used', async () => {
    const encrypted = join(dir, 'encrypted.key');
    execFileSync('openssl', [
      'pkey',
      '-in',
      pair.keyFile,
      '-aes256',
      '-passout',
      'pass:x',
      '-out',
      encrypted,
    ]);
    const r = await start(`{ certFile: ${pair.certFile}, keyFile: ${encrypted} }`);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`${encrypted} is encrypted`);
  });
});
