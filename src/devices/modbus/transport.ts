import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import modbusSerial from 'modbus-serial';
import type { ModbusConfig } from '../../config/schema.js';

/** modbus-serial is CommonJS; its class is the module itself and also its `default`. */
const ModbusRTU = modbusSerial.default;
export type ModbusClient = InstanceType<typeof ModbusRTU>;

/** One physical bus: a serial line, a Modbus TCP endpoint or an RS485-to-TCP gateway. */
export type BusAddress =
  | { kind: 'tcp'; key: string; description: string; host: string; port: number }
  | { kind: 'rtuOverTcp'; key: string; description: string; host: string; port: number }
  | {
      kind: 'rtu';
      key: string;
      description: string;
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    };

function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)) };
}

/** Two names for one serial device (a udev symlink and its target) must share one worker. */
function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

export function busAddress(cfg: ModbusConfig): BusAddress {
  if (cfg.tcp !== undefined) {
    const { host, port } = splitHostPort(cfg.tcp);
    return { kind: 'tcp', key: `tcp:${host}:${port}`, description: `tcp ${cfg.tcp}`, host, port };
  }
  if (cfg.rtuOverTcp !== undefined) {
    const { host, port } = splitHostPort(cfg.rtuOverTcp);
    return {
      kind: 'rtuOverTcp',
      key: `rtu-over-tcp:${host}:${port}`,
      description: `rtu-over-tcp ${cfg.rtuOverTcp}`,
      host,
      port,
    };
  }
  if (cfg.rtu !== undefined) {
    return {
      kind: 'rtu',
      key: `rtu:${canonicalPath(cfg.rtu)}`,
      description: `rtu ${cfg.rtu} ${cfg.baudRate} ${cfg.parity}`,
      path: cfg.rtu,
      baudRate: cfg.baudRate,
      parity: cfg.parity,
      dataBits: cfg.dataBits,
      stopBits: cfg.stopBits,
    };
  }
  throw new Error('modbus config needs one of tcp, rtu or rtuOverTcp');
}

/** "tcp 127.0.0.1:5020 unit 1" — the transport line of DeviceHealth. */
export function describeTransport(cfg: ModbusConfig): string {
  return `${busAddress(cfg).description} unit ${cfg.unitId}`;
}

/** Time of 3.5 characters (11 bits each) on a serial line: the RTU end-of-frame silence. */
export function frameGapMs(baudRate: number): number {
  return Math.ceil((3.5 * 11 * 1000) / baudRate);
}

/**
 * Opens a new client on the bus. The timeout is set before connecting so a TCP connect cannot hang,
 * and an 'error' listener is attached first because an EventEmitter without one throws.
 */
export async function openClient(
  addr: BusAddress,
  timeoutMs: number,
  onError: (err: unknown) => void,
): Promise<ModbusClient> {
  const client = new ModbusRTU();
  client.on('error', onError);
  client.setTimeout(timeoutMs);
  switch (addr.kind) {
    case 'tcp':
      await client.connectTCP(addr.host, { port: addr.port });
      break;
    case 'rtuOverTcp':
      // Gateways pass raw RTU frames (with CRC) over the socket: telnet framing, not Modbus TCP.
      await client.connectTelnet(addr.host, { port: addr.port, timeout: timeoutMs });
      break;
    case 'rtu':
      await client.connectRTUBuffered(addr.path, {
        baudRate: addr.baudRate,
        parity: addr.parity,
        dataBits: addr.dataBits,
        stopBits: addr.stopBits,
      });
      break;
  }
  return client;
}

/**
 * Closes a client that has no request in flight. `destroy()` is only a fallback: it cancels pending
 * request timers without calling back, which would leave a caller waiting forever.
 */
export async function closeClient(client: ModbusClient): Promise<void> {
  // A port that already closed never calls back from close(): just release what is left.
  if (!client.isOpen) {
    client.destroy(() => undefined);
    return;
  }
  await new Promise<void>((done) => {
    const timer = setTimeout(done, 1000);
    try {
      client.close(() => {
        clearTimeout(timer);
        done();
      });
    } catch {
      clearTimeout(timer);
      done();
    }
  });
  if (client.isOpen) client.destroy(() => undefined);
}
