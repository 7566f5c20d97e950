import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { EXIT } from '../../control/client/exit-codes.js';
import { ago, callService, connectService } from '../../control/client/service-call.js';
import type { FullStatus as ServiceStatus } from '../../service/status.js';
import type { OutboxStatsDetail } from '../../store/outbox.js';
import type { TradingStatus } from '../../trading/status.js';
import type { HealthReport } from '../../views/health.js';
import { loadVerbConfig } from '../config-context.js';
import { openDirectStore } from '../direct-store.js';
import { devicesTable } from '../format-readings.js';
import { bold, dim, green, printJson, red, table, yellow } from '../output.js';

const ok = (good: boolean, text: string) => (good ? green(text) : red(text));

/** What is wrong, in one line each, from the service's own view of itself. */
function problemsOf(status: ServiceStatus, health: HealthReport): string[] {
  const problems: string[] = [];
  for (const c of health.checks) if (!c.ok) problems.push(`${c.name}: ${c.detail}`);
  for (const d of status.devices) {
    if (d.state === 'fault') problems.push(`device ${d.id} faulted: ${d.lastError ?? 'no answer'}`);
  }
  if (status.link && !status.link.connected) {
    problems.push(`broker not connected${status.link.lastError ? `: ${status.link.lastError}` : ''}`);
  }
  return problems;
}

function render(status: ServiceStatus, health: HealthReport): string {
  const lines: string[] = [];
  lines.push(
    `${bold(`${status.home.id}`)} in ${status.home.zone}  powerdeal ${status.version}  pid ${status.pid}  up ${ago(status.uptimeS * 1000)}${status.simulatedParts.length ? yellow(`  [simulated: ${status.simulatedParts.join(', ')}]`) : ''}`,
  );
  lines.push(
    `live ${ok(health.live, health.live ? 'yes' : 'no')}  ready ${ok(health.ready, health.ready ? 'yes' : 'no')}  ${dim(health.summary)}`,
  );
  lines.push(
    '',
    table(
      ['MODULE', 'STATE', 'ERROR'],
      status.modules.map((m) => [m.name, ok(m.state === 'running', m.state), m.error ?? '']),
    ),
  );
  lines.push('', devicesTable(status.devices, Date.now()));
  const link = status.link;
  lines.push(
    '',
    link
      ? `broker ${ok(link.connected, link.connected ? 'connected' : 'down')} ${link.broker ?? ''}${mqttVersionText(link)}  breaker ${link.breaker}  published ${link.published}  retries ${link.retries}${link.lastError ? `  last error: ${link.lastError}` : ''}`
      : dim('broker: none configured'),
  );
  if (link && (link.mode === 'fallback-leader' || link.mode === 'fallback-member')) {
    const through = link.mode === 'fallback-leader' ? 'this home' : (link.leader ?? '?');
    const since = link.modeSince === null ? '' : ` since ${new Date(link.modeSince).toISOString()}`;
    lines.push(
      yellow(`${link.mode}: no broker, trading through ${through}'s Pi (term ${link.epoch ?? '?'})${since}`),
    );
  }
  lines.push();
  if (status.outbox) lines.push(outboxLine(status.outbox));
  if (status.trading) lines.push(...tradingLines(status.trading));
  return lines.join('\n');
}

/** "MQTT 3.1.1 (off: message-expiry, …)" for a connected link. */
function mqttVersionText(link: { protocolVersion: 4 | 5 | null; featuresOff: string[] }): string {
  if (link.protocolVersion === null) return '';
  const off = link.featuresOff.length > 0 ? ` (off: ${link.featuresOff.join(', ')})` : '';
  return `  MQTT ${link.protocolVersion === 5 ? '5' : '3.1.1'}${off}`;
}

/** Trading on or off (and why, with the fix), the role, the current offer and the deals. */
function tradingLines(t: TradingStatus): string[] {
  if (t.state === 'off') return [yellow(t.reason ?? 'trading off'), ...t.warnings.map((w) => yellow(w))];
  const net = t.netW === null ? 'net unknown' : `net ${t.netW >= 0 ? '+' : ''}${t.netW} W`;
  const parts = [`trading ${green('on')}: ${t.role ?? 'idle'}, ${net}`];
  const o = t.offer;
  if (o) {
    parts.push(
      `offer ${o.availableWh}/${o.energyWh} Wh at ${o.priceCentsPerKwh} c/kWh for ${new Date(o.slot).toISOString()} (${o.status})`,
    );
  }
  const deals = Object.entries(t.deals)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  if (deals.length) parts.push(`deals ${deals.join(', ')}`);
  if (t.loadsOn.length) parts.push(`loads on: ${t.loadsOn.join(', ')}`);
  const a = t.actuation;
  if (a && a.relayFailures + a.exportLimitFailures > 0) {
    parts.push(
      red(`actuator failures ${a.relayFailures + a.exportLimitFailures} (last: ${a.lastError ?? '?'})`),
    );
  }
  return [parts.join('  '), ...t.warnings.map((w) => yellow(w))];
}

function outboxLine(o: OutboxStatsDetail): string {
  return `outbox ${o.rows} rows, oldest ${o.oldestAgeMs === null ? '-' : ago(o.oldestAgeMs)}, dead letters ${o.deadLetters}`;
}

/** `powerdeal status`: is the service healthy, and if not, what is wrong. */
export function register(program: Command): void {
  program
    .command('status')
    .description('the running service at a glance: health, modules, devices, broker, outbox')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config } = loadVerbConfig(cmd);
      const service = await connectService(config.control.socket);
      if (!service) {
        // What can be said without it: what waits in the database.
        let outbox: OutboxStatsDetail | null = null;
        if (existsSync(config.store.path)) {
          const store = openDirectStore(config.store.path, 'read');
          try {
            outbox = store.outbox.stats(Date.now());
          } finally {
            store.close();
          }
        }
        if (opts.json) printJson({ running: false, socket: config.control.socket, outbox });
        else {
          process.stdout.write(`${red('not running')}: nothing answers on ${config.control.socket}\n`);
          if (outbox) process.stdout.write(`${outboxLine(outbox)} ${dim('(from the database file)')}\n`);
          process.stdout.write(
            'start it with: sudo systemctl start powerdeal; why it stopped: journalctl -u powerdeal -n 50 (or powerdeal logs)\n',
          );
        }
        process.exitCode = EXIT.unreachable;
        return;
      }
      let answer: { status: ServiceStatus; health: HealthReport };
      try {
        answer = await callService(service, 'status');
      } finally {
        service.close();
      }
      const problems = problemsOf(answer.status, answer.health);
      if (opts.json) printJson({ running: true, ...answer, problems });
      else {
        process.stdout.write(`${render(answer.status, answer.health)}\n`);
        for (const p of problems) process.stdout.write(`${red('problem')} ${p}\n`);
      }
      process.exitCode = problems.length > 0 ? EXIT.problem : EXIT.ok;
    });
}
