import { silentLogger } from '../../src/log/logger.js';
import { openStore } from '../../src/store/index.js';

/**
 * Puts what a technician finds after an outage into a database: a trade promised to a neighbour and
 * telemetry waiting for the broker, one outbound dead letter the broker refused, one inbound one.
 */
export function seedStore(path: string): { tradeId: string; outDead: number; inDead: number } {
  const store = openStore({ path, log: silentLogger(), readingsFlushMs: 0 });
  const now = Date.now();
  const topic = (t: string) => `powerdeal/v1/lyon-7/home-42/${t}`;
  try {
    const tradeId = '0190a1b2-0000-7000-8000-000000000001';
    store.outbox.enqueue(
      {
        id: tradeId,
        class: 'trade',
        topic: topic('trades'),
        payload: Buffer.from('{"type":"trade"}'),
        retain: false,
      },
      now,
    );
    for (let i = 0; i < 3; i++) {
      store.outbox.enqueue(
        {
          id: `tele-${i}`,
          class: 'telemetry',
          topic: topic('telemetry'),
          payload: Buffer.from('{"t":1}'),
          retain: false,
        },
        now,
      );
    }
    const outDead = store.deadLetters.add(
      {
        direction: 'out',
        reason: 'broker refused: 0x97 quota exceeded',
        topic: topic('trades'),
        payload: Buffer.from('{"type":"settlement"}'),
        messageId: '0190a1b2-0000-7000-8000-0000000000d1',
        class: 'settlement',
        retain: false,
      },
      now,
    );
    const inDead = store.deadLetters.add(
      {
        direction: 'in',
        reason: 'bad signature',
        topic: topic('inbox'),
        payload: Buffer.from('{}'),
        from: 'home-7',
      },
      now,
    );
    return { tradeId, outDead, inDead };
  } finally {
    store.close();
  }
}
