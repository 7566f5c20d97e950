import type { MetricFactory } from './metrics.js';

/** The machine under the service: the disk beside the database and the systemd watchdog. */
export function hostMetrics(gauge: MetricFactory, counter: MetricFactory): void {
  // Disk beside the database, once the disk guard has looked.
  gauge('powerdeal_disk_free_bytes', 'Free space on the filesystem of the database', [], (set, x) => {
    const free = x.status.disk?.freeBytes;
    if (free !== null && free !== undefined) set({}, free);
  });
  gauge('powerdeal_disk_size_bytes', 'Size of the filesystem of the database', [], (set, x) => {
    const total = x.status.disk?.totalBytes;
    if (total !== null && total !== undefined) set({}, total);
  });
  gauge('powerdeal_disk_low', 'Whether free space is below store.lowDiskMb (1) or not (0)', [], (set, x) => {
    if (x.status.disk) set({}, x.status.disk.low || x.status.disk.full ? 1 : 0);
  });

  // The systemd watchdog: systemd restarts the service when no ping came for the timeout.
  gauge(
    'powerdeal_watchdog_timeout_seconds',
    "systemd's watchdog timeout (WATCHDOG_USEC); 0 when no watchdog is asked for",
    [],
    (set, x) => {
      if (x.watchdog) set({}, (x.watchdog.timeoutMs ?? 0) / 1000);
    },
  );
  gauge(
    'powerdeal_watchdog_last_ping_age_seconds',
    'Seconds since the last watchdog ping (absent before the first)',
    [],
    (set, x) => {
      const ts = x.watchdog?.lastPingTs;
      if (ts !== null && ts !== undefined) set({}, Math.max(0, (x.now - ts) / 1000));
    },
  );
  counter('powerdeal_watchdog_pings_total', 'Watchdog pings sent', [], (set, x) => {
    if (x.watchdog) set({}, x.watchdog.pings);
  });
  counter(
    'powerdeal_watchdog_withheld_total',
    'Watchdog pings withheld because the service made no progress',
    [],
    (set, x) => {
      if (x.watchdog) set({}, x.watchdog.withheld);
    },
  );
}
