import { afterEach, describe, expect, it } from 'vitest';
import type { ModbusConfig } from '../../src/config/schema.js';
import { BusWorker, type BusWorkerOptions } from '../../src/devices/modbus/bus-worker.js';
import { ModbusError } from '../../src/devices/modbus/errors.js';
import { busAddress } from '../../src/devices/modbus/transport.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { startPtyToTcp } from '../helpers/socat.js';
import { deviceConfig } from './helpers/devices.js';
import { type RawHandler, type RawServer, startRawServer, withCrc } from './helpers/raw-server.js';

/** Bad answers at the bus level: every failure is classified, and the next request still works. */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function worker(modbus: Partial<ModbusConfig>, opts: BusWorkerOptions = {}): BusWorker {
  const w = new BusWorker(busAddress(deviceConfig('d', 'sdm630', modbus).modbus!), opts);
  cleanups.push(() => w.close());
  return w;
}

async function server(framing: 'rtu' | 'mbap', handler: RawHandler): Promise<RawServer> {
  const s = await startRawServer(framing, handler);
  cleanups.push(() => s.close());
  return s;
}

/** A serial device: the raw RTU server behind a real pty. */
async function serialDevice(handler: RawHandler): Promise<{ path: string; srv: RawServer }> {
  const srv = await server('rtu', handler);
  const pty = await startPtyToTcp(srv.port);
  cleanups.push(() => pty.close());
  return { path: pty.a, srv };
}

async function failure(p: Promise<unknown>): Promise<ModbusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModbusError);
  return err as ModbusError;
}

const echoAddress: RawHandler = (req) => ({
  registers: Array.from({ length: req.count }, (_, i) => req.address + i),
});

describe('Modbus TCP faults', () => {
  it('an exception answer is an exception error and leaves the connection in use', async () => {
    const srv = await server('mbap', (req) => (req.address === 100 ? { exception: 2 } : echoAddress(req)));
    const bus = worker({ tcp: `127.0.0.1:${srv.port}`, timeoutMs: 1000 });
    const err = await failure(bus.readRegisters(1, 'holding', 100, 2, 1000));
    expect(err).toMatchObject({ kind: 'exception', code: 2 });
    expect(err.message).toMatch(/illegal data address/);
    expect(await bus.readRegisters(1, 'holding', 7, 2, 1000)).toEqual([7, 8]);
    expect(bus.stats()).toMatchObject({ opens: 1, failures: 1, requests: 2 });
  });

  it('silence is a timeout; the line is reset and the next unit is answered', async () => {
    const srv = await server('mbap', (req) => (req.unit === 5 ? { silence: true } : echoAddress(req)));
    const bus = worker({ tcp: `127.0.0.1:${srv.port}` });
    expect(await failure(bus.readRegisters(5, 'holding', 0, 1, 300))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'input', 3, 1, 1000)).toEqual([3]);
    expect(bus.stats()).toMatchObject({
      opens: 2,
      timeouts: 1,
      units: { 5: { timeouts: 1 }, 1: { failures: 0 } },
    });
  });

  it('garbage (a foreign function code) is a frame error, then reads work again', async () => {
    const garbage = Buffer.from([0x2b, 0x99, 0x13, 0x37, 0x00]);
    let first = true;
    const srv = await server('mbap', (req) => {
      const reply = first ? { pdu: garbage } : echoAddress(req);
      first = false;
      return reply;
    });
    const bus = worker({ tcp: `127.0.0.1:${srv.port}` });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 2, 1000))).toMatchObject({ kind: 'frame' });
    expect(await bus.readRegisters(1, 'holding', 10, 2, 1000)).toEqual([10, 11]);
  });

  it('a truncated answer times out and does not poison the next request', async () => {
    let first = true;
    const srv = await server('mbap', (req) => {
      const reply = first ? { registers: [1, 2, 3], truncateTo: 10 } : echoAddress(req);
      first = false;
      return reply;
    });
    const bus = worker({ tcp: `127.0.0.1:${srv.port}` });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 3, 300))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'holding', 20, 3, 1000)).toEqual([20, 21, 22]);
  });

  it('a refused connection backs off: the next request fails at once without a new attempt', async () => {
    const port = await freePort();
    const bus = worker({ tcp: `127.0.0.1:${port}` }, { reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 1, 500))).toMatchObject({ kind: 'connection' });
    const second = await failure(bus.readRegisters(1, 'holding', 0, 1, 500));
    expect(second.message).toMatch(/next attempt in \d+ ms/);
    expect(bus.stats()).toMatchObject({ openFailures: 1, opens: 0, requests: 0 });
  });

  it('reconnects after the peer dropped the connection', async () => {
    const srv = await server('mbap', echoAddress);
    const bus = worker({ tcp: `127.0.0.1:${srv.port}` });
    expect(await bus.readRegisters(1, 'holding', 1, 1, 1000)).toEqual([1]);
    srv.dropConnections();
    await waitFor(() => !bus.stats().connected, 5000, 'the worker to see the dropped connection', 5);
    expect(await bus.readRegisters(1, 'holding', 2, 1, 1000)).toEqual([2]);
    expect(bus.stats().opens).toBe(2);
  });
});

