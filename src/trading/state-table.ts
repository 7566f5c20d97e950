import type Database from 'better-sqlite3';

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
