import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { ControlClient } from '../../control/client/client.js';
import { CliError, EXIT } from '../../control/client/exit-codes.js';
import { callService, connectService, intFlag } from '../../control/client/service-call.js';
import { errorText } from '../../core/errors.js';
import type { DeviceHealth } from '../../devices/device.js';
import type { LinkMode } from '../../link/fallback-options.js';
import { hardwareIsSimulated } from '../../service/hardware.js';
import { integrityCheck } from '../../store/backup.js';
import { type LoadedConfig, loadVerbConfig } from '../config-context.js';
import { bold, dim, green, printJson, red, table, yellow } from '../output.js';
import {
  brokerChecks,
  type Check,
  clockCheck,
  deviceChecks,
  diskCheck,
  watchdogCheck,
} from '../selftest-checks.js';
import { probeDevices } from './devices.js';

interface ServiceSelfcheck {
  watchdogUsec: string | null;
  database: string;
  devices: DeviceHealth[];
  link: { mode: LinkMode; leader: string | null; epoch: number | null } | null;
}

/** Which broker the running service trades through; in fallback a warning with what it means. */
function linkModeCheck(link: ServiceSelfcheck['link']): Check {
  if (!link) return { name: 'link mode', state: 'unknown', detail: 'no broker link in the service' };
  if (link.mode === 'upstream') return { name: 'link mode', state: 'pass', detail: 'upstream broker' };
  if (link.mode === 'offline') {
    return {
      name: 'link mode',
      state: 'unknown',
      detail: 'offline: no broker and no fallback leader yet',
      hint: 'messages wait in the outbox; see the broker checks above',
    };
  }
  const through = link.mode === 'fallback-leader' ? 'this home' : (link.leader ?? '?');
  return {
    name: 'link mode',
    state: 'unknown',
    detail: `${link.mode}: no broker, trading through ${through}'s Pi (term ${link.epoch ?? '?'})`,
    hint: 'the zone trades without its broker; telemetry waits in the outbox until a broker answers (see the broker checks above)',
  };
}

const STATE_TEXT = { pass: green('pass'), fail: red('FAIL'), unknown: yellow('?') };

function render(checks: Check[]): string {
  const rows = checks.map((c) => [c.name, STATE_TEXT[c.state], c.detail]);
  const hints = checks
    .filter((c) => c.hint !== undefined && c.state !== 'pass')
    .map((c) => `${c.state === 'fail' ? red('→') : yellow('→')} ${bold(c.name)}: ${c.hint}`);
  const failed = checks.filter((c) => c.state === 'fail').length;
  const summary = failed === 0 ? green('all checks passed') : red(`${failed} check(s) failed`);
  return [
    table(['CHECK', 'RESULT', 'DETAIL'], rows),
    ...(hints.length ? ['', ...hints] : []),
    '',
    summary,
  ].join('\n');
}

async function asService(loaded: LoadedConfig): Promise<{ client: ControlClient | undefined; check: Check }> {
  const socket = loaded.config.control.socket;
  try {
    const client = await connectService(socket);
    if (client) {
      const ping = await callService<{ pid: number; version: string }>(client, 'ping');
      return {
        client,
        check: {
          name: 'service',
          state: 'pass',
          detail: `running, pid ${ping.pid}, version ${ping.version}`,
        },
      };
    }
    return {
      client: undefined,
      check: {
        name: 'service',
        state: 'fail',
        detail: `not running (nothing answers on ${socket})`,
        hint: 'start it: sudo systemctl start powerdeal; why it stopped: powerdeal logs --level warn (checks below ran without it)',
      },
    };
  } catch (err) {
    return {
      client: undefined,
      check: {
        name: 'service',
        state: 'fail',
        detail: errorText(err),
        hint: 'run selftest as root or as a member of the powerdeal group',
      },
    };
  }
}

function databaseCheck(path: string, fromService: string | null): Check {
  if (fromService !== null) {
    return fromService === 'ok'
      ? { name: 'database', state: 'pass', detail: `${path}: quick_check ok (by the service)` }
      : {
          name: 'database',
          state: 'fail',
          detail: `${path}: ${fromService.slice(0, 200)}`,
          hint: 'take a backup now (powerdeal backup), stop the service: at start it moves a corrupt file aside and starts fresh; or restore a good backup (powerdeal restore FILE)',
        };
  }
  if (!existsSync(path)) {
    return {
      name: 'database',
      state: 'fail',
      detail: `no database at ${path}`,
      hint: 'the service creates it at its first start: check store.path and that /var/lib/powerdeal is writable by the powerdeal user',
    };
  }
  try {
    const result = integrityCheck(path);
    return result === 'ok'
      ? { name: 'database', state: 'pass', detail: `${path}: integrity_check ok` }
      : {
          name: 'database',
          state: 'fail',
          detail: `${path}: ${result.slice(0, 200)}`,
          hint: 'restore a good backup (powerdeal restore FILE); otherwise the service moves the corrupt file aside at start',
        };
  } catch (err) {
    return {
      name: 'database',
      state: 'fail',
      detail: `${path}: ${errorText(err)}`,
      hint: 'check the file permissions (owner powerdeal) or restore a backup (powerdeal restore FILE)',
    };
  }
}

/** `powerdeal selftest`: the checklist a technician runs first, each item with what to do when it fails. */
export function register(program: Command): void {
  program
    .command('selftest')
    .description('check config, database, devices, broker, clock, disk and watchdog; say what to fix')
    .option('--broker-timeout <ms>', 'how long a broker may take to accept the connection', '3000')
    .option('--json', 'machine-readable output')
    .action(async (opts: { brokerTimeout: string; json?: boolean }, cmd: Command) => {
      const brokerTimeout = intFlag('broker-timeout', opts.brokerTimeout, 100, 60_000);
      const checks: Check[] = [];
      let loaded: LoadedConfig | undefined;
      try {
        loaded = loadVerbConfig(cmd);
        checks.push({
          name: 'config',
          state: 'pass',
          detail: `${loaded.file}: home ${loaded.config.home.id}, ${loaded.config.devices.length} device(s)`,
        });
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        checks.push({
          name: 'config',
          state: 'fail',
          detail: err.message,
          hint: 'fix the keys named above (powerdeal config check shows every problem with its line); nothing else can be checked without it',
        });
      }
      if (loaded) {
        const { config } = loaded;
        const { client, check } = await asService(loaded);
        checks.push(check);
        let fromService: ServiceSelfcheck | null = null;
        if (client) {
          try {
            fromService = await callService<ServiceSelfcheck>(client, 'selfcheck');
          } finally {
            client.close();
          }
        }
        checks.push(databaseCheck(config.store.path, fromService?.database ?? null));
        const devices = fromService?.devices ?? (await probeDevices(loaded, hardwareIsSimulated()));
        checks.push(...deviceChecks(config, devices));
        checks.push(...(await brokerChecks(config, brokerTimeout)));
        if (fromService) checks.push(linkModeCheck(fromService.link));
        checks.push(await clockCheck());
        checks.push(diskCheck(config.store.path));
        checks.push(watchdogCheck(fromService));
      } else {
        checks.push(await clockCheck());
      }
      const ok = checks.every((c) => c.state !== 'fail');
      if (opts.json) printJson({ ok, checks });
      else process.stdout.write(`${render(checks)}\n${dim(`selftest at ${new Date().toISOString()}`)}\n`);
      process.exitCode = ok ? EXIT.ok : EXIT.problem;
    });
}
