import { execSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectAsync as mqttConnect } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../src/protocol/envelope.js';
import { statusEnvelope } from '../../src/protocol/messages.js';
import { homeTopic } from '../../src/protocol/topics.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { startMqtt311Proxy } from '../helpers/mqtt311-proxy.js';
import { freePort, waitFor } from '../helpers/ports.js';
import {
  awaitDelivered,
  awaitOnline,
  countingReport,
  HOME,
  linkParts,
  mqttConfig,
  produce,
  retainedStatus,
} from './helpers.js';

describe('link against a real mosquitto', () => {
  const parts = linkParts();
  afterEach(parts.dispose);

  it('announces itself, drains the outbox in order, and leaves a retained offline status on stop', async () => {
    const broker = await startMosquitto();
    const ts = parts.store();
    const receiver = await parts.receiver(broker.url, 'basic');
    const produced = produce(ts.store, 'trade', 200);
    const link = parts.link(ts, mqttConfig([broker.url]), { version: '9.9.9' });
    const report = await awaitDelivered('basic', produced, [receiver]);
    await waitFor(() => ts.store.outbox.stats(Date.now()).rows === 0, 5000, 'outbox empty');
    expect(report.missing).toBe(0);
    expect(report.misordered).toBe(0);
    const st = link.status();
    expect(st.connected).toBe(true);
    expect(st.protocolVersion).toBe(5);
    expect(st.published).toBe(200);
    expect(st.inFlightCap).toBe(20); // mosquitto's default Receive Maximum is below maxInFlight (32)
    expect(await retainedStatus(broker.url)).toEqual({ state: 'online', version: '9.9.9' });

    await link.stop(2000);
    expect(link.status().state).toBe('stopped');
    expect(await retainedStatus(broker.url)).toEqual({ state: 'offline', version: '9.9.9' });
  });
});

