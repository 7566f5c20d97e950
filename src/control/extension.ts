import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { z } from 'zod';
import type { ModbusConfig } from '../config/schema.js';
import { backupDatabase } from '../store/backup.js';
import type { Extension, ExtensionContext } from '../views/extension.js';
import { DaemonHardwareTools } from './hardware-ops.js';
import { OpError, type OpsContext } from './ops/context.js';
import { listDeadLetters, purgeDeadLetters, retryDeadLetters } from './ops/dead-letters.js';
import { listOutbox, outboxStats, parseClass, purgeOutbox, retryOutbox } from './ops/outbox.js';
import { listRelays, setRelay } from './ops/relays.js';
import { listTradeRows } from './ops/trades.js';
import { ControlError } from './protocol.js';
import { type ControlHandler, ControlServer } from './server.js';

/** The service side of the control channel: an extension serving the CLI on `control.socket`. */
export const controlExtension: Extension = {
  name: 'control',
  // The service does its job without the channel: a socket it cannot take (no permission on its
  // directory, another instance answering there) is logged loudly, never a reason to stop or degrade.
  start: async (ctx) => {
    const socket = ctx.config.control.socket;
    const server = new ControlServer(socket, controlHandlers(ctx), ctx.log);
    try {
      await server.start();
    } catch (err) {
      ctx.log.error(
        { err, socket },
        'control channel unavailable: the CLI cannot reach this service (check control.socket and its directory)',
      );
      return { stop: async () => undefined };
    }
    return { stop: () => server.stop() };
  },
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

/** An operation's refusal as the CLI reads it: a bad request is a usage error (exit 2), the rest problems. */
async function op<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof OpError)
      throw new ControlError(err.message, err.kind === 'usage' ? 'usage' : 'problem');
    throw err;
  }
}

function controlHandlers(ctx: ExtensionContext): Record<string, ControlHandler> {
  const tools = new DaemonHardwareTools(ctx.config, ctx.hardware);
  const ops: OpsContext = { store: ctx.store, now: ctx.clock.now, link: ctx.link };
  return {
    ping: async () => ({ pid: process.pid, version: ctx.version, home: ctx.config.home }),
    status: async () => ({ status: ctx.status(), health: ctx.health() }),
    /** What a selftest asks the service about itself: its watchdog, its database, which broker it uses. */
    selfcheck: async () => {
      const link = ctx.link?.status();
      return {
        watchdogUsec: ownWatchdogUsec(),
        database: ctx.store.quickCheck(),
        devices: ctx.hardware.health(),
        link: link ? { mode: link.mode, leader: link.leader, epoch: link.epoch } : null,
      };
    },
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
      return op(() => listOutbox(ops, { class: parseClass(r.class), limit: r.limit }));
    },
    'outbox.stats': async () => outboxStats(ops),
    'outbox.retry': async (p) => {
      const r = parse(z.object({ class: z.string().optional() }), p);
      return op(() => retryOutbox(ops, { class: parseClass(r.class) }));
    },
    'outbox.purge': async (p) => {
      const r = parse(z.object({ class: z.string().optional(), force: z.boolean() }), p);
      return op(() => purgeOutbox(ops, { class: parseClass(r.class), force: r.force }));
    },
    'dlq.list': async (p) =>
      listDeadLetters(
        ops,
        parse(z.object({ limit: int(1, 10_000).optional(), direction: z.enum(['in', 'out']).optional() }), p),
      ),
    'dlq.retry': async (p) => retryDeadLetters(ops, parse(z.object({ ids: z.array(z.int()) }), p)),
    'dlq.purge': async (p) => purgeDeadLetters(ops, parse(z.object({ ids: z.array(z.int()).optional() }), p)),
    'relays.list': async () => listRelays(ctx.relays),
    'relays.set': async (p) => {
      const r = parse(z.object({ id: z.string().min(1), mode: z.string() }), p);
      return op(() => setRelay(ctx.relays, r));
    },
    'trades.list': async (p) => listTradeRows(ops, parse(z.object({ limit: int(1, 10_000).optional() }), p)),
    backup: async (p) => {
      const { to } = parse(z.object({ to: z.string().min(1) }), p);
      if (!isAbsolute(to))
        throw new ControlError('backup: the destination must be an absolute path', 'usage');
      mkdirSync(dirname(to), { recursive: true });
      return { path: to, ...(await backupDatabase(ctx.store.db, to)) };
    },
  };
}
