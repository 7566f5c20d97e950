import { errorText } from '../core/errors.js';
import { isExportLimiter } from '../devices/capabilities.js';
import type { Device } from '../devices/device.js';
import type { Logger } from '../log/logger.js';
import type { ActuatorCommand } from './host.js';

/** What the engine asked of the relays and the inverter, and what came of it. */
export interface ActuationStats {
  relayCommands: number;
  relaySwitches: number;
  relayFailures: number;
  /** Commands that found the relay under a manual override: remembered, applied when it returns to auto. */
  relayOverridden: number;
  exportLimitWrites: number;
  exportLimitFailures: number;
  /** The last limit written to the inverter, % (null: none written, or lifted). */
  exportLimitPct: number | null;
  lastError: string | null;
  lastErrorTs: number | null;
}

/**
 * The relays as the engine drives them (the service's AutomatedRelays, where a person's override on the
 * page wins). `automate` never throws: a failure is logged and counted.
 */
export interface EngineRelays {
  automate(id: string, on: boolean): Promise<void>;
  /** No more engine commands (shutdown: the relays are about to go to their safe state). */
  halt(): void;
  readonly counts: { commands: number; switches: number; failures: number; overridden: number };
  readonly lastError: { message: string; ts: number } | null;
}

/**
 * Carries out the engine's actuator commands after their step committed: relays through the same
 * path as the page's overrides, export limits on the inverter's bus (queued like any request; only
 * the newest limit waits while one is being written). Never throws.
 */
export class Actuation {
  private readonly lanes = new Map<string, { busy: boolean; next: { pct: number | null } | null }>();
  private halted = false;
  private readonly limit = {
    writes: 0,
    failures: 0,
    pct: null as number | null,
    lastError: null as { message: string; ts: number } | null,
  };

  constructor(
    private readonly relays: EngineRelays,
    private readonly devices: readonly Device[],
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  apply(cmds: readonly ActuatorCommand[]): void {
    if (this.halted) return;
    for (const cmd of cmds) {
      if (cmd.kind === 'relay') void this.relays.automate(cmd.id, cmd.on);
      else void this.exportLimit(cmd.device, cmd.pct);
    }
  }

  /** Ignores later commands (shutdown: relays go to their safe state, the buses close). */
  halt(): void {
    this.halted = true;
    this.relays.halt();
  }

  stats(): ActuationStats {
    const r = this.relays.counts;
    const errors = [this.relays.lastError, this.limit.lastError].filter((e) => e !== null);
    const last = errors.sort((a, b) => b.ts - a.ts)[0] ?? null;
    return {
      relayCommands: r.commands,
      relaySwitches: r.switches,
      relayFailures: r.failures,
      relayOverridden: r.overridden,
      exportLimitWrites: this.limit.writes,
      exportLimitFailures: this.limit.failures,
      exportLimitPct: this.limit.pct,
      lastError: last?.message ?? null,
      lastErrorTs: last?.ts ?? null,
    };
  }

  private async exportLimit(device: string, pct: number | null): Promise<void> {
    let lane = this.lanes.get(device);
    if (!lane) {
      lane = { busy: false, next: null };
      this.lanes.set(device, lane);
    }
    lane.next = { pct };
    if (lane.busy) return;
    lane.busy = true;
    try {
      while (lane.next) {
        const want = lane.next.pct;
        lane.next = null;
        await this.writeLimit(device, want);
      }
    } finally {
      lane.busy = false;
    }
  }

  private async writeLimit(id: string, pct: number | null): Promise<void> {
    try {
      const device = this.devices.find((d) => d.id === id);
      // Only a device whose driver declares the capability (a SunSpec inverter with model 123 controls).
      const target = device && isExportLimiter(device) ? device : null;
      if (!target) throw new Error(`no inverter ${id} that takes an export limit`);
      await target.writeExportLimit(pct);
      this.limit.writes++;
      this.limit.pct = pct;
    } catch (err) {
      this.limit.failures++;
      this.limit.lastError = { message: `export limit on ${id}: ${errorText(err)}`, ts: this.now() };
      this.log.error({ device: id, pct, err: errorText(err) }, 'export limit command failed');
    }
  }
}
