import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { openStore, type Store } from '../../src/store/index.js';
import { storePerTest } from './helpers.js';

const { open, path: tmpPath } = storePerTest('inbox.db');

const H = 3_600_000;
const seen = (s: Store) => (s.db.prepare('SELECT count(*) AS n FROM inbox_seen').get() as { n: number }).n;

describe('inbox dedupe', () => {
  it('is true only the first time a (from, id) pair is seen within the window, also after reopen', () => {
    let s = open();
    expect(s.inbox.windowMs).toBe(24 * H);
    expect(s.inbox.firstSeen('home-7', 'a', 1000)).toBe(true);
    expect(s.inbox.firstSeen('home-7', 'a', 2000)).toBe(false);
    expect(s.inbox.firstSeen('home-8', 'a', 2000)).toBe(true);
    expect(s.inbox.firstSeen('home-7', 'b', 2000)).toBe(true);
    s = open();
    expect(s.inbox.firstSeen('home-7', 'a', 1000 + 24 * H - 1)).toBe(false);
    expect(s.inbox.firstSeen('home-7', 'a', 1000 + 24 * H)).toBe(true);
    expect(s.inbox.firstSeen('home-7', 'a', 1000 + 24 * H + 1)).toBe(false);
  });

  it('prunes entries older than the window, by hand and on its own once an hour', () => {
    const s = open({ inboxWindowMs: H });
    for (let i = 0; i < 100; i++) s.inbox.firstSeen('home-7', `m${i}`, i * 60_000);
    // The hourly automatic prune ran at 60 min and dropped what was seen at or before 0 min.
    expect(seen(s)).toBe(99);
    expect(s.inbox.prune(100 * 60_000)).toBe(40);
    expect(seen(s)).toBe(59);
    expect(s.inbox.firstSeen('home-7', 'm99', 100 * 60_000)).toBe(false);
    expect(s.inbox.firstSeen('home-7', 'm0', 100 * 60_000)).toBe(true);
  });
});

describe('seq', () => {
  it('is monotonic, persisted, and resumes past anything handed out before a restart', () => {
    let s = open();
    const first = [s.seq.next(), s.seq.next(), s.seq.next()];
    expect(first).toEqual([1, 2, 3]);
    expect(s.seq.peek()).toBe(4);
    s = open();
    const after = s.seq.next();
    expect(after).toBeGreaterThan(3);
    for (let i = 0; i < 2500; i++) expect(s.seq.next()).toBe(after + 1 + i);
    const top = s.seq.peek() - 1;
    s = open();
    expect(s.seq.next()).toBeGreaterThan(top);
  });

  it('never reuses a number whose reservation was rolled back with the transaction that made it', () => {
    let s = open();
    expect(() =>
      s.transaction(() => {
        expect(s.seq.next()).toBe(1);
        throw new Error('cycle failed');
      }),
    ).toThrow('cycle failed');
    expect(s.seq.next()).toBe(2);
    s = open();
    expect(s.seq.next()).toBeGreaterThan(2);
  });

  it('reserves numbers durably inside a NORMAL transaction without an error', () => {
    const s = open();
    const n = s.transaction(() => s.seq.next());
    expect(s.transaction(() => s.seq.next())).toBe(n + 1);
  });
});

describe('seq across two connections', () => {
  it('never hands out the same number to the daemon and a CLI process on the same file', () => {
    const path = tmpPath('two.db');
    const a = openStore({ path, log: silentLogger() });
    const b = openStore({ path, log: silentLogger() });
    try {
      const taken = new Set<number>();
      for (let i = 0; i < 5000; i++) {
        for (const s of i % 3 === 0 ? [a, b] : [a]) {
          const v = s.seq.next();
          expect(taken.has(v)).toBe(false);
          taken.add(v);
        }
      }
    } finally {
      a.close();
      b.close();
    }
  });
});
