import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createButton } from '../../src/devices/gpio/button.js';
import { FakeGpioBackend } from '../../src/devices/gpio/fake-backend.js';
import { createStatusLed } from '../../src/devices/gpio/status-led.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Button to GND with a pull-up on GPIO 27: idle high, pressed low. */
async function button(debounceMs = 50) {
  const gpio = new FakeGpioBackend();
  gpio.setInput(27, true);
  const b = await createButton(gpio, { line: 27, activeLow: true, debounceMs });
  const events: string[] = [];
  b.on('press', () => events.push('press'));
  b.on('longPress', () => events.push('longPress'));
  return { gpio, b, events };
}

describe('technician button', () => {
  it('a bouncy short press is one press, reported on release', async () => {
    const { gpio, b, events } = await button();
    for (const level of [false, true, false, true, false]) {
      gpio.setInput(27, level);
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(60); // settled low: pressed
    expect(events).toEqual([]);
    vi.advanceTimersByTime(400);
    for (const level of [true, false, true]) {
      gpio.setInput(27, level);
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(60);
    expect(events).toEqual(['press']);
    await b.stop();
  });

  it('a glitch shorter than the debounce time is ignored', async () => {
    const { gpio, b, events } = await button();
    gpio.setInput(27, false);
    vi.advanceTimersByTime(20);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(200);
    expect(events).toEqual([]);
    await b.stop();
  });

  it('held for 3 s: longPress while still held, once, and no press on release', async () => {
    const { gpio, b, events } = await button();
    gpio.setInput(27, false);
    vi.advanceTimersByTime(50); // debounced press
    vi.advanceTimersByTime(2999);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['longPress']);
    vi.advanceTimersByTime(5000);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['longPress']);
    await b.stop();
  });

  it('released just before 3 s is a press', async () => {
    const { gpio, b, events } = await button();
    gpio.setInput(27, false);
    vi.advanceTimersByTime(2900);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['press']);
    await b.stop();
  });

  it('held down at start: ignored until released', async () => {
    const gpio = new FakeGpioBackend();
    gpio.setInput(27, false);
    const b = await createButton(gpio, { line: 27, activeLow: true, debounceMs: 50 });
    const events: string[] = [];
    b.on('press', () => events.push('press'));
    b.on('longPress', () => events.push('longPress'));
    vi.advanceTimersByTime(10_000);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(100);
    expect(events).toEqual([]);
    gpio.setInput(27, false);
    vi.advanceTimersByTime(100);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['press']);
    await b.stop();
  });

  it('stop: no more events, no timer left behind', async () => {
    const { gpio, b, events } = await button();
    gpio.setInput(27, false);
    vi.advanceTimersByTime(60);
    await b.stop();
    vi.advanceTimersByTime(5000);
    gpio.setInput(27, true);
    vi.advanceTimersByTime(100);
    expect(events).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('status LED', () => {
  /** Physical levels of the LED line sampled every `stepMs` for `totalMs`. */
  function sample(gpio: FakeGpioBackend, line: number, stepMs: number, totalMs: number): boolean[] {
    const out: boolean[] = [];
    for (let t = 0; t < totalMs; t += stepMs) {
      out.push(gpio.level(line));
      vi.advanceTimersByTime(stepMs);
    }
    return out;
  }

  it('starts off; ok is steady on; off is off', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 23, activeLow: false });
    expect(gpio.level(23)).toBe(false);
    led.setPattern('ok');
    expect(sample(gpio, 23, 100, 5000).every((l) => l)).toBe(true);
    led.setPattern('off');
    expect(sample(gpio, 23, 100, 5000).every((l) => !l)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await led.stop();
  });

  it('degraded blinks slowly (1 s on, 1 s off)', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 23, activeLow: false });
    led.setPattern('degraded');
    expect(sample(gpio, 23, 500, 4000)).toEqual([true, true, false, false, true, true, false, false]);
    await led.stop();
  });

  it('fault blinks fast (125 ms on, 125 ms off)', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 23, activeLow: false });
    led.setPattern('fault');
    const levels = sample(gpio, 23, 125, 1000);
    expect(levels).toEqual([true, false, true, false, true, false, true, false]);
    expect(led.pattern()).toBe('fault');
    await led.stop();
  });

  it('setting the same pattern again does not restart the blink', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 23, activeLow: false });
    led.setPattern('degraded');
    vi.advanceTimersByTime(900);
    led.setPattern('degraded');
    vi.advanceTimersByTime(200);
    expect(gpio.level(23)).toBe(false); // turned off at 1000 ms as scheduled
    await led.stop();
  });

  it('active-low LED: on is physical low', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 24, activeLow: true });
    expect(gpio.level(24)).toBe(true);
    led.setPattern('ok');
    expect(gpio.level(24)).toBe(false);
    await led.stop();
    expect(gpio.level(24)).toBe(true);
  });

  it('stop clears the timer and leaves the LED off', async () => {
    const gpio = new FakeGpioBackend();
    const led = await createStatusLed(gpio, { line: 23, activeLow: false });
    led.setPattern('fault');
    vi.advanceTimersByTime(130);
    await led.stop();
    const writes = gpio.writesTo(23).length;
    expect(gpio.level(23)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    led.setPattern('ok');
    expect(gpio.writesTo(23).length).toBe(writes);
  });
});
