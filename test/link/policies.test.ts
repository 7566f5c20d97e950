import { describe, expect, it } from 'vitest';
import { ReconnectBackoff } from '../../src/link/backoff.js';
import { BrokerChoice } from '../../src/link/broker-choice.js';
import { classifyPublishError, DEAD_LETTER_REASON_CODES } from '../../src/link/reason-codes.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('reconnect backoff', () => {
  it('grows with decorrelated jitter between base and 3x the last delay, capped, and resets', () => {
    let r = 0;
    const seq = [1, 1, 1, 1, 1, 1, 1, 0.5];
    const b = new ReconnectBackoff(100, 2000, () => seq[r++ % seq.length]!);
    const delays = Array.from({ length: 6 }, () => b.next());
    expect(delays).toEqual([300, 900, 2000, 2000, 2000, 2000]);
    b.reset();
    expect(b.next()).toBe(300);
  });

  it('stays within [base, cap] whatever the randomness', () => {
    const clock = new ManualClock(0, 7);
    const b = new ReconnectBackoff(200, 5000, () => clock.random());
    for (let i = 0; i < 1000; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });
});

describe('broker choice', () => {
  it('moves to the next broker on each failure and probes the primary after returnToPrimaryMs', () => {
    const c = new BrokerChoice(['mqtt://a:1', 'mqtt://b:1', 'mqtt://c:1'], 1000);
    expect(c.current).toBe('mqtt://a:1');
    c.connected(0);
    expect(c.probeDueAt).toBeNull(); // on the primary: nothing to return to
    c.failed();
    expect(c.current).toBe('mqtt://b:1');
    c.failed();
    c.failed();
    expect(c.current).toBe('mqtt://a:1');
    c.failed();
    c.connected(5000);
    expect(c.onPrimary).toBe(false);
    expect(c.probeDueAt).toBe(6000);
    c.probeFailed(6000);
    expect(c.probeDueAt).toBe(7000);
    c.switchToPrimary();
    expect(c.current).toBe('mqtt://a:1');
    expect(c.probeDueAt).toBeNull();
  });

  it('never probes with returnToPrimaryMs = 0', () => {
    const c = new BrokerChoice(['mqtt://a:1', 'mqtt://b:1'], 0);
    c.failed();
    c.connected(0);
    expect(c.probeDueAt).toBeNull();
  });
});

describe('publish failure classification', () => {
  const withCode = (code: number) => Object.assign(new Error('Publish error'), { code });

  it('dead-letters the reason codes that mean never', () => {
    for (const code of [0x87, 0x90, 0x95, 0x99]) {
      expect(classifyPublishError(withCode(code)).kind).toBe('dead-letter');
    }
    expect(classifyPublishError(withCode(0x87))).toEqual({
      kind: 'dead-letter',
      reason: '0x87 not authorized',
    });
    expect([...DEAD_LETTER_REASON_CODES.keys()]).toEqual([0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b]);
  });

  it('retries everything else', () => {
    for (const err of [withCode(0x80), withCode(0x83), withCode(0x97), new Error('Connection closed'), 'x']) {
      expect(classifyPublishError(err).kind).toBe('retry');
    }
  });
});