describe('link: broker refusals, MQTT 3.1.1 brokers, TLS and passwords', () => {
  const parts = linkParts();
  let aedesClose: (() => Promise<void>) | null = null;

  afterEach(async () => {
    await parts.dispose();
    await aedesClose?.();
    aedesClose = null;
  });

  it('dead-letters a row the broker refuses for good (0x87 not authorized) and delivers the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-acl-'));
    const acl = join(dir, 'acl');
    // Anonymous clients may publish anything but telemetry.
    writeFileSync(
      acl,
      ['status', 'trades', 'offer', 'inbox'].map((k) => `topic readwrite powerdeal/v1/+/+/${k}`).join('\n') +
        '\ntopic read powerdeal/v1/+/+/telemetry\n',
    );
    chmodSync(dir, 0o755);
    const broker = await startMosquitto({ conf: [`acl_file ${acl}`] });
    const receiver = await parts.receiver(broker.url, 'acl');
    const ts = parts.store();
    const trades = produce(ts.store, 'trade', 20);
    const telemetry = produce(ts.store, 'telemetry', 3);
    const link = parts.link(ts, mqttConfig([broker.url]));
    await waitFor(() => ts.store.outbox.stats(Date.now()).rows === 0, 10_000, 'outbox empty');
    await awaitDelivered('acl', trades, [receiver], 5000);
    const dead = ts.store.deadLetters.list({ direction: 'out' });
    expect(dead.map((d) => d.messageId).sort()).toEqual(telemetry.map((p) => p.id).sort());
    expect(new Set(dead.map((d) => d.reason))).toEqual(new Set(['0x87 not authorized']));
    expect(link.status().deadLettered).toBe(3);
    expect(ts.store.outbox.stats(Date.now()).deadLetters).toBe(3);
    expect(link.status().breaker).toBe('closed');
    rmSync(dir, { recursive: true, force: true });
  });

  it('falls back to MQTT 3.1.1 when the broker refuses MQTT 5', async () => {
    const port = await freePort();
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    aedesClose = async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    };
    const url = `mqtt://127.0.0.1:${port}`;
    const receiver = await parts.receiver(url, 'v311', { protocolVersion: 4 });
    const ts = parts.store();
    const produced = produce(ts.store, 'trade', 50);
    const link = parts.link(ts, mqttConfig([url]));
    await awaitDelivered('MQTT 3.1.1', produced, [receiver], 10_000);
    expect(link.status().protocolVersion).toBe(4);
    expect(link.status().inFlightCap).toBe(32);
    expect(countingReport(produced, [receiver]).misordered).toBe(0);
  });

  it('falls back to MQTT 3.1.1 at once when the broker closes an MQTT 5 CONNECT without a CONNACK', async () => {
    const broker = await startMosquitto();
    const proxy = await startMqtt311Proxy(broker.port);
    aedesClose = () => proxy.close();
    const receiver = await parts.receiver(broker.url, 'closes-v5', { protocolVersion: 4 });
    const ts = parts.store();
    const produced = produce(ts.store, 'trade', 50);
    const link = parts.link(ts, mqttConfig([proxy.url], { reconnectBaseMs: 30_000, reconnectMaxMs: 60_000 }));
    // A reconnect backoff of 30 s: delivery within 10 s proves the fallback needs no second attempt.
    await awaitDelivered('closed before CONNACK', produced, [receiver], 10_000);
    expect(link.status().protocolVersion).toBe(4);
    expect(link.status().reconnects).toBe(0);
    expect(proxy.refusedV5).toBe(1);
    expect(countingReport(produced, [receiver]).missing).toBe(0);
  });

  it('announces online again when a stale will overwrites it on a 3.1.1 broker', async () => {
    const broker = await startMosquitto();
    const proxy = await startMqtt311Proxy(broker.port);
    aedesClose = () => proxy.close();
    const ts = parts.store();
    const link = parts.link(ts, mqttConfig([proxy.url]), { version: '9.9.9' });
    await awaitOnline(broker.url);
    expect(link.status().protocolVersion).toBe(4);
    // The will of an earlier connection (seq 0, older than this connection's online) published late.
    const stale = encodeEnvelope(statusEnvelope(HOME, 'offline', '9.9.9', 0, Date.now()));
    const other = await mqttConnect(broker.url, { clientId: 'late-will', protocolVersion: 4 });
    await other.publishAsync(homeTopic(HOME.zone, HOME.id, 'status'), stale, { qos: 1, retain: true });
    await other.endAsync();
    await waitFor(
      async () => (await retainedStatus(broker.url, HOME, 500))?.state === 'online',
      5000,
      'online again',
    );
    expect(link.status().state).toBe('connected');
  });

  it('connects over TLS with a CA file and a password file, and is refused with a wrong password', async () => {
    const tlsPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'pd-tls-'));
    chmodSync(dir, 0o755);
    const sh = (cmd: string) => execSync(cmd, { cwd: dir, stdio: 'pipe' });
    sh('openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt');
    sh('openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    sh(
      'openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt',
    );
    sh('mosquitto_passwd -b -c passwd home-1 s3cret');
    sh('chmod 644 ca.crt server.crt server.key passwd');
    writeFileSync(join(dir, 'mqtt.pass'), 's3cret\n');
    writeFileSync(join(dir, 'wrong.pass'), 'nope\n');
    const broker = await startMosquitto({
      conf: [
        `password_file ${dir}/passwd`,
        'allow_anonymous false',
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${dir}/ca.crt`,
        `certfile ${dir}/server.crt`,
        `keyfile ${dir}/server.key`,
      ],
    });
    const receiver = await parts.receiver(broker.url, 'tls', { username: 'home-1', password: 's3cret' });
    const ts = parts.store();
    const produced = produce(ts.store, 'trade', 20);
    const tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
    const base = { username: 'home-1', caFile: `${dir}/ca.crt`, reconnectBaseMs: 200, reconnectMaxMs: 1000 };

    const refused = parts.link(ts, mqttConfig([tlsUrl], { ...base, passwordFile: `${dir}/wrong.pass` }), {
      drainStartJitterMs: undefined,
    });
    await waitFor(
      () => /Bad User Name or Password|Not authorized/.test(refused.status().lastError ?? ''),
      5000,
      'refused',
    );
    expect(refused.status().connected).toBe(false);
    await refused.stop(500);

    const link = parts.link(ts, mqttConfig([tlsUrl], { ...base, passwordFile: `${dir}/mqtt.pass` }));
    await awaitDelivered('TLS', produced, [receiver], 10_000);
    expect(link.status().broker).toBe(tlsUrl);
    rmSync(dir, { recursive: true, force: true });
  });
});
