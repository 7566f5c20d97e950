import type { ModbusConfig } from '../../config/schema.js';
import { type BusStats, BusWorker, type BusWorkerOptions } from './bus-worker.js';
import { busAddress } from './transport.js';

/**
 * Hands out one BusWorker per physical bus (serial path, TCP host:port, gateway host:port), so every
 * unit on a bus shares its FIFO. Devices on one serial line must agree on its line settings.
 */
export class BusRegistry {
  private readonly workers = new Map<string, BusWorker>();

  constructor(private readonly opts: BusWorkerOptions = {}) {}

  get(cfg: ModbusConfig): BusWorker {
    const address = busAddress(cfg);
    const existing = this.workers.get(address.key);
    if (existing !== undefined) {
      const a = existing.address;
      if (a.kind === 'rtu' && address.kind === 'rtu') {
        const mismatch = (['baudRate', 'parity', 'dataBits', 'stopBits'] as const).find(
          (k) => a[k] !== address[k],
        );
        if (mismatch !== undefined) {
          throw new Error(
            `devices on ${address.path} disagree on ${mismatch} (${a[mismatch]} vs ${address[mismatch]}): one serial line has one setting`,
          );
        }
      }
      return existing;
    }
    const worker = new BusWorker(address, this.opts);
    this.workers.set(address.key, worker);
    return worker;
  }

  stats(): BusStats[] {
    return [...this.workers.values()].map((w) => w.stats());
  }

  async closeAll(): Promise<void> {
    const workers = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.close()));
  }
}
