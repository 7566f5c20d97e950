import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/link/breaker.js';
import { ManualClock } from '../helpers/manual-clock.js';

function setup() {
  const clock = new ManualClock(0, 3);
  const events: string[] = [];
  const breaker = new CircuitBreaker(clock, {
    threshold: 3,
    initialDelayMs: 1000,
    maxDelayMs: 4000,
    onBreak: () => events.push('break'),
    onHalfOpen: () => events.push('half-open'),
    onReset: () => events.push('reset'),
  });
  return { clock, breaker, events };
}

describe('circuit breaker', () => {
  it('opens after `threshold` consecutive failures; a success in between starts the count again', () => {
    const { breaker, events } = setup();
    breaker.admit()!.failure();
    breaker.admit()!.failure();
    breaker.admit()!.success();
    breaker.admit()!.failure();
    breaker.admit()!.failure();
    expect(breaker.state).toBe('closed');
    breaker.admit()!.failure();
    expect(breaker.state).toBe('open');
    expect(events).toEqual(['break']);
    expect(breaker.admit()).toBeNull();
  });

  it('lets one probe through after the half-open delay; its success closes the breaker', async () => {
    const { clock, breaker, events } = setup();
    for (let i = 0; i < 3; i++) breaker.admit()!.failure();
    const wait = breaker.probeInMs;
    // 50–100 % of the initial delay.
    expect(wait).toBeGreaterThanOrEqual(500);
    expect(wait).toBeLessThanOrEqual(1000);
    await clock.advance(wait - 1);
    expect(breaker.admit()).toBeNull();
    await clock.advance(1);
    const probe = breaker.admit()!;
    expect(breaker.state).toBe('half-open');
    expect(breaker.admit()).toBeNull();
    probe.success();
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['break', 'half-open', 'reset']);
  });

  it('a failed probe opens it again for longer, up to the maximum; a lost probe lets the next one go', async () => {
    const { clock, breaker } = setup();
    const late = breaker.admit()!;
    for (let i = 0; i < 3; i++) breaker.admit()!.failure();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(breaker.probeInMs);
      await clock.advance(breaker.probeInMs);
      breaker.admit()!.failure();
    }
    expect(delays[1]).toBeGreaterThanOrEqual(1000);
    expect(delays[2]).toBeGreaterThanOrEqual(2000);
    for (const d of delays) expect(d).toBeLessThanOrEqual(4000);
    // A publish sent before the breaker opened no longer counts.
    late.success();
    expect(breaker.state).toBe('open');
    await clock.advance(breaker.probeInMs);
    breaker.admit()!.cancel();
    expect(breaker.state).toBe('open');
    expect(breaker.probeInMs).toBe(0);
    breaker.admit()!.success();
    expect(breaker.state).toBe('closed');
  });
});
