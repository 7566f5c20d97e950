import type Database from 'better-sqlite3';
import type { Engine, EngineState } from '../engine/types.js';
import type { Logger } from '../log/logger.js';

/** Meta key prefix of a stored engine state that could not be restored (suffix: the time it was found). */
export const UNRESTORABLE_STATE_KEY = 'engine_state.unrestorable.';

/** A stored state the engine refused, and the meta key to keep it under. */
export interface UnrestorableState {
  json: string;
  keptAs: string;
}

/** The `engine_state` table (store migration 2): the engine's durable state as one JSON row. */
export interface StateTable {
  /** The stored engine state, or undefined before the first write. */
  load(): { json: string | null; updatedAt: number | null } | undefined;
  save(json: string, now: number): void;
}

export function stateTable(db: Database.Database): StateTable {
  const load = db.prepare<[], { json: string | null; updated_at: number | null }>(
    'SELECT json, updated_at FROM engine_state WHERE id = 1',
  );
  const save = db.prepare<[string, number]>(
    `INSERT INTO engine_state (id, json, updated_at) VALUES (1, ?, ?)
     ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`,
  );
  return {
    load() {
      const row = load.get();
      return row === undefined ? undefined : { json: row.json, updatedAt: row.updated_at };
    },
    save(json, now) {
      save.run(json, now);
    },
  };
}

/**
 * The engine state from a stored row: null without one (or when the engine refuses it, then logged and
 * returned as `bad`, to keep aside under its meta key in the start step's transaction).
 */
export function restoreState(
  engine: Engine,
  stored: ReturnType<StateTable['load']>,
  now: number,
  log: Logger,
): { state: EngineState | null; bad: UnrestorableState | null } {
  if (stored?.json == null) return { state: null, bad: null };
  try {
    return { state: engine.restore(JSON.parse(stored.json), now), bad: null };
  } catch (err) {
    const bad = { json: stored.json, keptAs: `${UNRESTORABLE_STATE_KEY}${now}` };
    log.error(
      { err, bytes: stored.json.length, updatedAt: stored.updatedAt, keptAs: bad.keptAs },
      'trading: the stored engine state cannot be restored; starting from the initial state ' +
        '(open offers and unanswered requests are forgotten; the trades table keeps the history)',
    );
    return { state: null, bad };
  }
}
