/**
 * The part of the store (src/store) the link uses, stated here so the link depends on behaviour, not on
 * the store's module. The store's `Store` satisfies it.
 */
export interface DeadLetterInput {
  direction: 'in' | 'out';
  reason: string;
  topic: string;
  payload: Buffer;
  from?: string;
  messageId?: string;
}

export interface LinkStore {
  readonly deadLetters: { add(d: DeadLetterInput, now: number): number };
  readonly inbox: { firstSeen(from: string, id: string, now: number): boolean };
  readonly seq: { next(): number };
  transaction<T>(fn: () => T, opts?: { durable?: boolean }): T;
}
