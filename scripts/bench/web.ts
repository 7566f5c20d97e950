/**
 * Status page benchmark against a real daemon (`powerdeal run` as a child process) on the Modbus
 * simulator, with an embedded broker:
 * - bytes transferred on the first load of the page in headless Chromium (fresh profile, so nothing is
 *   cached), and what they decode to;
 * - time to first meaningful render: from navigation start until the live PV value is on screen;
 * - daemon CPU (from /proc, user + system) with no page open, then with five live-event clients, in
 *   the same run, so the figure that matters is the difference.
 * Run alone: node --import tsx scripts/bench/web.ts  (BENCH_WEB_WINDOW_S sets each CPU window, default 15)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { startEmbeddedBroker } from '../../src/service/embedded-broker.js';
import { startSimulator } from '../../src/sim/index.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../../test/web/browser.js';
import { freePort, round, sleep } from './util.js';

const CLIENTS = 5;
const CLK_TCK = 100;

/** user + system CPU seconds of a process, and its resident memory in MiB. */
function procUsage(pid: number): { cpuS: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuS: (utime + stime) / CLK_TCK, rssMiB: (rssPages * 4096) / 1024 / 1024 };
}

async function cpuOver(pid: number, seconds: number): Promise<{ cpuPct: number; rssMiB: number }> {
  const a = procUsage(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const b = procUsage(pid);
  const wall = (performance.now() - t0) / 1000;
  return { cpuPct: round(((b.cpuS - a.cpuS) / wall) * 100), rssMiB: round(b.rssMiB, 1) };
}

async function waitReady(base: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error('daemon not ready');
}

/** A live-event client that reads and discards the stream, counting bytes. */
async function sseClient(url: string): Promise<{ bytes: () => number; close: () => void }> {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`events: HTTP ${res.status}`);
  let bytes = 0;
  const reader = res.body.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        bytes += value.length;
      }
    } catch {
      // closed
    }
  })();
  return { bytes: () => bytes, close: () => abort.abort() };
}

export async function benchWeb(): Promise<Record<string, unknown>> {
  const windowS = Number(process.env.BENCH_WEB_WINDOW_S ?? 15);
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-web-'));
  const sim = await startSimulator({ tcp: { port: 0 }, seed: 3 });
  sim.pin({ pvPowerW: 3000, loadPowerW: 700 });
  const broker = await startEmbeddedBroker();
  const webPort = await freePort();
  const base = `http://127.0.0.1:${webPort}`;
  const config = join(dir, 'config.yaml');
  const modbus = `127.0.0.1:${sim.tcpPort}`;
  writeFileSync(
    config,
    [
      'home: { id: home-bench, zone: bench }',
      'cycleMs: 1000',
      'devices:',
      `  - { id: inverter, profile: sunspec-inverter, modbus: { tcp: "${modbus}", unitId: 1, timeoutMs: 500 } }`,
      `  - { id: grid-meter, profile: sdm630, modbus: { tcp: "${modbus}", unitId: 2, timeoutMs: 500 } }`,
      '  - { id: dc-shunt, profile: ina219, i2c: { bus: 1, address: 0x40, shuntOhms: 0.1 } }',
      '  - { id: water-heater, profile: relay, gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } }',
      `mqtt: { brokers: ["${broker.url}"] }`,
      `store: { path: "${join(dir, 'powerdeal.db')}" }`,
      `web: { listen: "127.0.0.1:${webPort}", tokenFile: "${join(dir, 'web.token')}" }`,
      `control: { socket: "${join(dir, 'control.sock')}" }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  let daemon: ChildProcess | undefined;
  const clients: { bytes: () => number; close: () => void }[] = [];
  const profile = mkdtempSync(join(tmpdir(), 'pd-bench-chromium-'));
  try {
    daemon = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', config], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, POWERDEAL_LOG_LEVEL: 'warn' },
    });
    const pid = daemon.pid as number;
    await waitReady(base, 60_000);
    await sleep(3000); // past start-up compilation and the first cycles

    // First load in a browser with an empty cache.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    let firstLoad: Record<string, unknown>;
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      let encoded = 0;
      const requests = new Map<string, string>();
      cdp.on('Network.requestWillBeSent', (e) => requests.set(e.requestId, e.request.url));
      cdp.on('Network.loadingFinished', (e) => {
        encoded += e.encodedDataLength;
      });
      let decoded = 0;
      cdp.on('Network.dataReceived', (e) => {
        if (!requests.get(e.requestId)?.endsWith('/api/events')) decoded += e.dataLength;
      });
      await page.goto(base, { waitUntil: 'load' });
      // Page-side code as strings: it runs in the browser, not under this file's Node types.
      await page.waitForFunction(
        `(() => {
          const v = document.getElementById('pv-value')?.textContent ?? '–';
          if (v === '–') return false;
          window.renderedAt ??= performance.now();
          return true;
        })()`,
        undefined,
        { polling: 'raf', timeout: 30_000 },
      );
      await page.waitForLoadState('networkidle').catch(() => undefined);
      const timing = (await page.evaluate(`(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return { renderedAt: window.renderedAt, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
      })()`)) as { renderedAt: number; domContentLoaded: number; load: number };
      firstLoad = {
        // The event stream is still open and not counted: only what the load itself moved.
        bytesTransferred: encoded,
        bytesDecoded: decoded,
        requests: [...requests.values()].filter((u) => !u.endsWith('/api/events')).length,
        msToFirstMeaningfulRender: round(timing.renderedAt, 0),
        msDomContentLoaded: round(timing.domContentLoaded, 0),
        msLoad: round(timing.load, 0),
      };
    } finally {
      await context.close();
    }

    // Idle and five-client windows alternate, so drift (other work on the machine) hits both alike.
    const idle: { cpuPct: number; rssMiB: number }[] = [];
    const live: { cpuPct: number; rssMiB: number }[] = [];
    let streamed = 0;
    for (let round = 0; round < 2; round++) {
      idle.push(await cpuOver(pid, windowS));
      for (let i = 0; i < CLIENTS; i++) clients.push(await sseClient(`${base}/api/events`));
      await sleep(1000);
      const before = clients.reduce((a, c) => a + c.bytes(), 0);
      live.push(await cpuOver(pid, windowS));
      streamed += clients.reduce((a, c) => a + c.bytes(), 0) - before;
      for (const c of clients.splice(0)) c.close();
      await sleep(1000);
    }
    const mean = (xs: { cpuPct: number }[]) => round(xs.reduce((a, x) => a + x.cpuPct, 0) / xs.length);
    return {
      firstLoad,
      daemon: {
        windowS,
        windows: 2,
        cycleMs: 1000,
        idleCpuPct: mean(idle),
        fiveClientsCpuPct: mean(live),
        extraCpuPctForFiveClients: round(mean(live) - mean(idle)),
        perWindowCpuPct: { idle: idle.map((x) => x.cpuPct), fiveClients: live.map((x) => x.cpuPct) },
        rssMiB: live[live.length - 1]?.rssMiB,
        eventBytesPerClientPerS: Math.round(streamed / CLIENTS / (2 * windowS)),
      },
      note: 'CPU in % of one core, from /proc/<pid>/stat; daemon run through tsx (TypeScript compiled at start)',
    };
  } finally {
    for (const c of clients) c.close();
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon?.once('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    }
    await broker.close();
    await sim.stop();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchWeb(), null, 2));
}
