/**
 * Who carries the zone while no broker can be reached (docs/protocol.md "Fallback"): pure rules over what
 * a home has observed, with the time passed in, so the same code decides on the system clock and on the
 * neighbourhood simulation's.
 *
 * - The candidates are the members that may host: those with a fallback endpoint in the keyring (this
 *   home only with `fallback.host`). Among the candidates reachable from here, the lowest home id leads.
 * - A leader holds a term (epoch) by a lease it renews; a term is taken with an epoch above every epoch
 *   this home has seen, so terms only go up.
 * - A term heard with a lower epoch than one already seen is stale and ignored; two leaders announcing the
 *   same epoch (two islands meeting) resolve to the lower home id.
 */

export interface Term {
  leader: string;
  epoch: number;
  /** The lease: the term holds until then (epoch ms) unless renewed. */
  until: number;
}

export interface ElectionState {
  /** The highest epoch seen: this home's own terms, those announced to it, those members bring. */
  epoch: number;
  /** The term this home follows or holds, or null. */
  term: Term | null;
}

export const NO_ELECTION: ElectionState = { epoch: 0, term: null };

/** The lowest candidate that is reachable from here (this home counts when it may host), or null. */
export function chooseLeader(
  self: string,
  mayHost: boolean,
  candidates: readonly string[],
  reachable: (home: string) => boolean,
): string | null {
  let best: string | null = null;
  for (const home of candidates) {
    const ok = home === self ? mayHost : reachable(home);
    if (ok && (best === null || home < best)) best = home;
  }
  return best;
}

/** The term still holds (its lease has not run out). */
export function holds(term: Term | null, now: number): boolean {
  return term !== null && now < term.until;
}

/** The current term, or null when there is none or its lease ran out. */
export function currentTerm(state: ElectionState, now: number): Term | null {
  return state.term !== null && holds(state.term, now) ? state.term : null;
}

/** A term announced by a leader: adopted unless stale (a lower epoch), expired, or beaten by a lower id. */
export function heard(state: ElectionState, term: Term, now: number): ElectionState {
  if (term.epoch < state.epoch || !holds(term, now)) return state;
  const mine = currentTerm(state, now);
  if (mine && term.epoch === mine.epoch && mine.leader !== term.leader && mine.leader < term.leader) {
    return state;
  }
  return { epoch: term.epoch, term: { ...term } };
}

/** An epoch learnt some other way (a member's CONNECT token): raises what this home has seen. */
export function sawEpoch(state: ElectionState, epoch: number): ElectionState {
  return epoch > state.epoch ? { ...state, epoch } : state;
}

/** This home takes a new term: the next epoch above every one seen. */
export function takeTerm(state: ElectionState, self: string, now: number, leaseMs: number): ElectionState {
  const epoch = state.epoch + 1;
  return { epoch, term: { leader: self, epoch, until: now + leaseMs } };
}

/** The leader renews its lease; a term this home does not hold is left alone. */
export function renew(state: ElectionState, self: string, now: number, leaseMs: number): ElectionState {
  const t = state.term;
  if (!t || t.leader !== self) return state;
  return { ...state, term: { ...t, until: now + leaseMs } };
}

/**
 * The leader's own term is behind an epoch it has seen since (islands that met): it must take a new
 * term, or members that saw the higher epoch would ignore it as stale.
 */
export function mustRetake(state: ElectionState, self: string): boolean {
  return state.term?.leader === self && state.term.epoch < state.epoch;
}

/** The leader is gone (its connection lost, its lease out): forget its term, keep the epoch seen. */
export function lost(state: ElectionState): ElectionState {
  return { epoch: state.epoch, term: null };
}