describe('RTU faults on a serial line (pty)', () => {
  it('a frame with a bad CRC is a frame error, then reads work again', async () => {
    let first = true;
    const { path } = await serialDevice((req) => {
      if (!first) return echoAddress(req);
      first = false;
      const frame = withCrc(Buffer.from([req.unit, 3, 4, 0, 1, 0, 2]));
      frame.writeUInt8(frame.readUInt8(frame.length - 1) ^ 0xff, frame.length - 1);
      return { bytes: frame };
    });
    const bus = worker({ rtu: path });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 2, 1000))).toMatchObject({ kind: 'frame' });
    expect(await bus.readRegisters(1, 'holding', 30, 2, 1000)).toEqual([30, 31]);
  });

  it('a truncated frame times out; the next request gets its own answer', async () => {
    let first = true;
    const { path } = await serialDevice((req) => {
      const reply = first ? { registers: [9, 9], truncateTo: 5 } : echoAddress(req);
      first = false;
      return reply;
    });
    const bus = worker({ rtu: path });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 2, 300))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'holding', 40, 2, 1000)).toEqual([40, 41]);
  });

  // RTU has no transaction id: a reply that comes after the timeout looks exactly like the answer to
  // the next identical request. The bus keeps the line quiet for one timeout, then reopens it.
  const lateReply = (): RawHandler => {
    let n = 0;
    return () => (n++ === 0 ? { delayMs: 1500, reply: { registers: [111] } } : { registers: [222] });
  };

  it('a late reply never answers the next request', async () => {
    const { path, srv } = await serialDevice(lateReply());
    const bus = worker({ rtu: path });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 1, 1000))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'holding', 0, 1, 1000)).toEqual([222]);
    expect(srv.requests).toHaveLength(2);
  });

  it('(control) without the quiet time the late reply is taken for the next answer', async () => {
    const { path } = await serialDevice(lateReply());
    const bus = worker({ rtu: path }, { settleMs: 0 });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 1, 1000))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'holding', 0, 1, 1000)).toEqual([111]);
  });

  it('over an RS485 gateway (raw RTU over TCP) the same late reply is kept out', async () => {
    const srv = await server('rtu', lateReply());
    const bus = worker({ rtuOverTcp: `127.0.0.1:${srv.port}` });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 1, 1000))).toMatchObject({ kind: 'timeout' });
    expect(await bus.readRegisters(1, 'holding', 0, 1, 1000)).toEqual([222]);
  });

  it('an unopenable serial path is a connection error', async () => {
    const bus = worker({ rtu: '/nonexistent/ttyUSB9' });
    const err = await failure(bus.readRegisters(1, 'holding', 0, 1, 500));
    expect(err.kind).toBe('connection');
    expect(err.message).toMatch(/cannot open rtu \/nonexistent\/ttyUSB9/);
  });
});

describe('one FIFO per bus', () => {
  // Every register holds (unit << 8 | address): an answer meant for another request cannot pass.
  const stamp: RawHandler = (req) => ({
    registers: Array.from({ length: req.count }, (_, i) => ((req.unit << 8) | (req.address + i)) & 0xffff),
  });

  const hammer = async (bus: BusWorker) => {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const unit = 1 + (i % 3);
      const address = (i * 7) % 200;
      jobs.push(
        bus.readRegisters(unit, 'holding', address, 4, 2000).then((regs) => {
          expect(regs).toEqual([0, 1, 2, 3].map((k) => ((unit << 8) | (address + k)) & 0xffff));
        }),
      );
    }
    await Promise.all(jobs);
    expect(bus.stats()).toMatchObject({ requests: 60, failures: 0, opens: 1 });
  };

  it('concurrent requests from three units over TCP each get their own registers', async () => {
    const srv = await server('mbap', stamp);
    await hammer(worker({ tcp: `127.0.0.1:${srv.port}` }));
  });

  it('concurrent requests from three units on one serial line each get their own registers', async () => {
    const { path, srv } = await serialDevice(stamp);
    await hammer(worker({ rtu: path }));
    // One request on the wire at a time: the server saw them strictly one after the other.
    expect(srv.requests).toHaveLength(60);
  });

  it('close() rejects queued requests and waits for the one on the wire', async () => {
    const srv = await server('mbap', (req) => ({ delayMs: 200, reply: echoAddress(req) }));
    const bus = new BusWorker(
      busAddress(deviceConfig('d', 'sdm630', { tcp: `127.0.0.1:${srv.port}` }).modbus!),
    );
    const first = bus.readRegisters(1, 'holding', 5, 1, 2000);
    const queued = failure(bus.readRegisters(1, 'holding', 6, 1, 2000));
    // The first request is on the wire (the server has it) and the second waits behind it.
    await waitFor(() => srv.requests.length === 1, 5000, 'the first request on the wire', 5);
    expect(bus.stats().queueDepth).toBe(1);
    await bus.close();
    expect(await first).toEqual([5]);
    expect(await queued).toMatchObject({ kind: 'connection' });
    expect(await failure(bus.readRegisters(1, 'holding', 0, 1, 100))).toMatchObject({ kind: 'connection' });
  });
});
