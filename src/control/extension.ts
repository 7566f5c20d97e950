import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { z } from 'zod';
import type { ModbusConfig } from '../config/schema.js';
import type { Extension } from '../service/extensions.js';
import type { Service } from '../service/service.js';
import { backupDatabase } from '../store/backup.js';
import { DaemonHardwareTools } from './hardware-ops.js';
import { ControlError } from './protocol.js';
import { type ControlHandler, ControlServer } from './server.js';
import {
  listDeadLetters,
  listOutbox,
  outboxStats,
  parseClass,
  purgeDeadLetters,
  purgeOutbox,
  resetOutboxAttempts,
  retryDeadLetters,
  type StoreView,
  trades,
} from './store-ops.js';

/** The service side of the control channel: a module serving the CLI on `control.socket`. */
export const controlExtension: Extension = (service) => {
  const tools = new DaemonHardwareTools(service.ctx, () => service.hardware);
  let server: ControlServer | null = null;
  return {
    name: 'control',
    essential: false,
    // The service does its job without the channel: a socket it cannot take (no permission on its
    // directory, another instance answering there) is logged loudly, never a reason to stop or degrade.
    start: async () => {
      const log = service.ctx.log.child({ module: 'control' });
      const socket = service.ctx.config.control.socket;
      const candidate = new ControlServer(socket, controlHandlers(service, tools), log);
      try {
        await candidate.start();
        server = candidate;
      } catch (err) {
        log.error(
          { err, socket },
          'control channel unavailable: the CLI cannot reach this service (check control.socket and its directory)',
        );
      }
    },
    stop: async () => {
      await server?.stop();
      server = null;
    },
  };
};

const int = (min: number, max: number) => z.int().min(min).max(max);
/** The transport as the CLI built it from its flags; busAddress() checks the rest. */
const transport = z.custom<ModbusConfig>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Number.isInteger((v as ModbusConfig).unitId) &&
    Number.isInteger((v as ModbusConfig).timeoutMs),
  { error: 'a Modbus transport with unitId and timeoutMs' },
);
const lineParams = z.object({ line: int(0, 63) });

/** WATCHDOG_USEC as systemd set it for this process (not inherited from a parent: WATCHDOG_PID). */
function ownWatchdogUsec(): string | null {
  const { WATCHDOG_USEC: usec, WATCHDOG_PID: pid } = process.env;
  if (usec === undefined || usec === '') return null;
  return pid === undefined || pid === '' || Number(pid) === process.pid ? usec : null;
}

function parse<T>(schema: z.ZodType<T>, params: unknown): T {
  const r = schema.safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ControlError(`bad request: ${issue?.path.join('.') || 'params'}: ${issue?.message}`, 'usage');
  }
  return r.data;
}

export function controlHandlers(
  service: Service,
  tools: DaemonHardwareTools,
): Record<string, ControlHandler> {
  const { ctx } = service;
  const store = (): StoreView => {
    const s = service.store;
    return { db: s.db, outbox: s.outbox, deadLetters: s.deadLetters, transaction: (fn) => s.transaction(fn) };
  };
  return {
    ping: async () => ({ pid: process.pid, version: ctx.version, home: ctx.config.home }),
    status: async () => ({ status: service.status(), health: service.health() }),
    /** What a selftest asks the service about itself: its watchdog and its database. */
    selfcheck: async () => ({
      watchdogUsec: ownWatchdogUsec(),
      database: service.store.quickCheck(),
      devices: service.hardware.health(),
    }),
    'modbus.read': async (p) => {
      const r = parse(
        z.object({
          transport,
          table: z.enum(['holding', 'input', 'coils', 'discrete']),
          address: int(0, 0xffff),
          count: int(1, 2000),
        }),
        p,
      );
      return tools.modbusRead(r);
    },
    'modbus.scan': async (p) => {
      const r = parse(
        z.object({
          transport,
          from: int(0, 247),
          to: int(0, 247),
          probe: z.object({ table: z.enum(['holding', 'input']), address: int(0, 0xffff) }),
          timeoutMs: int(10, 60_000),
        }),
        p,
      );
      return tools.modbusScan(r);
    },
    sunspec: async (p) => tools.sunspec(parse(z.object({ transport }), p).transport),
    'i2c.scan': async (p) => tools.i2cScan(parse(z.object({ bus: int(0, 255) }), p).bus),
    'gpio.get': async (p) => tools.gpioGet(parse(lineParams, p).line),
    'gpio.set': async (p) => {
      const r = parse(lineParams.extend({ on: z.boolean(), activeLow: z.boolean() }), p);
      return tools.gpioSet(r.line, r.on, r.activeLow);
    },
    'outbox.list': async (p) => {
      const r = parse(z.object({ class: z.string().optional(), limit: int(1, 10_000).optional() }), p);
      return listOutbox(store(), { class: parseClass(r.class), limit: r.limit });
    },
    'outbox.stats': async () => outboxStats(store(), ctx.now()),
    'outbox.retry': async (p) => {
      const n = resetOutboxAttempts(
        store(),
        parseClass(parse(z.object({ class: z.string().optional() }), p).class),
      );
      service.link?.notify();
      return {
        reset: n,
        link: service.link ? (service.link.status().connected ? 'connected' : 'disconnected') : null,
      };
    },
    'outbox.purge': async (p) => {
      const r = parse(z.object({ class: z.string().optional(), force: z.boolean() }), p);
      return { purged: purgeOutbox(store(), { class: parseClass(r.class), force: r.force }, ctx.now()) };
    },
    'dlq.list': async (p) => {
      const r = parse(
        z.object({ limit: int(1, 10_000).optional(), direction: z.enum(['in', 'out']).optional() }),
        p,
      );
      return listDeadLetters(store(), r);
    },
    'dlq.retry': async (p) => {
      const r = retryDeadLetters(store(), parse(z.object({ ids: z.array(z.int()) }), p).ids, ctx.now());
      if (r.requeued.length > 0) service.link?.notify();
      return r;
    },
    'dlq.purge': async (p) => ({
      purged: purgeDeadLetters(store(), parse(z.object({ ids: z.array(z.int()).optional() }), p).ids),
    }),
    'trades.list': async (p) =>
      trades(store(), parse(z.object({ limit: int(1, 10_000).optional() }), p).limit),
    backup: async (p) => {
      const { to } = parse(z.object({ to: z.string().min(1) }), p);
      if (!isAbsolute(to))
        throw new ControlError('backup: the destination must be an absolute path', 'usage');
      mkdirSync(dirname(to), { recursive: true });
      return { path: to, ...(await backupDatabase(service.store.db, to)) };
    },
  };
}
