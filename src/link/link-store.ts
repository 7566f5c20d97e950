import type { DeadLetterInput } from '../store/dead-letters.js';

/**
 * The part of the store (src/store) the link uses, stated here so the link depends on behaviour, not on
 * the store's module (only its dead-letter row type, at compile time). The store's `Store` satisfies it.
 */
export interface LinkStore {
  readonly deadLetters: { add(d: DeadLetterInput, now: number): number };
  readonly inbox: { firstSeen(from: string, id: string, now: number): boolean };
  readonly seq: { next(): number };
  transaction<T>(fn: () => T, opts?: { durable?: boolean }): T;
}
