import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, tempDir } from './helpers.js';

const run = promisify(execFile);

/** Every file under `dir` with its size, mode, mtime and content: two equal snapshots = nothing touched. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out[relative(dir, p)] =
          `${s.size} ${s.mode.toString(8)} ${s.mtimeMs} ${readFileSync(p).toString('base64')}`;
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * scripts/install.sh into a staging root (POWERDEAL_ROOT: no user, no systemctl), from a release-like
 * source tree: install, run again (nothing changes), update one file, uninstall (data kept), purge.
 */
describe('scripts/install.sh', () => {
  const tmp = tempDir('pd-install-');
  const src = join(tmp.dir, 'src');
  const root = join(tmp.dir, 'root');
  afterAll(() => tmp.cleanup());

  const install = (...args: string[]) =>
    run('bash', [join(src, 'scripts/install.sh'), '--skip-npm', ...args], {
      env: { ...process.env, POWERDEAL_ROOT: root },
    });

  // The installer asks the built CLI for the unit's address drop-in; this stand-in answers for it.
  const entry = (version: string) =>
    `// ${version}\nif (process.argv.slice(2, 4).join(' ') === 'config addresses') process.stdout.write('[Service]\\nIPAddressAllow=192.0.2.7\\n');\n`;

  it('installs, is idempotent, updates, and uninstalls keeping the data', async () => {
    mkdirSync(join(src, 'scripts'), { recursive: true });
    mkdirSync(join(src, 'dist/cli'), { recursive: true });
    cpSync(join(ROOT, 'scripts/install.sh'), join(src, 'scripts/install.sh'));
    cpSync(join(ROOT, 'systemd'), join(src, 'systemd'), { recursive: true });
    cpSync(join(ROOT, 'hardware'), join(src, 'hardware'), { recursive: true });
    cpSync(join(ROOT, 'src/web/assets'), join(src, 'src/web/assets'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(src, 'package.json'));
    writeFileSync(join(src, 'dist/cli/main.js'), entry('v1'));
    writeFileSync(join(src, 'dist/cli/main.js.map'), '{}');

    const first = await install();
    expect(first.stdout).toMatch(/wrote a starter config/);
    expect(first.stdout).toMatch(/generated the home's Ed25519 key/);
    for (const p of [
      'opt/powerdeal/dist/cli/main.js',
      'opt/powerdeal/hardware/profiles/sdm630.yaml',
      'opt/powerdeal/src/web/assets/index.html',
      'etc/systemd/system/powerdeal.service',
      'etc/systemd/system/powerdeal.service.d/addresses.conf',
      'etc/powerdeal/config.yaml',
      'etc/powerdeal/home.key',
      'usr/local/bin/powerdeal',
    ]) {
      expect(existsSync(join(root, p)), p).toBe(true);
    }
    expect(existsSync(join(root, 'opt/powerdeal/dist/cli/main.js.map'))).toBe(false);
    expect(readFileSync(join(root, 'etc/powerdeal/home.key'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    expect(statSync(join(root, 'etc/powerdeal/home.key')).mode & 0o777).toBe(0o640);
    expect(statSync(join(root, 'usr/local/bin/powerdeal')).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(root, 'etc/systemd/system/powerdeal.service.d/addresses.conf'), 'utf8')).toBe(
      '[Service]\nIPAddressAllow=192.0.2.7\n',
    );
    const config = readFileSync(join(root, 'etc/powerdeal/config.yaml'), 'utf8');
    expect(config).toMatch(/home: \{ id: home-[0-9a-f]{6}, zone: my-zone \}/);

    const before = snapshot(root);
    const second = await install();
    expect(second.stdout).toMatch(/Nothing to do/);
    expect(snapshot(root)).toEqual(before);

    writeFileSync(join(src, 'dist/cli/main.js'), entry('v2'));
    const third = await install();
    expect(third.stdout).toMatch(/installed .*opt\/powerdeal\/dist\/cli\/main\.js/);
    expect(third.stdout).not.toMatch(/config\.yaml|home\.key/);
    expect(readFileSync(join(root, 'etc/powerdeal/config.yaml'), 'utf8')).toBe(config);

    mkdirSync(join(root, 'var/lib/powerdeal'), { recursive: true });
    writeFileSync(join(root, 'var/lib/powerdeal/powerdeal.db'), 'data');
    const removed = await install('--uninstall');
    expect(removed.stdout).toMatch(/kept/);
    expect(existsSync(join(root, 'opt/powerdeal'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/powerdeal.service'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/powerdeal.service.d'))).toBe(false);
    expect(existsSync(join(root, 'etc/powerdeal/home.key'))).toBe(true);
    expect(existsSync(join(root, 'var/lib/powerdeal/powerdeal.db'))).toBe(true);
    expect((await install('--uninstall')).stdout).toMatch(/nothing to remove/);

    await install('--uninstall', '--purge');
    expect(existsSync(join(root, 'etc/powerdeal'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/powerdeal'))).toBe(false);
  });

  it('with --tls makes a self-signed certificate for this host and sets web.tls, once', async () => {
    // The config is edited with the program's yaml package.
    symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
    const etc = join(root, 'etc/powerdeal');
    const first = await install('--tls');
    expect(first.stdout).toMatch(/made the status page's self-signed certificate/);
    expect(first.stdout).toMatch(/set web\.tls/);
    const cert = new X509Certificate(readFileSync(join(etc, 'web.crt')));
    expect(cert.subjectAltName).toContain(`DNS:${hostname()}`);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(etc, 'web.key'))))).toBe(true);
    expect(statSync(join(etc, 'web.key')).mode & 0o777).toBe(0o640);
    const text = readFileSync(join(etc, 'config.yaml'), 'utf8');
    // Its comments stay; the paths are those of the installed system, not of the staging tree.
    expect(text).toMatch(/^# Powerdeal configuration/);
    expect(text).toContain(
      'web:\n  listen: "127.0.0.1:8080"\n  tls: { certFile: /etc/powerdeal/web.crt, keyFile: /etc/powerdeal/web.key }\n',
    );
    expect(parse(text).web).toEqual({
      listen: '127.0.0.1:8080',
      tls: { certFile: '/etc/powerdeal/web.crt', keyFile: '/etc/powerdeal/web.key' },
    });
    const before = snapshot(root);
    expect((await install('--tls')).stdout).toMatch(/Nothing to do/);
    expect(snapshot(root)).toEqual(before);
  });
});
