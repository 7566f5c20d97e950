import type { Config } from '../config/schema.js';
import { type Device, errorText } from '../devices/device.js';
import type { Relay } from '../devices/gpio/index.js';
import type { ModbusDevice } from '../devices/modbus/device.js';
import type { Logger } from '../log/logger.js';
import type { ActuatorCommand } from '../trading/host.js';
import { type RelayMode, RelayOverrides, type RelayView } from './web-relays.js';

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
 * The relays as both the page and the engine drive them. A person's override (`on`/`off`) wins: the
 * engine's commands are remembered but not written while it lasts. Back in `auto`, the relay takes the
 * engine's current wish (the base class first writes the safe state, then the wish is written here).
 * The page sees the level the engine wrote for relays in `auto`.
 */
export class AutomatedRelays extends RelayOverrides {
  private readonly wanted = new Map<string, boolean>();
  /** Levels written by the engine's commands while in auto (null: the write failed, level unknown). */
  private readonly automatic = new Map<string, boolean | null>();
  private halted = false;
  readonly counts = { commands: 0, switches: 0, failures: 0, overridden: 0 };
  lastError: { message: string; ts: number } | null = null;

  constructor(
    private readonly outputs: readonly Relay[],
    config: Config,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {
    super(outputs, config, logger, clock);
  }

  /** The engine's command for one relay. Never throws: a failure is logged and counted. */
  async automate(id: string, on: boolean): Promise<void> {
    if (this.halted) return;
    this.counts.commands++;
    this.wanted.set(id, on);
    const mode = this.mode(id);
    if (mode !== undefined && mode !== 'auto') {
      this.counts.overridden++;
      this.logger.info({ relay: id, on, mode }, 'relay set by hand: the engine command waits for auto');
      return;
    }
    await this.write(id, on);
  }

  /** No more engine commands (shutdown: the relays are about to go to their safe state). */
  halt(): void {
    this.halted = true;
  }

  /** Back to `auto` goes straight to what the engine wants (no click through the safe state). */
  protected override autoLevel(relay: Relay): boolean {
    const want = this.halted ? undefined : this.wanted.get(relay.id);
    return want ?? super.autoLevel(relay);
  }

  override async set(id: string, mode: RelayMode): Promise<RelayView> {
    const view = await super.set(id, mode);
    this.automatic.delete(id);
    return view;
  }

  override list(): RelayView[] {
    return super.list().map((v) => {
      const on = this.automatic.get(v.id);
      return on === undefined || v.mode !== 'auto' || v.state === 'fault' ? v : { ...v, on };
    });
  }

  private async write(id: string, on: boolean): Promise<void> {
    const relay = this.outputs.find((r) => r.id === id);
    try {
      if (!relay) throw new Error(`no relay ${id} among the devices`);
      await relay.set(on);
      this.automatic.set(id, on);
      this.counts.switches++;
      this.logger.info({ relay: id, on }, on ? 'relay on: bought energy' : 'relay off');
    } catch (err) {
      this.automatic.set(id, null);
      this.counts.failures++;
      this.lastError = { message: `relay ${id}: ${errorText(err)}`, ts: this.clock() };
      this.logger.error({ relay: id, on, err: errorText(err) }, 'relay command failed');
    }
  }
}

/** A device that can limit its output (a SunSpec inverter with model 123). */
function limiter(d: Device): Pick<ModbusDevice, 'writeExportLimit'> | null {
  const w = (d as Partial<ModbusDevice>).writeExportLimit;
  return typeof w === 'function' ? (d as ModbusDevice) : null;
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
    readonly relays: AutomatedRelays,
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
      const target = device ? limiter(device) : null;
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
