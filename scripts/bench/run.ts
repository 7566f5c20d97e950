/**
 * `npm run bench`: every benchmark in one JSON document on stdout. Each compares the project's code
 * against a baseline measured in the same run (raw library calls or an independent tool), so the
 * figures mean something on any machine. Progress goes to stderr. `--only NAME[,NAME]` picks some.
 */
import { benchFallbackBroker } from './fallback-broker.js';
import { benchFallbackZone } from './fallback-zone.js';
import { benchLink } from './link.js';
import { benchModbus } from './modbus.js';
import { benchNeighbourhood } from './neighbourhood.js';
import { benchService } from './service.js';
import { benchSigning } from './signing.js';
import { benchStore } from './store.js';
import { benchWeb } from './web.js';
import { benchZone } from './zone-load.js';

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  modbus: benchModbus,
  store: benchStore,
  link: benchLink,
  service: benchService,
  signing: benchSigning,
  web: benchWeb,
  neighbourhood: () => benchNeighbourhood(),
  zone: () => benchZone(),
  fallback: benchFallbackBroker,
  'fallback-zone': benchFallbackZone,
};

const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex > 0 ? (process.argv[onlyIndex + 1] ?? '').split(',') : Object.keys(BENCHES);
const unknown = only.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench: ${unknown.join(', ')} (have: ${Object.keys(BENCHES).join(', ')})\n`);
  process.exit(2);
}

const results: Record<string, unknown> = {
  machine: { node: process.version, platform: process.platform, arch: process.arch },
  startedAt: new Date().toISOString(),
};
for (const name of only) {
  process.stderr.write(`bench ${name}...\n`);
  const start = Date.now();
  try {
    results[name] = { ...(await BENCHES[name]!()), benchSeconds: Math.round((Date.now() - start) / 1000) };
  } catch (err) {
    results[name] = { error: err instanceof Error ? err.message : String(err) };
    process.exitCode = 1;
  }
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
