import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Destination } from '../../src/engine/types.js';
import { createInbox } from '../../src/link/inbox.js';
import { createLogger } from '../../src/log/logger.js';
import { generateHomeKey, keyringText } from '../../src/protocol/keyring.js';
import type { OWN_PUBLISHED_KINDS } from '../../src/protocol/topics.js';
import {
  type BrokerAclOptions,
  homeAccess,
  mosquittoAcl,
  rabbitmqCommands,
  rabbitmqPermissions,
} from '../../src/setup/broker-acl.js';
import type { Store } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';

const run = promisify(execFile);
const ZONE = 'zone-x';
const OPTS: BrokerAclOptions = { zone: ZONE, homes: ['home-c', 'home-a', 'home-b'] };
const T = `powerdeal/v1/${ZONE}`;

// The engine's own destinations are among the kinds the ACL lets a home publish (checked by tsc).
const engineOwnKinds: readonly (typeof OWN_PUBLISHED_KINDS)[number][] = [] as Extract<
  Destination,
  { own: unknown }
>['own'][];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pd-broker-acl-'));
  dirs.push(dir);
  return dir;
}

/** A user section of a mosquitto acl_file: its `topic` lines. */
function mosquittoSection(text: string, user: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`user ${user}`);
  expect(start).toBeGreaterThan(-1);
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('topic '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe('what each home may publish and subscribe to', () => {
  it('its own status, telemetry, offer, requests and trades, and every other member inbox; it reads what its link subscribes to', () => {
    const access = homeAccess(OPTS);
    expect(access.map((a) => a.home)).toEqual(['home-a', 'home-b', 'home-c']);
    const a = access[0]!;
    expect(a).toEqual({
      home: 'home-a',
      user: 'home-a',
      clientId: 'powerdeal-home-a',
      publish: [
        `${T}/home-a/status`,
        `${T}/home-a/telemetry`,
        `${T}/home-a/offer`,
        `${T}/home-a/requests`,
        `${T}/home-a/trades`,
        `${T}/home-b/inbox`,
        `${T}/home-c/inbox`,
      ],
      subscribe: [`${T}/home-a/inbox`, `${T}/+/offer`, `${T}/+/requests`, `${T}/home-a/status`],
    });
    const log = createLogger({ level: 'silent', journald: false });
    for (const h of access) {
      // The link's own filters (its inbox builds them), not a copy of them.
      const inbox = createInbox({ home: { id: h.home, zone: ZONE }, store: {} as Store, log });
      expect(h.subscribe).toEqual(inbox.subscriptions);
      expect(h.publish.some((t) => t === `${T}/${h.home}/inbox`)).toBe(false);
    }
    expect(engineOwnKinds).toEqual([]);
  });

  it('a user prefix changes the usernames, never the topics', () => {
    const [a] = homeAccess({ ...OPTS, userPrefix: 'pd-' });
    expect(a?.user).toBe('pd-home-a');
    expect(a?.publish[0]).toBe(`${T}/home-a/status`);
    expect(mosquittoAcl({ ...OPTS, userPrefix: 'pd-' })).toMatch(/^user pd-home-b$/m);
    for (const bad of ['a b', 'zone:', 'x#']) {
      expect(() => homeAccess({ ...OPTS, userPrefix: bad })).toThrow(RangeError);
    }
  });
});

describe('mosquitto acl_file', () => {
  const text = mosquittoAcl({ ...OPTS, source: '/etc/powerdeal/keyring.yaml' });

  it('one user section per home, explicit topic lines only', () => {
    expect(text).toMatch(/^# Powerdeal broker access rules for zone zone-x \(3 homes, from keyring \/etc/);
    expect(mosquittoSection(text, 'home-b')).toEqual([
      `topic write ${T}/home-b/status`,
      `topic write ${T}/home-b/telemetry`,
      `topic write ${T}/home-b/offer`,
      `topic write ${T}/home-b/requests`,
      `topic write ${T}/home-b/trades`,
      `topic write ${T}/home-a/inbox`,
      `topic write ${T}/home-c/inbox`,
      `topic read ${T}/home-b/inbox`,
      `topic read ${T}/+/offer`,
      `topic read ${T}/+/requests`,
      `topic read ${T}/home-b/status`,
    ]);
    const rules = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    // Nothing before the first user line: those rules would apply to anonymous clients.
    expect(rules[0]).toBe('user home-a');
    expect(rules.filter((l) => l.startsWith('user '))).toHaveLength(3);
    expect(rules.every((l) => /^(user|topic (read|write)) /.test(l))).toBe(true);
  });

  it('a zone of one home: no neighbour inbox', () => {
    expect(mosquittoSection(mosquittoAcl({ zone: ZONE, homes: ['solo'] }), 'solo')).toHaveLength(9);
  });
});

describe('rabbitmq commands', () => {
  const [a] = homeAccess(OPTS);
  const p = rabbitmqPermissions(a!, OPTS);

  it('topic permissions: routing keys of its publishes, binding keys of its subscriptions', () => {
    const write = new RegExp(p.topicWrite);
    const read = new RegExp(p.topicRead);
    const key = (rest: string) => `powerdeal.v1.${ZONE}.${rest}`;
    for (const ok of ['home-a.status', 'home-a.telemetry', 'home-a.offer', 'home-a.trades', 'home-b.inbox']) {
      expect(write.test(key(ok))).toBe(true);
    }
    for (const no of ['home-b.offer', 'home-a.inbox', 'home-a.offer.x', 'home-b.status', 'home-d.inbox']) {
      expect(write.test(key(no))).toBe(false);
    }
    expect(write.test('powerdeal.v1.zone-y.home-a.offer')).toBe(false);
    // The plugin turns the filter's '+' into '*' in the binding key.
    expect(read.test(key('*.offer'))).toBe(true);
    expect(read.test(key('*.requests'))).toBe(true);
    expect(read.test(key('home-a.status'))).toBe(true);
    expect(read.test(key('home-a.inbox'))).toBe(true);
    for (const no of ['home-b.inbox', '*.inbox', '#', 'home-b.offer', '*.telemetry']) {
      expect(read.test(key(no))).toBe(false);
    }
    expect(read.test('powerdeal.#')).toBe(false);
  });

  it("queue permissions: its own subscription queues and the exchange, nobody else's", () => {
    const configure = new RegExp(p.configure);
    expect(configure.test('mqtt-subscription-powerdeal-home-aqos1')).toBe(true);
    expect(configure.test('mqtt-subscription-powerdeal-home-aqos0')).toBe(true);
    for (const no of [
      'mqtt-subscription-powerdeal-home-bqos1',
      'mqtt-subscription-powerdeal-home-a2qos1',
      'amq.topic',
    ]) {
      expect(configure.test(no)).toBe(false);
    }
    expect(new RegExp(p.write).test('amq.topic')).toBe(true);
    expect(new RegExp(p.read).test('amqXtopic')).toBe(false);
    const other = rabbitmqPermissions(a!, { ...OPTS, exchange: 'pd.x' });
    expect(new RegExp(other.write).test('pd.x')).toBe(true);
    expect(new RegExp(other.write).test('amq.topic')).toBe(false);
  });

  it('the script runs under sh: passwords from files, existing users kept, arguments exactly the regexes', async () => {
    const dir = tempDir();
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    writeFileSync(join(dir, 'users'), 'guest\t[administrator]\nhome-b\t[]\n');
    // A stand-in rabbitmqctl: records each call's arguments, knows the users above.
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'rabbitmqctl'),
      `#!/bin/sh\nprintf '%s\\n' "$#" "$@" >> ${calls}\n` +
        `if [ "$1 $2" = "--silent list_users" ]; then cat ${join(dir, 'users')}; fi\n`,
    );
    chmodSync(join(bin, 'rabbitmqctl'), 0o755);
    const pw = join(dir, 'pw');
    mkdirSync(pw);
    writeFileSync(join(pw, 'home-a.password'), "it's a $ecret\n");
    writeFileSync(join(pw, 'home-c.password'), 'pw-c');
    const script = join(dir, 'acl.sh');
    writeFileSync(script, rabbitmqCommands({ ...OPTS, vhost: "pd's" }));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, PASSWORD_DIR: pw };
    await run('sh', [script], { env });

    const parsed: string[][] = [];
    const words = readFileSync(calls, 'utf8').split('\n');
    for (let i = 0; i < words.length - 1; ) {
      const n = Number(words[i]);
      parsed.push(words.slice(i + 1, i + 1 + n));
      i += n + 1;
    }
    const adds = parsed.filter((c) => c[0] === 'add_user');
    expect(adds).toEqual([
      ['add_user', 'home-a', "it's a $ecret"],
      ['add_user', 'home-c', 'pw-c'],
    ]);
    expect(parsed).toContainEqual(['set_permissions', '-p', "pd's", 'home-a', p.configure, p.write, p.read]);
    expect(parsed).toContainEqual([
      'set_topic_permissions',
      '-p',
      "pd's",
      'home-a',
      'amq.topic',
      p.topicWrite,
      p.topicRead,
    ]);
    expect(parsed.filter((c) => c[0] === 'set_topic_permissions').map((c) => c[3])).toEqual([
      'home-a',
      'home-b',
      'home-c',
    ]);

    // A missing or empty password file stops the script before a user without a password is made.
    writeFileSync(calls, '');
    writeFileSync(join(pw, 'home-a.password'), '\n');
    const empty = await run('sh', [script], { env }).catch((err: { code: number; stderr: string }) => err);
    expect(empty).toMatchObject({ code: 1, stderr: expect.stringContaining('home-a.password is empty') });
    expect(readFileSync(calls, 'utf8')).not.toMatch(/add_user/);
    rmSync(join(pw, 'home-a.password'));
    const missing = await run('sh', [script], { env }).catch((err: { code: number }) => err);
    expect((missing as { code: number }).code).not.toBe(0);
    expect(readFileSync(calls, 'utf8')).not.toMatch(/add_user/);
  });
});

