import type Database from 'better-sqlite3';

/**
 * The schema history. `PRAGMA user_version` is the number of migrations applied; each migration runs
 * in one transaction with the version bump, so a crash leaves the database either before or after it.
 * Never edit a released migration: append a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox, dead letters, inbox dedupe, seq, meta, readings',
    sql: `
      -- row_id = class slot × 10^12 + a sequence number from the tally, never reused (see outbox-sql.ts):
      -- the rowid B-tree itself is in drain order, and a late ack for a deleted row never hits a new one.
      CREATE TABLE outbox (
        row_id INTEGER PRIMARY KEY,
        class TEXT NOT NULL
          CHECK (class IN ('trade','trade-ack','reject','settlement','accept','offer','telemetry')),
        msg_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        retain INTEGER NOT NULL,
        expires_at INTEGER,
        coalesce_key TEXT,
        enqueued_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        bytes INTEGER NOT NULL
      );
      CREATE INDEX outbox_by_expiry ON outbox (class, expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX outbox_by_coalesce ON outbox (coalesce_key, row_id) WHERE coalesce_key IS NOT NULL;

      -- All the outbox bookkeeping in one small table, so a commit touches one page for it: depth and
      -- bytes per class ('class:<name>', kept by triggers, rolled back with the rows), the persisted
      -- counters, the last success time and the rowId sequence.
      CREATE TABLE outbox_tally (
        name TEXT PRIMARY KEY,
        n INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      INSERT INTO outbox_tally (name) VALUES
        ('class:trade'), ('class:trade-ack'), ('class:reject'), ('class:settlement'), ('class:accept'),
        ('class:offer'), ('class:telemetry'), ('sent'), ('retries'), ('dead_letters'), ('expired'),
        ('coalesced'), ('shed_cap'), ('purged'), ('over_cap'), ('last_success_ts'), ('row_seq');
      CREATE TRIGGER outbox_tally_insert AFTER INSERT ON outbox BEGIN
        UPDATE outbox_tally SET n = n + 1, bytes = bytes + NEW.bytes WHERE name = 'class:' || NEW.class;
        UPDATE outbox_tally SET n = NEW.row_id % 1000000000000
          WHERE name = 'row_seq' AND n < NEW.row_id % 1000000000000;
      END;
      CREATE TRIGGER outbox_tally_delete AFTER DELETE ON outbox BEGIN
        UPDATE outbox_tally SET n = n - 1, bytes = bytes - OLD.bytes WHERE name = 'class:' || OLD.class;
      END;

      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        reason TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        payload_bytes INTEGER NOT NULL,
        from_home TEXT,
        message_id TEXT,
        class TEXT,
        retain INTEGER
      );
      CREATE INDEX dead_letters_by_reason ON dead_letters (reason);
      CREATE TABLE dead_letter_rows (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
      INSERT INTO dead_letter_rows (id, n) VALUES (1, 0);
      CREATE TRIGGER dead_letters_count_insert AFTER INSERT ON dead_letters BEGIN
        UPDATE dead_letter_rows SET n = n + 1 WHERE id = 1;
      END;
      CREATE TRIGGER dead_letters_count_delete AFTER DELETE ON dead_letters BEGIN
        UPDATE dead_letter_rows SET n = n - 1 WHERE id = 1;
      END;
      -- Lifetime totals per reason: they keep counting when old dead letters are dropped or purged.
      CREATE TABLE dead_letter_totals (reason TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;

      CREATE TABLE inbox_seen (
        from_home TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (from_home, msg_id)
      ) WITHOUT ROWID;
      CREATE INDEX inbox_seen_by_time ON inbox_seen (seen_at);

      -- Every seq below reserved_below may have been handed out (see seq.ts).
      CREATE TABLE seq (id INTEGER PRIMARY KEY CHECK (id = 1), reserved_below INTEGER NOT NULL);
      INSERT INTO seq (id, reserved_below) VALUES (1, 1);

      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

      -- One row per cycle, values packed (readings-codec.ts): about 150 bytes a cycle.
      CREATE TABLE readings (ts INTEGER PRIMARY KEY, cycle INTEGER NOT NULL, data BLOB NOT NULL);
      -- Aggregates of good values per quantity and hour; they outlive the raw readings.
      CREATE TABLE readings_hourly (
        hour INTEGER NOT NULL,
        quantity TEXT NOT NULL,
        n INTEGER NOT NULL,
        mean REAL NOT NULL,
        min_value REAL NOT NULL,
        max_value REAL NOT NULL,
        PRIMARY KEY (hour, quantity)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'trading: engine state, trades history',
    sql: `
      -- The trading engine's durable state, one JSON row written in the transaction of each step's messages.
      CREATE TABLE engine_state (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT, updated_at INTEGER);

      -- Every trade and request as this home saw it (the long history; the engine state keeps 48 h).
      -- id = the trade id once confirmed, else the accept id; state uses the page and CLI names.
      CREATE TABLE trades (
        id TEXT PRIMARY KEY,
        accept_id TEXT,
        slot_start INTEGER,
        role TEXT,
        counterparty TEXT,
        energy_wh INTEGER,
        price_cents_per_kwh REAL,
        state TEXT,
        reject_reason TEXT,
        own_alloc_wh INTEGER,
        peer_alloc_wh INTEGER,
        settled_wh INTEGER,
        updated_at INTEGER
      );
      CREATE INDEX trades_by_slot ON trades (slot_start);
      -- The page asks for what changed since a time.
      CREATE INDEX trades_by_update ON trades (updated_at);
    `,
  },
  {
    version: 3,
    name: 'outbox: the offer-sync class (offer requests and their answers)',
    sql: `
      -- SQLite cannot change a CHECK: the table is rebuilt with its rows, indexes and triggers.
      CREATE TABLE outbox_v3 (
        row_id INTEGER PRIMARY KEY,
        class TEXT NOT NULL
          CHECK (class IN ('trade','trade-ack','reject','settlement','accept','offer','offer-sync','telemetry')),
        msg_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        retain INTEGER NOT NULL,
        expires_at INTEGER,
        coalesce_key TEXT,
        enqueued_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        bytes INTEGER NOT NULL
      );
      INSERT INTO outbox_v3 SELECT * FROM outbox;
      DROP TABLE outbox;
      ALTER TABLE outbox_v3 RENAME TO outbox;
      CREATE INDEX outbox_by_expiry ON outbox (class, expires_at) WHERE expires_at IS NOT NULL;
      CREATE INDEX outbox_by_coalesce ON outbox (coalesce_key, row_id) WHERE coalesce_key IS NOT NULL;
      CREATE TRIGGER outbox_tally_insert AFTER INSERT ON outbox BEGIN
        UPDATE outbox_tally SET n = n + 1, bytes = bytes + NEW.bytes WHERE name = 'class:' || NEW.class;
        UPDATE outbox_tally SET n = NEW.row_id % 1000000000000
          WHERE name = 'row_seq' AND n < NEW.row_id % 1000000000000;
      END;
      CREATE TRIGGER outbox_tally_delete AFTER DELETE ON outbox BEGIN
        UPDATE outbox_tally SET n = n - 1, bytes = bytes - OLD.bytes WHERE name = 'class:' || OLD.class;
      END;
      INSERT INTO outbox_tally (name) VALUES ('class:offer-sync');
    `,
  },
];

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the pending migrations. Refuses a database written by a newer version of the program. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const latest = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new Error(
      `store: database schema version ${current} is newer than this program's (${latest}); ` +
        'run the newer version or restore a backup',
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    // IMMEDIATE takes the write lock first, so two processes opening at once cannot both apply it.
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
