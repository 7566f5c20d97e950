/**
 * The floor of a controller's memory: Node with mqtt.js connected to the broker and better-sqlite3 with
 * a WAL database open, publishing one small message every 10 s and nothing else. The footprint bench
 * samples it beside the service: what the service costs above it is the service's own.
 *
 *   node scripts/bench/baselines/floor.mjs BROKER_URL DB_PATH
 */
import Database from 'better-sqlite3';
import mqtt from 'mqtt';

const [brokerUrl, dbPath] = process.argv.slice(2);
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)');
const client = mqtt.connect(brokerUrl, { protocolVersion: 5, clientId: `floor-${process.pid}` });
setInterval(() => client.publish('bench/floor', 'x'.repeat(300), { qos: 1 }), 10_000);
process.on('SIGTERM', () => {
  client.end(true);
  db.close();
  process.exit(0);
});
