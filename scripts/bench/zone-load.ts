/**
 * Zone load benchmark against a real broker: N homes of one zone, each a real `createLink` with its own
 * SQLite store file (openStore) and outbox, hosted by a few worker processes, publishing the traffic of
 * the neighbourhood simulation (offers retained on the own offer topic, telemetry, accepts, trades with
 * their copy, acks, settlements with their copy) to a mosquitto this benchmark starts itself.
 *
 * - Rates are per home and modelled hour (zone-traffic.ts, DEFAULT_RATES, `--rates offer=5,...`).
 *   Offers, telemetry and settlements run on each home's timers (Poisson; telemetry on epoch-aligned
 *   windows); accepts, trades, rejects and acks answer what a home receives, with chances derived from
 *   the rates (zone-traffic.ts `chances`).
 * - Time compression: a modelled hour lasts `hourS` wall seconds (3600: real time); everything is sent
 *   3600/hourS times faster. By default the compression is 800/N (at least 1): 16× at 50 homes, 4× at
 *   200, 1.6× at 500, so each run sees about as many trades (the latency samples) and each home about
 *   the same wall-clock inbound rate; `--hour-s` fixes one for every size. Message rates are reported
 *   per second at the modelled rates (measured ÷ compression). CPU is reported as measured (`…Wall`, at
 *   the compressed rates), idle (connected, no traffic) and `…Modelled` = idle + (measured − idle) ÷
 *   compression. Latencies are what they were under the compressed load.
 * - Per home: a worker's CPU ÷ the homes it hosts (its harness and Node's own floor included), its RSS
 *   above what it used before it opened any home, its event-loop delay beyond the 10 ms sampling.
 * - Offer → trade: the buyer's harness times from the offer's envelope `ts` (set when the seller
 *   enqueued it) to the trade's arrival in its inbox, through the seller's answer to its accept.
 * - Baseline in the same run: the same traffic from bare mqtt.js clients (no store, outbox, link or
 *   inbox checks; received payloads only JSON-parsed), each zone size on a fresh broker.
 * Run alone: node --import tsx scripts/bench/zone-load.ts --homes 50,200,500 --minutes 3
 *   [--hour-s 900] [--workers 2] [--rates offer=5] [--modes link,raw] [--sign] [--audit] [--observer]
 *   [--window-s S] [--idle-s S] [--warm-s S] [--profile DIR]
 */
import { pathToFileURL } from 'node:url';
import { round } from './util.js';
import { runZone, type ZoneRun } from './zone-run.js';
import { chances, DEFAULT_RATES, parseRates, type ZoneRates } from './zone-traffic.js';

export interface ZoneBenchOptions {
  /** Zone sizes. Default 50, 200, 500. */
  homes?: number[];
  /** The measured window of each run, wall minutes (default 2); `windowS` wins if given. */
  minutes?: number;
  windowS?: number;
  /** Wall seconds of a modelled hour, every size (default: 3600 × N / 800, at most 3600). */
  hourS?: number;
  /** Worker processes hosting the homes. Default 2. */
  workers?: number;
  /** Messages per home and modelled hour, over DEFAULT_RATES. */
  rates?: Partial<ZoneRates>;
  /** Default both: the link, then the raw mqtt.js baseline. */
  modes?: ('link' | 'raw')[];
  /** Sign every envelope and verify every one received (Ed25519). Default off. */
  sign?: boolean;
  /** Keep every envelope id and check exactly who took which (memory grows with the run). */
  audit?: boolean;
  /** A subscriber to the whole zone, counted and checked too (adds its deliveries to the broker's). */
  observer?: boolean;
  /** Connected, no traffic, before the traffic (the idle CPU). Default 10 s. */
  idleS?: number;
  /** Traffic before the window. Default 15 s. */
  warmS?: number;
  /** How long the end of a run may take to deliver what is still on its way. Default 60 s. */
  drainTimeoutS?: number;
  /** Write each worker's V8 CPU profile (`.cpuprofile`) into this directory. */
  profileDir?: string;
}

/** The default compression is this ÷ N. */
const AUTO_COMPRESSION_HOMES = 800;

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : round(a / b, 2);

