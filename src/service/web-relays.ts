import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import type { Relay } from '../devices/gpio/index.js';
import type { Logger } from '../log/logger.js';
import {
  type RelayControl,
  RelayHoldError,
  type RelayMode,
  type RelaySetOptions,
  type RelayView,
} from '../views/relays.js';

// The relay trading's actuators drive: its view types stay importable from here.
export type { RelayMode, RelayView } from '../views/relays.js';

/**
 * Manual relay overrides from the page or the API. An override lasts until set back to `auto` or until
 * the service restarts (a restart always starts from the safe state, as after a power cut). Automation
 * must leave an overridden relay alone: ask `mode(id)` before switching.
 */
export class RelayOverrides implements RelayControl {
  private readonly modes = new Map<string, { mode: RelayMode; changedTs: number | null }>();
  private readonly levels = new Map<string, boolean | null>();
  private readonly loads: Map<string, number>;
  private readonly holds: Map<string, { minOnS: number; minOffS: number }>;
  /** The last level written by anyone (hand or engine) and when it last changed: what hold times count from. */
  private readonly written = new Map<string, { on: boolean; changedTs: number | null }>();

  constructor(
    private readonly relays: readonly Relay[],
    config: Config,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.loads = new Map(
      config.devices.filter((d) => d.load).map((d) => [d.id, d.load?.powerW ?? 0] as [string, number]),
    );
    this.holds = new Map(config.devices.flatMap((d) => (d.load ? [[d.id, d.load] as const] : [])));
    for (const r of relays) {
      this.modes.set(r.id, { mode: 'auto', changedTs: null });
      // The start is no switch: like the engine, the first change after a start is never held back.
      if (r.health().state === 'ok') this.written.set(r.id, { on: r.safeState, changedTs: null });
      this.levels.set(r.id, r.health().state === 'ok' ? r.safeState : null);
    }
  }

  mode(id: string): RelayMode | undefined {
    return this.modes.get(id)?.mode;
  }

  list(): RelayView[] {
    return this.relays.map((r) => this.view(r));
  }

  has(id: string): boolean {
    return this.modes.has(id);
  }

  /** The level `auto` means for a relay: the safe state, unless automation says otherwise. */
  protected autoLevel(relay: Relay): boolean {
    return relay.safeState;
  }

  /** A level was written to a relay (null: the write failed, the level is unknown). */
  protected noteWritten(id: string, on: boolean | null): void {
    if (on === null) {
      this.written.delete(id);
      return;
    }
    const last = this.written.get(id);
    if (last?.on !== on) this.written.set(id, { on, changedTs: this.now() });
  }

  /** Throws RelayHoldError when switching `id` to `on` now would cut its load's minimum on or off time. */
  private checkHold(id: string, on: boolean): void {
    const last = this.written.get(id);
    const hold = this.holds.get(id);
    if (!last || !hold || last.on === on || last.changedTs === null) return;
    const holdS = last.on ? hold.minOnS : hold.minOffS;
    const waitS = Math.ceil(holdS - (this.now() - last.changedTs) / 1000);
    if (waitS <= 0) return;
    const key = last.on ? 'minOnS' : 'minOffS';
    throw new RelayHoldError(
      `${id} switched ${last.on ? 'on' : 'off'} less than ${holdS} s ago (load.${key}): it may switch ${on ? 'on' : 'off'} in ${waitS} s`,
      waitS,
    );
  }

  /** Applies a mode; rejects (and the relay keeps its previous mode) when the line cannot be written. */
  async set(id: string, mode: RelayMode, options: RelaySetOptions = {}): Promise<RelayView> {
    const relay = this.relays.find((r) => r.id === id);
    if (!relay) throw new Error(`no relay ${id}`);
    const on = mode === 'auto' ? this.autoLevel(relay) : mode === 'on';
    // `auto` hands the relay back to the engine, which keeps the hold times itself.
    if (options.holdTimes && mode !== 'auto') this.checkHold(id, on);
    try {
      await relay.set(on);
      this.levels.set(id, on);
      this.noteWritten(id, on);
    } catch (err) {
      this.levels.set(id, null);
      this.noteWritten(id, null);
      this.log.error({ relay: id, mode, err: errorText(err) }, 'relay override failed');
      throw err;
    }
    this.modes.set(id, { mode, changedTs: this.now() });
    this.log.warn(
      { relay: id, mode, on },
      mode === 'auto' ? 'relay back to automatic' : 'relay overridden by hand',
    );
    return this.view(relay);
  }

  private view(r: Relay): RelayView {
    const h = r.health();
    const m = this.modes.get(r.id);
    return {
      id: r.id,
      mode: m?.mode ?? 'auto',
      on: h.state === 'fault' ? null : (this.levels.get(r.id) ?? null),
      safeState: r.safeState ? 'on' : 'off',
      loadW: this.loads.get(r.id) ?? null,
      state: h.state,
      lastError: h.lastError,
      changedTs: m?.changedTs ?? null,
    };
  }
}
