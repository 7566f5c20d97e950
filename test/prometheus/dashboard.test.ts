import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type Simulator, startSimulator } from '../../src/sim/index.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { type NotifyListener, type RunProcess, spawnRun, startNotifyListener } from '../systemd/helpers.js';

/**
 * docs/grafana/powerdeal.json proven against a real Prometheus (Debian's `prometheus`) scraping two real
 * `powerdeal run` processes of one zone, each on its own Modbus simulator, linked to a real mosquitto and
 * petting a (listened-to) systemd watchdog: after a minute of scraping every panel's query, with the
 * dashboard's variables filled in, must succeed and return data.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const DASHBOARD = join(ROOT, 'docs/grafana/powerdeal.json');
const ALERTS = join(ROOT, 'docs/prometheus/alerts.yml');
const PROMETHEUS = '/usr/bin/prometheus';
const HOMES = ['home-a', 'home-b'];
const ZONE = 'zone-g';
const SCRAPE_S = 2;
/** A minute of scraping: this many samples of each target. */
const SAMPLES = 60 / SCRAPE_S;

interface Panel {
  title?: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

const hasPrometheus = (() => {
  try {
    readFileSync(PROMETHEUS);
    return true;
  } catch {
    return false;
  }
})();

interface RunningHome {
  id: string;
  sim: Simulator;
  notify: NotifyListener;
  run: RunProcess;
  web: number;
}

const dir = mkdtempSync(join(tmpdir(), 'pd-grafana-'));
const homes: RunningHome[] = [];
let broker: Mosquitto | undefined;
let prometheus: ChildProcess | undefined;
let promUrl = '';

/** The simulated day at noon: the sun shines whatever time the test runs. */
const noon = () => {
  const d = new Date();
  d.setUTCHours(12, 0, 0, 0);
  return d.getTime() + (Date.now() % 3_600_000);
};

async function startRunHome(id: string, brokerUrl: string): Promise<RunningHome> {
  const home = mkdtempSync(join(dir, `${id}-`));
  const sim = await startSimulator({
    tcp: { port: 0 },
    seed: id.length + id.charCodeAt(5),
    utcOffsetMin: 0,
    clock: noon,
  });
  const web = await freePort();
  const tcp = `127.0.0.1:${sim.tcpPort}`;
  const config = {
    home: { id, zone: ZONE },
    devices: [
      { id: 'inverter', profile: 'sunspec-inverter', modbus: { tcp, unitId: 1, timeoutMs: 500 } },
      { id: 'grid-meter', profile: 'sdm630', modbus: { tcp, unitId: 2, timeoutMs: 500 } },
      { id: 'water-heater', profile: 'relay', gpio: { line: 17, activeLow: true }, load: { powerW: 2000 } },
    ],
    mqtt: { brokers: [brokerUrl], telemetryIntervalMs: 2000 },
    keys: { privateKeyFile: join(home, 'home.key'), keyringFile: join(home, 'keyring.yaml') },
    store: { path: join(home, 'powerdeal.db'), diskReserveMb: 0 },
    web: { listen: `127.0.0.1:${web}`, tokenFile: join(home, 'web.token') },
    control: { socket: join(home, 'control.sock') },
  };
  const configPath = join(home, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const notify = await startNotifyListener(join(home, 'notify.sock'));
  const run = spawnRun(configPath, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '10000000' });
  return { id, sim, notify, run, web };
}

async function query(
  expr: string,
): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
}

function exprsOf(panels: Panel[]): { title: string; expr: string }[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).map((t) => ({ title: p.title ?? '', expr: t.expr })),
    ...exprsOf(p.panels ?? []),
  ]);
}

/** Grafana's variables as it fills them in: the chosen values, its built-in intervals. */
function substitute(expr: string, vars: { zone: string; home: string }): string {
  return expr
    .replaceAll('$__rate_interval', `${SCRAPE_S * 4 * 2}s`)
    .replaceAll('$__interval', `${SCRAPE_S * 5}s`)
    .replaceAll('$__range', '1h')
    .replaceAll('$zone', vars.zone)
    .replaceAll('$home', vars.home);
}

