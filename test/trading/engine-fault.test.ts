import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/core/quantities.js';
import { createSigner } from '../../src/protocol/signing.js';
import { openStore, type Store } from '../../src/store/index.js';
import { Trading } from '../../src/trading/trading.js';
import { type Clock, captureLog, gridSnapshot, homeConfig, T0 } from './home.js';

/** A snapshot the cycle would never make: the engine throws on it, as it would on a bug of its own. */
const broken = (clock: Clock) => ({ cycle: 1, ts: clock.now }) as unknown as Snapshot;

describe('an engine fault', () => {
  let dir: string;
  let store: Store;
  let clock: Clock;
  let trading: Trading;
  let lines: Record<string, unknown>[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'powerdeal-fault-'));
    clock = { now: T0 };
    const captured = captureLog();
    lines = captured.lines;
    store = openStore({ path: join(dir, 'home.db'), log: captured.log, now: () => clock.now });
    const config = homeConfig('seller');
    trading = new Trading({
      ctx: { config, log: captured.log, now: () => clock.now },
      keys: {
        signer: createSigner('seller', generateKeyPairSync('ed25519').privateKey),
        keyring: null,
        off: null,
        warnings: [],
      },
      store: () => store,
      actuation: () => undefined,
      notify: () => {},
    });
    trading.start();
  });

  afterEach(() => {
    trading.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is counted, logged at error and shown in the status; the host keeps running on the old state', () => {
    trading.tick(gridSnapshot(clock, -3000));
    const before = trading.status(clock.now);
    expect(before).toMatchObject({ state: 'on', engineFaults: 0, lastEngineFault: null });

    clock.now += 1000;
    expect(() => trading.tick(broken(clock))).not.toThrow();
    const after = trading.status(clock.now);
    expect(after.engineFaults).toBe(1);
    expect(after.lastEngineFault).toEqual({ text: expect.stringMatching(/^tick: /), ts: clock.now });
    expect(after.host).toMatchObject({ engineFaults: 1, failures: 0, steps: before.host!.steps + 1 });
    const logged = lines.filter((l) => l.level === 'error' || l.level === 50);
    expect(logged).toHaveLength(1);
    expect(String(logged[0]!.msg)).toMatch(/engine failed on an input/);

    // The same fault again a second later is counted but not logged again (a fault every cycle).
    clock.now += 1000;
    trading.tick(broken(clock));
    expect(trading.status(clock.now).engineFaults).toBe(2);
    expect(lines.filter((l) => l.level === 'error' || l.level === 50)).toHaveLength(1);

    // The next good input carries on from the state before the faults: the home offers its surplus.
    for (let i = 0; i < 20; i++) {
      clock.now += 1000;
      trading.tick(gridSnapshot(clock, -3000, i + 2));
    }
    const status = trading.status(clock.now);
    expect(status.offer?.status).toBe('open');
    expect(status.engineFaults).toBe(2);
    // The page shows it as a trading warning, with the count and the last fault's text.
    expect(before.warnings).toEqual([]);
    expect(status.warnings).toEqual([
      expect.stringMatching(
        /^the trading engine failed 2 time\(s\) and kept its previous state; last at .*: tick: /,
      ),
    ]);
  });

  it('is zero while trading is off', () => {
    trading.stop();
    expect(trading.status(clock.now)).toMatchObject({ state: 'off', engineFaults: 0, lastEngineFault: null });
  });
});
