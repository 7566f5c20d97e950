import type { QuantityName, Snapshot } from '../core/quantities.js';
import type { AckBody } from '../protocol/trading.js';
import { engineId } from './ids.js';
import type { Command, EngineConfig, OutgoingMessage } from './types.js';

/** What one step accumulates: its time, the ids it made and the commands it emits. Local to the step. */
export interface StepContext {
  readonly cfg: EngineConfig;
  readonly now: number;
  /** The id counter as it will be stored (starts at the durable one). */
  counter: number;
  readonly commands: Command[];
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
export type DraftMessage = WithoutId<OutgoingMessage>;

export function newContext(cfg: EngineConfig, now: number, counter: number): StepContext {
  return { cfg, now, counter, commands: [] };
}

export function nextId(ctx: StepContext): string {
  return engineId(ctx.cfg.homeId, ctx.counter++, ctx.now);
}

/** Emits a `send` with a fresh envelope id. */
export function send(ctx: StepContext, draft: DraftMessage): void {
  ctx.commands.push({ kind: 'send', message: { ...draft, id: nextId(ctx) } as OutgoingMessage });
}

/** Acknowledges a trade or a settlement to the home that sent it (`corr`: the envelope acknowledged). */
export function sendAck(ctx: StepContext, to: string, body: AckBody, corr: string): void {
  send(ctx, { type: 'ack', to: { inbox: to }, class: 'trade-ack', body, corr });
}

/** A snapshot value that may be used as truth, else null. */
export function goodValue(snapshot: Snapshot, name: QuantityName): number | null {
  const r = snapshot.quantities[name];
  if (r?.quality !== 'good' || typeof r.value !== 'number' || !Number.isFinite(r.value)) return null;
  return r.value;
}
