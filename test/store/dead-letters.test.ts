import { describe, expect, it } from 'vitest';
import { msg, storePerTest } from './helpers.js';

const { open } = storePerTest('dlq.db');

const inbound = (reason: string, payload = Buffer.from('{"bad":')) => ({
  direction: 'in' as const,
  reason,
  topic: 'powerdeal/v1/z/home-42/inbox',
  payload,
  from: 'home-7',
  messageId: 'm-1',
});

describe('dead letters', () => {
  it('adds, lists newest first, counts per reason, takes and purges', () => {
    const s = open();
    const a = s.deadLetters.add(inbound('malformed'), 1000);
    const b = s.deadLetters.add(inbound('bad-signature'), 1001);
    const c = s.deadLetters.add(inbound('malformed'), 1002);
    expect(s.deadLetters.list().map((d) => d.id)).toEqual([c, b, a]);
    expect(s.deadLetters.list({ limit: 1 })[0]).toMatchObject({
      id: c,
      ts: 1002,
      direction: 'in',
      reason: 'malformed',
      from: 'home-7',
      messageId: 'm-1',
      class: null,
      retain: null,
      truncated: false,
      payloadBytes: 7,
    });
    expect(s.deadLetters.count()).toBe(3);
    expect(s.deadLetters.countsByReason()).toEqual({ malformed: 2, 'bad-signature': 1 });

    const taken = s.deadLetters.take(b);
    expect(taken?.reason).toBe('bad-signature');
    expect(s.deadLetters.take(b)).toBeUndefined();
    expect(s.deadLetters.purge([a, 12345])).toBe(1);
    expect(s.deadLetters.count()).toBe(1);
    expect(s.deadLetters.purge()).toBe(1);
    expect(s.deadLetters.countsByReason()).toEqual({});
    // Lifetime totals keep counting for the metrics, across a restart too.
    expect(open().deadLetters.totalsByReason()).toEqual({ malformed: 2, 'bad-signature': 1 });
  });

  it('filters by direction; an outbound one can be taken and enqueued again', () => {
    const s = open();
    s.deadLetters.add(inbound('replayed'), 1);
    const m = msg('trade');
    s.outbox.deadLetter(s.outbox.enqueue(m, 1), 'quota-exceeded (0x97)', 2);
    const [out] = s.deadLetters.list({ direction: 'out' });
    expect(s.deadLetters.list({ direction: 'in' })).toHaveLength(1);
    const d = s.deadLetters.take(out!.id)!;
    s.outbox.enqueue(
      { id: d.messageId!, class: d.class!, topic: d.topic, payload: d.payload, retain: d.retain! },
      3,
    );
    expect(s.outbox.list()[0]).toMatchObject({ id: m.id, class: 'trade', topic: m.topic, retain: false });
    expect(s.outbox.list()[0]?.payload.equals(m.payload)).toBe(true);
  });

  it('keeps at most maxRows, dropping the oldest', () => {
    const s = open({ deadLetterMaxRows: 50 });
    for (let i = 0; i < 120; i++) s.deadLetters.add(inbound(`r${i % 3}`), i);
    expect(s.deadLetters.count()).toBe(50);
    expect(s.deadLetters.list({ limit: 1000 }).map((d) => d.ts)).toEqual(
      Array.from({ length: 50 }, (_, i) => 119 - i),
    );
    const totals = s.deadLetters.totalsByReason();
    expect(totals.r0! + totals.r1! + totals.r2!).toBe(120);
  });

  it('stores only the head of an oversized inbound payload', () => {
    const s = open();
    s.deadLetters.add(inbound('oversized', Buffer.alloc(1024 * 1024, 1)), 1);
    const [d] = s.deadLetters.list();
    expect(d).toMatchObject({ truncated: true, payloadBytes: 1024 * 1024 });
    expect(d!.payload.length).toBe(64 * 1024);
  });
});
