import type { Socket } from 'node:net';
import type { SimBus } from './bus.js';
import { garblePdu, truncateFrame } from './faults.js';
import { EXCEPTION, exceptionPdu } from './modbus-pdu.js';

const MBAP_LENGTH = 7;
/** Largest MBAP length field: unit id plus the largest PDU (253 bytes). */
const MAX_MBAP_LENGTH = 254;

/**
 * Modbus TCP (MBAP framing) for one connection, like an RS485 gateway in front of the bus: requests to a
 * unit that is not on the bus get exception 0x0B, a silent unit gets no answer at all.
 */
export function serveMbap(socket: Socket, bus: SimBus): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= MBAP_LENGTH) {
      const length = pending.readUInt16BE(4);
      if (length < 2 || length > MAX_MBAP_LENGTH) {
        // Out of step: a real gateway drops such a client.
        socket.destroy();
        return;
      }
      if (pending.length < 6 + length) break;
      const frame = pending.subarray(0, 6 + length);
      pending = pending.subarray(6 + length);
      const reply = answer(frame, bus);
      if (reply) socket.write(reply);
    }
  });
}

function answer(frame: Buffer, bus: SimBus): Buffer | null {
  if (frame.readUInt16BE(2) !== 0) return null; // not the Modbus protocol id
  const unitId = frame[6] ?? 0;
  const request = frame.subarray(MBAP_LENGTH);
  let pdu: Buffer;
  let truncated = false;
  if (!bus.has(unitId)) {
    pdu = exceptionPdu(request[0] ?? 0, EXCEPTION.gatewayTargetFailedToRespond);
  } else {
    const reply = bus.handle(unitId, request);
    if (reply === null) return null;
    pdu = reply.mangle === 'garbage' ? garblePdu(reply.pdu, bus.random) : reply.pdu;
    truncated = reply.mangle === 'truncated';
  }
  const out = Buffer.alloc(MBAP_LENGTH + pdu.length);
  out.writeUInt16BE(frame.readUInt16BE(0), 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  pdu.copy(out, MBAP_LENGTH);
  // Cut short, the header still announces the whole answer: the master waits for bytes that never come.
  return truncated ? truncateFrame(out, MBAP_LENGTH + 1) : out;
}
