/** `auto`: the controller decides (today: the relay's safe state); `on`/`off`: a person decided. */
export type RelayMode = 'auto' | 'on' | 'off';

export const RELAY_MODES: readonly RelayMode[] = ['auto', 'on', 'off'];

export interface RelayView {
  id: string;
  mode: RelayMode;
  /** Last level written, or null when unknown (the line is faulted). */
  on: boolean | null;
  safeState: 'on' | 'off';
  /** The configured load's power, W. */
  loadW: number | null;
  state: 'starting' | 'ok' | 'fault';
  lastError: string | null;
  /** When the mode last changed, epoch ms (null: never since start). */
  changedTs: number | null;
}

export interface RelaySetOptions {
  /**
   * Refuse an `on`/`off` that would change the level before the load's minimum on or off time
   * (`load.minOnS`, `load.minOffS`) has run since its last switch. Commands from home automation ask for
   * it, since an automation may toggle a load as fast as its inputs change; a person at the page does not.
   */
  holdTimes?: boolean;
}

/** A level change refused because the load's minimum on or off time is still running. */
export class RelayHoldError extends Error {
  override readonly name = 'RelayHoldError';
  constructor(
    message: string,
    /** Seconds until the change is allowed. */
    readonly waitS: number,
  ) {
    super(message);
  }
}

/** The relays as a person drives them (page, API, control socket): an override wins until set back to auto. */
export interface RelayControl {
  list(): RelayView[];
  has(id: string): boolean;
  set(id: string, mode: RelayMode, options?: RelaySetOptions): Promise<RelayView>;
}