describe.skipIf(!hasPrometheus)(
  `docs/grafana/powerdeal.json${hasPrometheus ? '' : ` (${PROMETHEUS} is not installed: sudo scripts/install-test-deps.sh)`}`,
  () => {
    beforeAll(async () => {
      broker = await startMosquitto();
      for (const id of HOMES) homes.push(await startRunHome(id, broker.url));
      for (const h of homes) {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${h.web}/readyz`).catch(() => null))?.status === 200,
          60_000,
          `${h.id} ready\n${h.run.output().slice(-2000)}`,
          250,
        );
      }
      const port = await freePort();
      const storage = mkdtempSync(join(dir, 'tsdb-'));
      const promConfig = join(dir, 'prometheus.yml');
      writeFileSync(
        promConfig,
        stringify({
          global: { scrape_interval: `${SCRAPE_S}s`, evaluation_interval: `${SCRAPE_S}s` },
          scrape_configs: [
            { job_name: 'powerdeal', static_configs: [{ targets: homes.map((h) => `127.0.0.1:${h.web}`) }] },
          ],
        }),
      );
      let out = '';
      prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${promConfig}`,
          `--storage.tsdb.path=${storage}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      promUrl = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.status === 200,
        30_000,
        `prometheus ready\n${out}`,
        250,
      );
      // A minute of scraping: every target up and at least SAMPLES scrapes of each.
      await waitFor(
        async () => {
          const r = await query(
            `min(count_over_time(up{job="powerdeal"}[5m])) >= ${SAMPLES} and min(up{job="powerdeal"}) == 1`,
          );
          return (r.data?.result.length ?? 0) > 0;
        },
        240_000,
        `a minute of scraping both homes\n${out}`,
        1000,
      );
    }, 360_000);

    afterAll(async () => {
      prometheus?.kill('SIGTERM');
      if (prometheus && prometheus.exitCode === null) await new Promise((r) => prometheus?.once('exit', r));
      for (const h of homes) {
        h.run.kill('SIGTERM');
        await h.run.exited;
        await h.notify.stop();
        await h.sim.stop();
      }
      await broker?.dispose();
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('offers the zone and the homes as its variables', async () => {
      const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
      expect(dash.templating.list.map((v) => v.name)).toEqual(['datasource', 'zone', 'home']);
      const values = async (label: string, match: string) =>
        (
          (await (
            await fetch(`${promUrl}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`)
          ).json()) as { data: string[] }
        ).data;
      expect(await values('zone', 'powerdeal_info')).toEqual([ZONE]);
      expect(await values('home', `powerdeal_info{zone=~"${ZONE}"}`)).toEqual(HOMES);
    });

    it('every metric the alert rules read is scraped from a real controller', async () => {
      const rules = parse(readFileSync(ALERTS, 'utf8')) as {
        groups: { rules: { alert: string; expr: string }[] }[];
      };
      const names = new Set(
        rules.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\bpowerdeal_[a-z_]+\b/g) ?? [])),
      );
      expect(names.size).toBeGreaterThanOrEqual(10);
      const missing: string[] = [];
      for (const name of names)
        if (((await query(`count(${name})`)).data?.result.length ?? 0) === 0) missing.push(name);
      expect(missing).toEqual([]);
      // The rules parse in this Prometheus too (not only in promtool): each expression answers.
      for (const r of rules.groups.flatMap((g) => g.rules))
        expect((await query(r.expr)).status, r.alert).toBe('success');
    });

    it.each([
      { zone: ZONE, home: '.*' },
      { zone: '.*', home: 'home-b' },
    ])('every panel query answers with data for zone=$zone home=$home', async (vars) => {
      const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
      const exprs = exprsOf(dash.panels);
      expect(exprs.length).toBeGreaterThanOrEqual(20);
      const failures: string[] = [];
      for (const { title, expr } of exprs) {
        const q = substitute(expr, vars);
        const r = await query(q);
        if (r.status !== 'success') failures.push(`${title}: ${q}: ${r.error}`);
        else if ((r.data?.result.length ?? 0) === 0) failures.push(`${title}: ${q}: no data`);
      }
      expect(failures).toEqual([]);
    });
  },
);
