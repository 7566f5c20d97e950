import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';
import { mib, sampleProc } from './proc-sample.js';
import { benchHomeConfig, serviceEntry } from './service-entry.js';
import { unitNodeFlags } from './unit-file.js';
import { freePort, round, sleep } from './util.js';

const FILLER = 'x'.repeat(300);

/**
 * `powerdeal run` under the unit's V8 flags draining a backlog an outage left in its outbox: peak RSS
 * while it drains, how long it takes, and the count an independent subscriber received by id.
 */
export async function benchDrain(o: { dir: string; simPort: number; brokerUrl: string; rows: number }) {
  const dir = join(o.dir, 'drain');
  mkdirSync(dir);
  const home = 'drain-home';
  const topic = `powerdeal/v1/bench/${home}/telemetry`;
  const store = openStore({ path: join(dir, 'powerdeal.db'), log: silentLogger() });
  for (let i = 0; i < o.rows; i += 1000) {
    store.transaction(() => {
      for (let j = i; j < Math.min(o.rows, i + 1000); j++) {
        const payload = Buffer.from(JSON.stringify({ id: `m-${j}`, filler: FILLER }));
        store.outbox.enqueue({ id: `m-${j}`, class: 'telemetry', topic, payload }, Date.now());
      }
    });
  }
  store.close();

  const seen = new Set<string>();
  const subscriber = await mqtt.connectAsync(o.brokerUrl, { clientId: 'bench-drain-counter' });
  subscriber.on('message', (_t, payload) => {
    // The home's own live telemetry shares the topic: only the backlog's ids count.
    const id = (JSON.parse(payload.toString()) as { id: string }).id;
    if (id.startsWith('m-')) seen.add(id);
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    benchHomeConfig({
      home,
      simPort: o.simPort,
      brokerUrl: o.brokerUrl,
      dir,
      webPort: await freePort(),
      mqttExtra: 'drainRatePerS: 5000, drainStartJitterMs: 0, maxInFlight: 64',
    }),
  );
  const flags = unitNodeFlags();
  const entry = serviceEntry();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...flags, ...entry.args, 'run', '--config', config, '--simulated'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, POWERDEAL_LOG_LEVEL: 'warn' },
  });
  let peakKiB = 0;
  try {
    while (seen.size < o.rows && child.exitCode === null && performance.now() - t0 < 600_000) {
      peakKiB = Math.max(peakKiB, sampleProc(child.pid as number).rssKiB);
      await sleep(200);
    }
    const drainedS = round((performance.now() - t0) / 1000, 1);
    peakKiB = Math.max(peakKiB, sampleProc(child.pid as number).hwmKiB);
    return {
      entry: entry.name,
      nodeFlags: flags,
      rows: o.rows,
      received: seen.size,
      drainedSFromExec: drainedS,
      peakRssMiB: mib(peakKiB),
      exitedEarly: child.exitCode !== null,
    };
  } finally {
    await subscriber.endAsync();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}
