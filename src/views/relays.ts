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

/** The relays as a person drives them (page, API, control socket): an override wins until set back to auto. */
export interface RelayControl {
  list(): RelayView[];
  has(id: string): boolean;
  set(id: string, mode: RelayMode): Promise<RelayView>;
}
