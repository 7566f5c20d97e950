import { SerialPort } from 'serialport';

/** Opens a serial device (or one end of a pty pair) raw, 8 data bits, 1 stop bit, for the RTU server. */
export async function openSerialLine(
  path: string,
  baudRate: number,
  parity: 'none' | 'even' | 'odd',
): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, dataBits: 8, parity, stopBits: 1, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

export async function closeSerialLine(port: SerialPort): Promise<void> {
  if (!port.isOpen) return;
  await new Promise<void>((resolve) => port.close(() => resolve()));
}
