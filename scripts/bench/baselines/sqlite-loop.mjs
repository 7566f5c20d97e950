/**
 * The writes a naive controller makes, for the footprint bench to compare the service's against: with
 * better-sqlite3 in WAL mode (synchronous=NORMAL), each second one reading row (150 bytes) in its own
 * commit, and each telemetry interval one outbox row (400 bytes) inserted and, once "acknowledged",
 * deleted, each in its own commit.
 *
 *   node scripts/bench/baselines/sqlite-loop.mjs DB_PATH TELEMETRY_MS
 */
import Database from 'better-sqlite3';

const [dbPath, telemetryMs] = process.argv.slice(2);
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS readings (ts INTEGER PRIMARY KEY, data BLOB);
         CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, payload BLOB)`);
const reading = db.prepare('INSERT INTO readings (ts, data) VALUES (?, ?)');
const enqueue = db.prepare('INSERT INTO outbox (payload) VALUES (?)');
const ack = db.prepare('DELETE FROM outbox WHERE id = ?');
const row = Buffer.alloc(150, 1);
const message = Buffer.alloc(400, 2);
setInterval(() => reading.run(Date.now(), row), 1000);
setInterval(() => {
  const id = enqueue.run(message).lastInsertRowid;
  setTimeout(() => ack.run(id), 20);
}, Number(telemetryMs));
process.on('SIGTERM', () => {
  db.close();
  process.exit(0);
});
