import type { Config } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import type { Relay } from '../devices/gpio/index.js';
import type { Logger } from '../log/logger.js';
import type { EngineRelays } from '../trading/actuation.js';
import type { RelaySetOptions } from '../views/relays.js';
import { type RelayMode, RelayOverrides, type RelayView } from './web-relays.js';

/**
 * The relays as both the page and the engine drive them. A person's override (`on`/`off`) wins: the
 * engine's commands are remembered but not written while it lasts. Back in `auto`, the relay takes the
 * engine's current wish (the base class first writes the safe state, then the wish is written here).
 * The page sees the level the engine wrote for relays in `auto`.
 */
export class AutomatedRelays extends RelayOverrides implements EngineRelays {
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

  override async set(id: string, mode: RelayMode, options?: RelaySetOptions): Promise<RelayView> {
    const view = await super.set(id, mode, options);
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
      this.noteWritten(id, on);
      this.counts.switches++;
      this.logger.info({ relay: id, on }, on ? 'relay on: bought energy' : 'relay off');
    } catch (err) {
      this.automatic.set(id, null);
      this.noteWritten(id, null);
      this.counts.failures++;
      this.lastError = { message: `relay ${id}: ${errorText(err)}`, ts: this.clock() };
      this.logger.error({ relay: id, on, err: errorText(err) }, 'relay command failed');
    }
  }
}
