import { createServer, type Server, type Socket } from 'node:net';

/**
 * A tiny hand-written Modbus server for fault tests: it answers each request with whatever the test
 * says, including exceptions, garbage, truncated frames, late replies and silence. `rtu` framing (with
 * CRC, no MBAP) is what RS485 gateways pass over TCP; bridged to a pty by socat it is a serial device.
 */

export interface RawRequest {
  unit: number;
  fc: number;
  address: number;
  count: number;
  /** Register values of a write (function 16) or the value of function 6. */
  values?: number[];
}

export type RawReply =
  | { registers: number[] }
  | { exception: number }
  /** Bytes sent as they are (the test builds garbage or a cut frame itself). */
  | { bytes: Buffer }
  /** Any PDU, framed properly (MBAP header or unit + CRC). */
  | { pdu: Buffer }
  /** A normal reply, with its frame cut to `keep` bytes. */
  | { registers: number[]; truncateTo: number }
  | { silence: true }
  | { delayMs: number; reply: RawReply }
  | { ack: true };

export type RawHandler = (req: RawRequest) => RawReply;

export interface RawServer {
  port: number;
  requests: RawRequest[];
  /** Drops every open connection (like a gateway reboot); the server keeps listening. */
  dropConnections(): void;
  close(): Promise<void>;
}

export function crc16(buf: Buffer): number {
  let crc = 0xffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function withCrc(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  frame.copy(out);
  out.writeUInt16LE(crc16(frame), frame.length);
  return out;
}

function pduFor(req: RawRequest, reply: RawReply): Buffer | null {
  if ('pdu' in reply) return reply.pdu;
  if ('exception' in reply) return Buffer.from([req.fc | 0x80, reply.exception]);
  if ('ack' in reply) {
    const pdu = Buffer.alloc(5);
    pdu[0] = req.fc;
    pdu.writeUInt16BE(req.address, 1);
    pdu.writeUInt16BE(req.fc === 16 ? req.count : (req.values?.[0] ?? 0), 3);
    return pdu;
  }
  if ('registers' in reply) {
    const pdu = Buffer.alloc(2 + reply.registers.length * 2);
    pdu[0] = req.fc;
    pdu[1] = reply.registers.length * 2;
    reply.registers.forEach((r, i) => {
      pdu.writeUInt16BE(r, 2 + i * 2);
    });
    return pdu;
  }
  return null;
}

function frameFor(framing: 'rtu' | 'mbap', req: RawRequest, tid: number, reply: RawReply): Buffer | null {
  if ('bytes' in reply) return reply.bytes;
  const pdu = pduFor(req, reply);
  if (pdu === null) return null;
  let frame: Buffer;
  if (framing === 'rtu') {
    frame = withCrc(Buffer.concat([Buffer.from([req.unit]), pdu]));
  } else {
    frame = Buffer.alloc(7 + pdu.length);
    frame.writeUInt16BE(tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(pdu.length + 1, 4);
    frame[6] = req.unit;
    pdu.copy(frame, 7);
  }
  return 'truncateTo' in reply ? frame.subarray(0, reply.truncateTo) : frame;
}

function parseRequest(pdu: Buffer, unit: number): RawRequest {
  const fc = pdu[0] ?? 0;
  const address = pdu.readUInt16BE(1);
  if (fc === 6) return { unit, fc, address, count: 1, values: [pdu.readUInt16BE(3)] };
  const count = pdu.readUInt16BE(3);
  if (fc === 16) {
    const values: number[] = [];
    for (let i = 0; i < count; i++) values.push(pdu.readUInt16BE(6 + i * 2));
    return { unit, fc, address, count, values };
  }
  return { unit, fc, address, count };
}

/** Splits complete requests off the front of `buf`: [unit, pdu, tid] per request, and the rest. */
function takeRequests(
  framing: 'rtu' | 'mbap',
  buf: Buffer,
): { reqs: [number, Buffer, number][]; rest: Buffer } {
  const reqs: [number, Buffer, number][] = [];
  let rest = buf;
  for (;;) {
    if (framing === 'mbap') {
      if (rest.length < 7) break;
      const len = rest.readUInt16BE(4);
      if (rest.length < 6 + len) break;
      reqs.push([rest[6] ?? 0, rest.subarray(7, 6 + len), rest.readUInt16BE(0)]);
      rest = rest.subarray(6 + len);
    } else {
      if (rest.length < 8) break;
      const fc = rest[1] ?? 0;
      const len = fc === 16 ? 9 + (rest[6] ?? 0) : 8;
      if (rest.length < len) break;
      const frame = rest.subarray(0, len);
      if (crc16(frame.subarray(0, len - 2)) !== frame.readUInt16LE(len - 2)) {
        rest = rest.subarray(1); // resync on the next byte
        continue;
      }
      reqs.push([frame[0] ?? 0, frame.subarray(1, len - 2), 0]);
      rest = rest.subarray(len);
    }
  }
  return { reqs, rest };
}

export async function startRawServer(framing: 'rtu' | 'mbap', handler: RawHandler): Promise<RawServer> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    // Answers leave in request order, as on a real line: a late answer delays the ones after it.
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      const { reqs, rest } = takeRequests(framing, Buffer.concat([pending, chunk]));
      pending = rest;
      for (const [unit, pdu, tid] of reqs) {
        const req = parseRequest(pdu, unit);
        requests.push(req);
        let reply = handler(req);
        chain = chain.then(async () => {
          while ('delayMs' in reply) {
            const { delayMs, reply: next }: { delayMs: number; reply: RawReply } = reply;
            await new Promise((r) => setTimeout(r, delayMs));
            reply = next;
          }
          const frame = frameFor(framing, req, tid, reply);
          if (frame !== null && !socket.destroyed) socket.write(frame);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  const dropConnections = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: addr.port,
    requests,
    dropConnections,
    close: async () => {
      dropConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A register image for one unit: `image.get(address)` or 0 where nothing was put. */
export function registerImage(
  values: Record<number, number[]>,
): (address: number, count: number) => number[] {
  const map = new Map<number, number>();
  for (const [start, regs] of Object.entries(values)) {
    regs.forEach((r, i) => {
      map.set(Number(start) + i, r);
    });
  }
  return (address, count) => Array.from({ length: count }, (_, i) => map.get(address + i) ?? 0);
}