describe('powerdeal broker acl', () => {
  const dir = tempDir();
  const keyring = join(dir, 'keyring.yaml');
  writeFileSync(
    keyring,
    keyringText({ zone: ZONE, members: new Map(OPTS.homes.map((h) => [h, generateHomeKey()])) }),
  );

  it('prints the acl_file (default) or the rabbitmqctl script for the keyring it is given', async () => {
    const mosq = await runCli(['broker', 'acl', '--keyring', keyring]);
    expect(mosq).toMatchObject({ code: 0, stderr: '' });
    expect(mosq.stdout).toBe(mosquittoAcl({ ...OPTS, source: keyring }));
    const rmq = await runCli([
      'broker',
      'acl',
      '--keyring',
      keyring,
      '--format',
      'rabbitmq',
      '--vhost',
      'pd',
      '--user-prefix',
      'h.',
    ]);
    expect(rmq.code).toBe(0);
    expect(rmq.stdout).toBe(rabbitmqCommands({ ...OPTS, source: keyring, vhost: 'pd', userPrefix: 'h.' }));
  });

  it("takes the config's keys.keyringFile without --keyring, and says what it allows with --json", async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `home: { id: home-a, zone: ${ZONE} }\nkeys: { keyringFile: ${keyring} }\n`);
    const r = await runCli(['broker', 'acl', '--config', config, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { keyring: string; zone: string; homes: unknown[] };
    expect(out).toEqual({ keyring, zone: ZONE, format: 'mosquitto', homes: homeAccess(OPTS) });
  });

  it('refuses what it cannot do', async () => {
    expect((await runCli(['broker', 'acl', '--keyring', keyring, '--vhost', 'pd'])).code).toBe(2);
    expect((await runCli(['broker', 'acl', '--keyring', keyring, '--format', 'acl'])).code).toBe(2);
    expect((await runCli(['broker', 'acl', '--keyring', keyring, '--user-prefix', 'a:'])).code).toBe(2);
    const missing = await runCli(['broker', 'acl', '--keyring', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/keyring .*nope\.yaml: missing/);
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, `zone: ${ZONE}\nmembers:\n`);
    expect(await runCli(['broker', 'acl', '--keyring', empty])).toMatchObject({ code: 1 });
  });
});
