import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const run = promisify(execFile);
const UNIT = join(ROOT, 'systemd/powerdeal.service');

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

describe('systemd/powerdeal.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const d = directives(text);
  const one = (k: string) => d.get(k)?.at(-1);

  it('passes systemd-analyze verify', async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', UNIT]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  it('scores 1.2 or less in systemd-analyze security', async () => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', UNIT]);
    const score = Number(/Overall exposure level for powerdeal\.service: ([\d.]+)/.exec(stdout)?.[1]);
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(1.2);
  });

  it('is a supervised notify service that restarts on failure and watchdog, with a start limit', () => {
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('main');
    expect(Number(one('WatchdogSec'))).toBeGreaterThan(0);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('78');
    expect(Number(one('StartLimitBurst'))).toBeGreaterThan(0);
    expect(Number(one('StartLimitIntervalSec'))).toBeGreaterThan(0);
    // The service's own stop deadline (20 s) plus its hard-exit grace (5 s) fit in TimeoutStopSec.
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThanOrEqual(30);
  });

  it('runs as its own user with the hardware groups, its directories and a memory ceiling', () => {
    expect(one('User')).toBe('powerdeal');
    expect(one('SupplementaryGroups')?.split(/\s+/).sort()).toEqual(['dialout', 'gpio', 'i2c']);
    expect(one('StateDirectory')).toBe('powerdeal');
    expect(one('ConfigurationDirectory')).toBe('powerdeal');
    expect(one('RuntimeDirectory')).toBe('powerdeal');
    expect(one('MemoryMax')).toMatch(/^\d+M$/);
    const heap = Number(/--max-old-space-size=(\d+)/.exec(one('ExecStart') ?? '')?.[1]);
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(Number.parseInt(one('MemoryMax') ?? '0', 10));
  });

  it('is hardened yet reaches serial, I2C and GPIO', () => {
    for (const [k, v] of [
      ['PrivateUsers', 'yes'],
      ['PrivateMounts', 'yes'],
      ['IPAddressDeny', 'any'],
      ['IPAddressAllow', 'localhost link-local'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['DevicePolicy', 'closed'],
    ]) {
      expect(one(k as string), k).toBe(v);
    }
    expect(one('RestrictAddressFamilies')?.split(/\s+/)).not.toContain('AF_PACKET');
    // os.networkInterfaces() fails without netlink, and the page's Host check reads it.
    expect(one('RestrictAddressFamilies')?.split(/\s+/)).toContain('AF_NETLINK');
    const allowed = (d.get('DeviceAllow') ?? []).map((v) => v.split(/\s+/)[0]);
    for (const dev of ['char-ttyUSB', 'char-ttyAMA', 'char-i2c', 'char-gpiochip'])
      expect(allowed).toContain(dev);
    expect(one('ReadWritePaths')).toContain('/sys/class/gpio');
    expect(one('PrivateDevices')).not.toBe('yes');
  });
});
