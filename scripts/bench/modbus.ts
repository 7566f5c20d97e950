/**
 * Modbus benchmark: one device cycle (SunSpec inverter + SDM630 meter, read concurrently through the
 * device / bus-worker layer) against the simulator over Modbus TCP and over RTU on a socat pty pair,
 * and the same requests made with raw modbus-serial calls in the same run, right after (ratio = the
 * layer's cost: queue, breaker, planning, decoding, health).
 * Run alone: node --import tsx scripts/bench/modbus.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import modbusSerial from 'modbus-serial';
import { configSchema, type DeviceConfig, type ModbusConfig } from '../../src/config/schema.js';
import { BusRegistry } from '../../src/devices/modbus/bus-registry.js';
import { decodeRegisters } from '../../src/devices/modbus/codec.js';
import { createModbusDevice, type ModbusDevice } from '../../src/devices/modbus/device.js';
import { loadProfiles } from '../../src/devices/profiles.js';
import { silentLogger } from '../../src/log/logger.js';
import { startSimulator } from '../../src/sim/index.js';

const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU>;

const CYCLES = 300;
const WARMUP = 20;

const round = (x: number) => Math.round(x * 1000) / 1000;

function stats(samplesMs: number[]) {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return {
    n: s.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    meanMs: round(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function deviceConfig(id: string, profile: string, modbus: Partial<ModbusConfig>): DeviceConfig {
  const cfg = configSchema.parse({
    home: { id: 'bench', zone: 'bench' },
    devices: [{ id, profile, modbus }],
  });
  return cfg.devices[0] as DeviceConfig;
}

async function ptyPair(): Promise<{ a: string; b: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'powerdeal-bench-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const child: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 500 && !(existsSync(a) && existsSync(b)); i++)
    await new Promise((r) => setTimeout(r, 10));
  if (!(existsSync(a) && existsSync(b))) {
    await close();
    throw new Error('socat did not create the pty pair');
  }
  return { a, b, close };
}

/** The raw client gets the same registers the devices read: model 103 with its header, the meter map. */
async function rawClient(transport: Partial<ModbusConfig>): Promise<Client> {
  const client = new ModbusRTU();
  client.on('error', () => undefined);
  client.setTimeout(1000);
  if (transport.tcp) {
    const [host, port] = transport.tcp.split(':') as [string, string];
    await client.connectTCP(host, { port: Number(port) });
  } else if (transport.rtu) {
    await client.connectRTUBuffered(transport.rtu, { baudRate: 9600 });
  }
  return client;
}

async function benchTransport(name: string, transport: Partial<ModbusConfig>) {
  const profiles = loadProfiles();
  const buses = new BusRegistry();
  const make = (id: string, profile: string, unitId: number): ModbusDevice =>
    createModbusDevice(
      deviceConfig(id, profile, { ...transport, unitId, timeoutMs: 1000 }),
      profiles.get(profile) as NonNullable<ReturnType<typeof profiles.get>>,
      { buses, log: silentLogger() },
    );
  const inverter = make('inverter', 'sunspec-inverter', 1);
  const meter = make('meter', 'sdm630', 2);
  const layerCycle = () => Promise.all([inverter.read(), meter.read()]);
  await layerCycle(); // discovery
  const model103 = inverter.sunspecMap()?.models.find((m) => m.id === 103);
  if (model103 === undefined) throw new Error('simulator has no model 103');

  const layer: number[] = [];
  try {
    for (let i = 0; i < WARMUP; i++) await layerCycle();
    for (let i = 0; i < CYCLES; i++) layer.push(await timeMs(layerCycle));
  } finally {
    // A serial port opens once: the bus worker lets go of it before the raw client takes it.
    await buses.closeAll();
  }

  const client = await rawClient(transport);
  const rawCycle = async () => {
    client.setID(1);
    const inv = await client.readHoldingRegisters(model103.address, 27);
    client.setID(2);
    const met = await client.readInputRegisters(0, 0x4c);
    // Decode what the devices decode, so the comparison is the layer and not the arithmetic.
    decodeRegisters(inv.data.slice(14, 15), 's16');
    decodeRegisters(inv.data.slice(24, 26), 'acc32');
    for (const at of [0, 0x34, 0x46, 0x48, 0x4a]) decodeRegisters(met.data.slice(at, at + 2), 'f32');
  };
  const raw: number[] = [];
  try {
    for (let i = 0; i < WARMUP; i++) await rawCycle();
    for (let i = 0; i < CYCLES; i++) raw.push(await timeMs(rawCycle));
  } finally {
    await new Promise<void>((r) => client.close(() => r()));
  }
  const l = stats(layer);
  const r = stats(raw);
  return {
    transport: name,
    requestsPerCycle: 2,
    layer: l,
    raw: r,
    ratioP50: round(l.p50Ms / r.p50Ms),
    ratioP99: round(l.p99Ms / r.p99Ms),
    failures: inverter.health().failures + meter.health().failures,
  };
}

export async function benchModbus(): Promise<Record<string, unknown>> {
  const sim = await startSimulator({ tcp: { port: 0 } });
  let tcp: Awaited<ReturnType<typeof benchTransport>>;
  try {
    tcp = await benchTransport('tcp', { tcp: `127.0.0.1:${sim.tcpPort}` });
  } finally {
    await sim.stop();
  }
  const pty = await ptyPair();
  let rtu: Awaited<ReturnType<typeof benchTransport>>;
  try {
    const rtuSim = await startSimulator({ rtu: { path: pty.b } });
    try {
      rtu = await benchTransport('rtu (socat pty pair)', { rtu: pty.a });
    } finally {
      await rtuSim.stop();
    }
  } finally {
    await pty.close();
  }
  return {
    note: 'cycle = inverter (SunSpec model 103 block) + SDM630 (one 76-register block), two requests in one FIFO; raw = the same two requests with modbus-serial directly; pty baud rate is nominal',
    cycles: CYCLES,
    tcp,
    rtu,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchModbus(), null, 2));
}
