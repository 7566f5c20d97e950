/** The Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF); sent low byte first. */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ (TABLE[(crc ^ b) & 0xff] ?? 0);
  return crc;
}

/** Appends the CRC to an RTU frame body (address, PDU). */
export function withCrc(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  frame.writeUInt16LE(crc16(body), body.length);
  return frame;
}

export function crcValid(frame: Uint8Array): boolean {
  if (frame.length < 4) return false;
  const body = frame.subarray(0, frame.length - 2);
  const sent = (frame[frame.length - 2] ?? 0) | ((frame[frame.length - 1] ?? 0) << 8);
  return crc16(body) === sent;
}
