import type { I2cBus } from './bus.js';

/** The 7-bit addresses a scan visits: 0x00–0x02 and 0x78–0x7F are reserved by the I2C spec. */
const FIRST_SCAN_ADDRESS = 0x03;
const LAST_SCAN_ADDRESS = 0x77;

/**
 * Addresses that acknowledge, in ascending order. Each probe is one queued transaction, so a scan
 * interleaves with (and never corrupts) the readings of devices on the same bus.
 */
export async function scanI2c(bus: I2cBus): Promise<number[]> {
  const found: number[] = [];
  for (let address = FIRST_SCAN_ADDRESS; address <= LAST_SCAN_ADDRESS; address++) {
    if (await bus.probe(address)) found.push(address);
  }
  return found;
}
