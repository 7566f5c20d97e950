/**
 * Whether the database still takes writes, as the last commits saw it. The service's health model reads
 * it: a full disk is an alert (restarting cannot free space), any other write failure means the store
 * is broken for this process (a restart reopens it, and quarantines it if it is corrupt).
 */
export interface WriteHealth {
  /** Last commit that succeeded, epoch ms. */
  lastOkTs: number | null;
  /** Last commit that failed, epoch ms, with its SQLite code and message. */
  lastErrorTs: number | null;
  lastErrorCode: string | null;
  lastError: string | null;
  /** The last commit attempted failed. */
  failing: boolean;
  /** The last failure was the disk being full (SQLITE_FULL / ENOSPC) and nothing has committed since. */
  diskFull: boolean;
  /** Failed commits since open, by kind. */
  diskFullErrors: number;
  otherErrors: number;
}

/** SQLite's unix VFS reports ENOSPC on a write as SQLITE_FULL; an fsync or truncate on a full disk as I/O errors. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || /database or disk is full|ENOSPC/i.test(message);
}

export class WriteHealthTracker {
  private state: WriteHealth = {
    lastOkTs: null,
    lastErrorTs: null,
    lastErrorCode: null,
    lastError: null,
    failing: false,
    diskFull: false,
    diskFullErrors: 0,
    otherErrors: 0,
  };

  constructor(private readonly now: () => number = Date.now) {}

  ok(): void {
    this.state.lastOkTs = this.now();
    this.state.failing = false;
    this.state.diskFull = false;
  }

  failed(err: unknown): void {
    const full = isDiskFull(err);
    const e = err as { code?: unknown; message?: unknown } | null;
    this.state.lastErrorTs = this.now();
    this.state.lastErrorCode = typeof e?.code === 'string' ? e.code : null;
    this.state.lastError = (typeof e?.message === 'string' ? e.message : String(err)).slice(0, 300);
    this.state.failing = true;
    this.state.diskFull = full;
    if (full) this.state.diskFullErrors++;
    else this.state.otherErrors++;
  }

  snapshot(): WriteHealth {
    return { ...this.state };
  }
}