function compare(link: ZoneRun, raw: ZoneRun) {
  return {
    cpuPerHomeWall: ratio(link.cpu.perHomePctWall, raw.cpu.perHomePctWall),
    cpuPerHomeModelled: ratio(link.cpu.perHomePctModelled, raw.cpu.perHomePctModelled),
    brokerCpu: ratio(link.broker.cpuPctWall, raw.broker.cpuPctWall),
    brokerMessagesReceived: ratio(link.broker.messagesReceivedPerS, raw.broker.messagesReceivedPerS),
    brokerPublishSent: ratio(link.broker.publishSentPerS, raw.broker.publishSentPerS),
    offerToTradeP50: ratio(link.latencyMs.offerToTrade.p50, raw.latencyMs.offerToTrade.p50),
    offerToTradeP99: ratio(link.latencyMs.offerToTrade.p99, raw.latencyMs.offerToTrade.p99),
  };
}

export async function benchZone(opts: ZoneBenchOptions = {}): Promise<Record<string, unknown>> {
  const rates: ZoneRates = { ...DEFAULT_RATES, ...opts.rates };
  const hourS = (homes: number) => opts.hourS ?? Math.min(3600, (3600 * homes) / AUTO_COMPRESSION_HOMES);
  const sizes = opts.homes ?? [50, 200, 500];
  const modes = opts.modes ?? ['link', 'raw'];
  const base = {
    rates,
    workers: opts.workers ?? 2,
    idleS: opts.idleS ?? 10,
    warmS: opts.warmS ?? 15,
    windowS: opts.windowS ?? (opts.minutes ?? 2) * 60,
    drainTimeoutS: opts.drainTimeoutS ?? 60,
    sign: opts.sign ?? false,
    audit: opts.audit ?? false,
    observer: opts.observer ?? false,
    ...(opts.profileDir !== undefined ? { profileDir: opts.profileDir } : {}),
  };
  const runs: Record<string, unknown>[] = [];
  for (const homes of sizes) {
    const byMode: Partial<Record<'link' | 'raw', ZoneRun>> = {};
    for (const mode of modes) byMode[mode] = await runZone({ ...base, homes, mode, hourS: hourS(homes) });
    runs.push({
      homes,
      hourS: round(hourS(homes), 1),
      compression: round(3600 / hourS(homes), 2),
      chances: chances(rates, homes),
      ...byMode,
      ...(byMode.link && byMode.raw ? { linkOverRaw: compare(byMode.link, byMode.raw) } : {}),
    });
  }
  return {
    model: {
      ratesPerHomeHour: rates,
      compression:
        opts.hourS === undefined ? `${AUTO_COMPRESSION_HOMES}/N, at least 1` : round(3600 / opts.hourS, 2),
      workers: base.workers,
      windowS: base.windowS,
      signatures: base.sign,
      observer: base.observer,
      note:
        'message rates per second at the modelled rates (measured ÷ compression); cpu …Wall as measured at ' +
        'the compressed rates, …Modelled = idle + (measured − idle) ÷ compression; latencies as measured ' +
        'under the compressed load; cpu in % of one core; telemetry has no subscriber among the homes',
    },
    runs,
  };
}

function cliOptions(argv: string[]): ZoneBenchOptions {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string) => {
    const v = arg(name);
    return v === undefined ? undefined : Number(v);
  };
  const opts: ZoneBenchOptions = {};
  const homes = arg('--homes');
  if (homes !== undefined) opts.homes = homes.split(',').map(Number);
  const set = <K extends keyof ZoneBenchOptions>(key: K, v: ZoneBenchOptions[K] | undefined) => {
    if (v !== undefined) opts[key] = v;
  };
  set('minutes', num('--minutes'));
  set('windowS', num('--window-s'));
  set('hourS', num('--hour-s'));
  set('workers', num('--workers'));
  set('idleS', num('--idle-s'));
  set('warmS', num('--warm-s'));
  const rates = arg('--rates');
  if (rates !== undefined) opts.rates = parseRates(rates);
  const modes = arg('--modes');
  if (modes !== undefined) opts.modes = modes.split(',') as ('link' | 'raw')[];
  if (argv.includes('--sign')) opts.sign = true;
  if (argv.includes('--audit')) opts.audit = true;
  if (argv.includes('--observer')) opts.observer = true;
  const profile = arg('--profile');
  if (profile !== undefined) opts.profileDir = profile;
  return opts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Through process.exit, so the broker and the temporary files go too.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  console.log(JSON.stringify(await benchZone(cliOptions(process.argv.slice(2))), null, 2));
}
