import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createLogger, type Logger, silentLogger } from '../../src/log/logger.js';
import {
  type OutboxClass,
  type OutboxMessage,
  openStore,
  type Store,
  type StoreOptions,
} from '../../src/store/index.js';

/** A temp directory per test file; `cleanup()` removes everything in it. */
export function tempDir(prefix = 'powerdeal-store-'): {
  dir: string;
  path: (name: string) => string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (name) => join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A store file `name` in a fresh temp dir per test, closed and removed after each test. `open()` (re)opens
 * it, closing the previous handle first; `path()` names other files in the same dir.
 */
export function storePerTest(name: string): {
  open: (extra?: Partial<StoreOptions>) => Store;
  path: (file: string) => string;
} {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store | undefined;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    store?.close();
    store = undefined;
    tmp.cleanup();
  });
  return {
    open(extra = {}) {
      store?.close();
      store = openStore({ path: tmp.path(name), log: silentLogger(), ...extra });
      return store;
    },
    path: (file) => tmp.path(file),
  };
}

/** A logger whose lines are kept in memory, parsed. */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    journald: false,
    destination: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { log, lines };
}

let n = 0;
const EXPIRING: OutboxClass[] = ['accept', 'offer', 'offer-sync'];

/** An outbox message of `cls`; expiring classes get an expiry far away unless given. */
export function msg(cls: OutboxClass, extra: Partial<OutboxMessage> = {}): OutboxMessage {
  n += 1;
  return {
    id: `${cls}-${n}`,
    class: cls,
    topic: `powerdeal/v1/z/h/${cls}`,
    payload: Buffer.from(JSON.stringify({ n })),
    ...(EXPIRING.includes(cls) ? { expiresAt: Number.MAX_SAFE_INTEGER } : {}),
    ...extra,
  };
}
