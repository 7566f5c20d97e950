import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHome, scannedUnits, type TestHome } from './home.js';
import { seedStore } from './seed.js';

/**
 * Every verb with the service running (a real `powerdeal run` child process on two Modbus simulators,
 * the broker down): hardware verbs and store verbs go through its control socket.
 */

const VIA_SERVICE = /through the running service/;

describe('verbs with the service running', () => {
  let home: TestHome;
  let seeded: ReturnType<typeof seedStore>;

  beforeAll(async () => {
    home = await createHome();
    seeded = seedStore(home.dbPath);
    await home.startService();
  });
  afterAll(async () => {
    await home?.dispose();
  });

  it('status: healthy devices, the broker named as the problem, exit 1', async () => {
    const r = await home.cli('status', '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      running: boolean;
      status: { devices: { id: string; state: string }[]; modules: { name: string; state: string }[] };
      problems: string[];
    };
    expect(out.running).toBe(true);
    expect(out.status.devices.map((d) => [d.id, d.state])).toEqual([
      ['inverter', 'ok'],
      ['grid-meter', 'ok'],
      ['dc-shunt', 'ok'],
      ['water-heater', 'ok'],
    ]);
    expect(out.status.modules.find((m) => m.name === 'control')?.state).toBe('running');
    expect(out.problems).toHaveLength(1);
    expect(out.problems[0]).toMatch(/^broker not connected: .*ECONNREFUSED/);
    const human = await home.cli('status');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^home-42 in lyon-7/);
    expect(human.stdout).toMatch(/grid-meter\s+sdm630\s+ok/);
    expect(human.stdout).toMatch(/problem broker not connected/);
  });

  it('modbus read goes through the service and decodes the meter voltage', async () => {
    const args = [...home.meterTcp, '--unit', '2', '--input', '--address', '0'];
    const r = await home.cli('modbus', 'read', ...args, '--count', '2', '--format', 'f32', '--json');
    expect(r.code).toBe(0);
    const v = (JSON.parse(r.stdout) as { values: { address: number; value: number }[] }).values;
    expect(v).toHaveLength(1);
    expect(v[0]?.value).toBeGreaterThan(200);
    expect(v[0]?.value).toBeLessThan(260);
    const human = await home.cli('modbus', 'read', ...args, '--count', '2', '--format', 'f32');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ADDRESS\s+HEX\s+REGISTERS\s+VALUE\n0\s+0x0000\s+0x43\w\w 0x\w{4}\s+2\d\d/);
    expect(human.stderr).toMatch(VIA_SERVICE);
  });

  it('modbus scan and sunspec go through the service', async () => {
    const scan = await home.cli('modbus', 'scan', ...home.inverterTcp, '--to', '4', '--json');
    expect(scan.code).toBe(0);
    expect(scannedUnits(scan)).toEqual([1, 2]);
    const dump = await home.cli('sunspec', ...home.inverterTcp, '--unit', '1', '--json');
    expect(dump.code).toBe(0);
    const out = JSON.parse(dump.stdout) as { base: number; models: { id: number }[] };
    expect(out.base).toBe(40000);
    expect(out.models.map((m) => m.id)).toEqual(expect.arrayContaining([1, 103, 123]));
    const human = await home.cli('sunspec', ...home.inverterTcp, '--unit', '1');
    expect(human.stdout).toMatch(/model 103/);
    expect(human.stderr).toMatch(VIA_SERVICE);
  });

  it('a Modbus failure through the service is exit 1 with the reason', async () => {
    const r = await home.cli(
      'modbus',
      'read',
      ...home.inverterTcp,
      '--unit',
      '9',
      '--address',
      '0',
      '--timeout',
      '200',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^powerdeal: unit 9 .*(failed to respond|timed out)/);
  });

  it('i2c scan uses the service’s bus (this machine has no /dev/i2c-1 of its own)', async () => {
    const r = await home.cli('i2c', 'scan', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      bus: 1,
      simulated: true,
      devices: [{ address: 0x40, hex: '0x40', candidates: ['ina219'] }],
    });
  });

  it('gpio get/set switch the configured relay through its driver', async () => {
    const before = await home.cli('gpio', 'get', '17', '--json');
    expect(before.code).toBe(0);
    // Active-low relay at its safe state (off): the line is high.
    expect(JSON.parse(before.stdout)).toMatchObject({
      line: 17,
      direction: 'out',
      level: 'high',
      relay: 'water-heater',
    });
    const set = await home.cli('gpio', 'set', '17', 'on', '--yes');
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('GPIO 17: on (low, active-low, relay water-heater) [simulated]\n');
    const after = await home.cli('gpio', 'get', '17');
    expect(after.stdout).toBe('GPIO 17: low (output, relay water-heater) [simulated]\n');
    const off = await home.cli('gpio', 'set', '17', 'off', '--yes', '--json');
    expect(JSON.parse(off.stdout)).toMatchObject({ on: false, level: 'high', relay: 'water-heater' });
    // No terminal and no --yes: refused before anything is asked of the service.
    const refused = await home.cli('gpio', 'set', '17', 'on');
    expect(refused.code).toBe(2);
  });

  it('outbox ls/stats through the service', async () => {
    const ls = await home.cli('outbox', 'ls', '--json');
    expect(ls.code).toBe(0);
    const rows = JSON.parse(ls.stdout) as { via: string; rows: { class: string; id: string }[] };
    expect(rows.via).toBe('service');
    expect(rows.rows[0]).toMatchObject({ class: 'trade', id: seeded.tradeId });
    expect(rows.rows.filter((r) => r.class === 'telemetry').length).toBeGreaterThanOrEqual(3);
    const stats = await home.cli('outbox', 'stats', '--json');
    expect((JSON.parse(stats.stdout) as { depth: Record<string, number> }).depth.trade).toBe(1);
    const human = await home.cli('outbox', 'ls', '--class', 'trade');
    expect(human.stdout).toMatch(/^ROW\s+CLASS\s+AGE\s+TRIES\s+BYTES\s+TOPIC/);
    expect(human.stdout).toMatch(/trade\s.*powerdeal\/v1\/lyon-7\/home-42\/trades/);
  });

  it('outbox retry, then purge: --yes required, never-shed rows only with --force', async () => {
    const retry = await home.cli('outbox', 'retry', '--json');
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ via: 'service', link: 'disconnected' });
    expect((await home.cli('outbox', 'purge')).code).toBe(2);
    const trade = await home.cli('outbox', 'purge', '--class', 'trade', '--yes');
    expect(trade.code).toBe(2);
    expect(trade.stderr).toMatch(/promises to neighbours.*--force/);
    const all = await home.cli('outbox', 'purge', '--yes', '--json');
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { purged: number }).purged).toBeGreaterThanOrEqual(3);
    const left = JSON.parse((await home.cli('outbox', 'ls', '--json')).stdout) as {
      rows: { class: string }[];
    };
    expect(left.rows.some((r) => r.class === 'trade')).toBe(true);
    const forced = await home.cli('outbox', 'purge', '--class', 'trade', '--force', '--yes', '--json');
    expect(JSON.parse(forced.stdout)).toMatchObject({ purged: 1 });
  });

  it('dlq ls/retry/purge through the service', async () => {
    const ls = JSON.parse((await home.cli('dlq', 'ls', '--json')).stdout) as {
      rows: { id: number; direction: string; retryable: boolean }[];
    };
    expect(ls.rows.map((d) => [d.id, d.direction, d.retryable])).toEqual([
      [seeded.inDead, 'in', false],
      [seeded.outDead, 'out', true],
    ]);
    const inbound = await home.cli('dlq', 'retry', String(seeded.inDead));
    expect(inbound.code).toBe(1);
    expect(inbound.stdout).toMatch(/refused \d+: inbound/);
    const retry = await home.cli('dlq', 'retry', String(seeded.outDead), '--json');
    expect(retry.code).toBe(0);
    expect((JSON.parse(retry.stdout) as { requeued: { id: number }[] }).requeued.map((r) => r.id)).toEqual([
      seeded.outDead,
    ]);
    const outbox = JSON.parse((await home.cli('outbox', 'ls', '--class', 'settlement', '--json')).stdout) as {
      rows: { id: string }[];
    };
    expect(outbox.rows.map((r) => r.id)).toEqual(['0190a1b2-0000-7000-8000-0000000000d1']);
    expect((await home.cli('dlq', 'purge')).code).toBe(2);
    const purge = await home.cli('dlq', 'purge', '--yes', '--json');
    expect(JSON.parse(purge.stdout)).toMatchObject({ via: 'service', purged: 1 });
  });

  it('trades: none yet', async () => {
    const r = await home.cli('trades');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no trades yet\n');
    expect(JSON.parse((await home.cli('trades', '--json')).stdout)).toEqual({ via: 'service', trades: [] });
  });

  it('backup is taken online by the service; restore refuses while it runs', async () => {
    const to = join(home.dir, 'copy.db');
    const r = await home.cli('backup', '--to', to, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ via: 'service', path: to });
    const copy = new Database(to, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(copy.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'outbox'").get()).toEqual({
      n: 1,
    });
    copy.close();
    expect(existsSync(`${to}-wal`)).toBe(false);
    const restore = await home.cli('restore', to);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/the service is running: stop it first/);
  });

  it('readings and devices answer from the service', async () => {
    const d = await home.cli('devices', '--json');
    expect(d.code).toBe(0);
    expect((JSON.parse(d.stdout) as { source: string }).source).toBe('service');
    const r = await home.cli('readings', '--json');
    expect(r.code).toBe(0);
  });
});
