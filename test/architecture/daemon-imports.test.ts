import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The service runs for years on a Pi with little memory: `powerdeal run` loads only what the service
 * needs. A loader hook records every module the process loads; the demo, its embedded broker, the
 * simulator, the neighbourhood simulation, the technician's verbs and Home Assistant discovery (without
 * its broker configured) must not be among them.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe('what `powerdeal run` loads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-daemon-imports-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves out the demo, the simulators and the other verbs', async () => {
    const out = join(dir, 'loaded.txt');
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(${JSON.stringify(out)}, url + '\\n'); return next(url, context); }`,
    );
    const register = join(dir, 'register.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`,
    );
    // A config that does not exist: the verb's whole static graph is loaded before its action refuses.
    const failed = await run(
      process.execPath,
      ['--import', register, '--import', 'tsx', 'src/cli/main.ts', 'run', '--config', join(dir, 'none.yaml')],
      { cwd: ROOT, env: { ...process.env, NOTIFY_SOCKET: '' } },
    ).catch((err: { code?: number }) => err);
    expect((failed as { code?: number }).code).toBe(78);
    const loaded = readFileSync(out, 'utf8')
      .split('\n')
      .filter((u) => u.startsWith('file:'));
    const ours = loaded.filter((u) => u.includes('/src/')).map((u) => u.slice(u.indexOf('/src/') + 1));
    // The service's own modules are there (the check would pass on an empty list otherwise).
    expect(ours).toContain('src/service/service.ts');
    expect(ours).toContain('src/link/link.ts');
    // Home Assistant discovery is loaded only where a config names its broker.
    expect(ours).toContain('src/homeassistant/extension.ts');
    const unwanted = ours.filter((f) =>
      /^src\/(sim|neighbourhood)\/|^src\/cli\/commands\/(?!run\.ts|index\.ts)|^src\/service\/embedded-broker|^src\/homeassistant\/(?!extension\.ts)/.test(
        f,
      ),
    );
    expect(unwanted).toEqual([]);
    expect(loaded.filter((u) => /node_modules\/(aedes|playwright|vitest)/.test(u))).toEqual([]);
  }, 60_000);
});
