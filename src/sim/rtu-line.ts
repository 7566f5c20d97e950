import type { Duplex } from 'node:stream';
import type { SimBus } from './bus.js';
import { crcValid, withCrc } from './crc16.js';
import { garbleRtuFrame, truncateFrame } from './faults.js';

/** Silence after which a partial frame is abandoned (RTU frames end with a gap; this one is generous). */
const FRAME_GAP_MS = 50;

/** Length of the request frame at the start of `buf`; undefined = not enough bytes yet; null = unknown. */
function requestLength(buf: Buffer): number | null | undefined {
  const fc = buf[1];
  if (fc === undefined) return undefined;
  if (fc >= 0x01 && fc <= 0x06) return 8;
  if (fc === 0x0f || fc === 0x10) {
    const byteCount = buf[6];
    return byteCount === undefined ? undefined : 9 + byteCount;
  }
  return null;
}

/**
 * Modbus RTU on one shared line (a serial port, or a TCP stream from an RS485 gateway): every unit on
 * the bus sees every frame and only the addressed one answers. Frames are cut by the length their
 * function code implies; a bad CRC costs a byte of resync, like a receiver hunting for the next frame.
 */
export function serveRtu(line: Duplex, bus: SimBus): () => void {
  let pending: Buffer = Buffer.alloc(0);
  let gapTimer: NodeJS.Timeout | undefined;

  const answerFrame = (frame: Buffer) => {
    const unitId = frame[0] ?? 0;
    // Address 0 is a broadcast: nobody answers it, and this bus has nothing to broadcast to.
    if (unitId === 0) return;
    const reply = bus.handle(unitId, frame.subarray(1, frame.length - 2));
    if (reply === null) return;
    let out = withCrc(Buffer.concat([Buffer.from([unitId]), reply.pdu]));
    if (reply.mangle === 'garbage') out = garbleRtuFrame(out, bus.random);
    if (reply.mangle === 'truncated') out = truncateFrame(out, 2);
    line.write(out);
  };

  const drain = () => {
    while (pending.length >= 4) {
      const need = requestLength(pending);
      if (need === undefined || need === null || pending.length < need) return;
      const frame = pending.subarray(0, need);
      if (crcValid(frame)) {
        pending = pending.subarray(need);
        answerFrame(frame);
      } else {
        pending = pending.subarray(1);
      }
    }
  };

  // After a gap the buffer holds one frame at most: an unknown function with a good CRC still gets its
  // "illegal function" answer; anything else is noise.
  const onGap = () => {
    if (crcValid(pending)) answerFrame(pending);
    pending = Buffer.alloc(0);
  };

  const onData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    drain();
    clearTimeout(gapTimer);
    gapTimer = pending.length > 0 ? setTimeout(onGap, FRAME_GAP_MS) : undefined;
  };
  line.on('data', onData);

  return () => {
    clearTimeout(gapTimer);
    line.off('data', onData);
  };
}
