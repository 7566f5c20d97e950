import { errorText } from '../../core/errors.js';
import {
  RELAY_MODES,
  type RelayControl,
  RelayHoldError,
  type RelayMode,
  type RelaySetOptions,
  type RelayView,
} from '../../views/relays.js';
import { OpError } from './context.js';

export function listRelays(relays: RelayControl): RelayView[] {
  return relays.list();
}

/**
 * A manual mode for one relay: `on`/`off` override automation until set back to `auto`. With
 * `holdTimes`, a level change inside the load's minimum on or off time is refused (`conflict`).
 */
export async function setRelay(
  relays: RelayControl,
  p: { id: string; mode: unknown },
  options: RelaySetOptions = {},
): Promise<RelayView> {
  if (!relays.has(p.id)) throw new OpError(`no relay ${p.id}`, 'not-found');
  if (typeof p.mode !== 'string' || !(RELAY_MODES as readonly string[]).includes(p.mode))
    throw new OpError(`give {"mode": "on" | "off" | "auto"}`, 'usage');
  try {
    return await relays.set(p.id, p.mode as RelayMode, options);
  } catch (err) {
    if (err instanceof RelayHoldError) throw new OpError(err.message, 'conflict');
    throw new OpError(`relay ${p.id} could not be switched: ${errorText(err)}`, 'unavailable');
  }
}
