// The "recent hours" chart: history from /api/readings, then one point per step from the live stream.

const WINDOW_MS = 3 * 3600_000;
/** The x-axis spans the data, but never less than this (a minute of points still reads as minutes). */
const MIN_SPAN_S = 10 * 60;
const SERIES = [
  { key: 'pvPowerW', label: 'Solar', stroke: '#d88b00' },
  { key: 'loadPowerW', label: 'House', stroke: '#6b46c1' },
  { key: 'gridPowerW', label: 'Grid (+ import)', stroke: '#2b6cb0' },
];

export class PowerChart {
  constructor(el) {
    this.el = el;
    this.stepMs = 30_000;
    this.ts = [];
    this.cols = SERIES.map(() => []);
    this.acc = null;
    this.plot = null;
    this.dirty = false;
  }

  async load() {
    const since = Date.now() - WINDOW_MS;
    const res = await fetch(`/api/readings?since=${since}`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`readings: HTTP ${res.status}`);
    const data = await res.json();
    this.stepMs = data.stepS * 1000;
    this.ts = data.ts.map((t) => t / 1000);
    this.cols = SERIES.map((s) => data.series[s.key] ?? data.ts.map(() => null));
    this.draw();
  }

  /** Adds a live snapshot to the current step's mean. */
  push(snapshot) {
    if (!snapshot) return;
    const bucket = Math.floor(snapshot.ts / this.stepMs) * this.stepMs;
    if (!this.acc || this.acc.bucket !== bucket)
      this.acc = { bucket, n: SERIES.map(() => 0), sum: SERIES.map(() => 0) };
    SERIES.forEach((s, i) => {
      const q = snapshot.quantities[s.key];
      if (q && q.quality === 'good' && q.value !== null) {
        this.acc.n[i]++;
        this.acc.sum[i] += q.value;
      }
    });
    const t = bucket / 1000;
    let at = this.ts.length - 1;
    if (this.ts[at] !== t) {
      this.ts.push(t);
      for (const c of this.cols) c.push(null);
      at = this.ts.length - 1;
    }
    SERIES.forEach((_, i) => {
      this.cols[i][at] = this.acc.n[i] ? this.acc.sum[i] / this.acc.n[i] : null;
    });
    const cutoff = (snapshot.ts - WINDOW_MS) / 1000;
    while (this.ts.length && this.ts[0] < cutoff) {
      this.ts.shift();
      for (const c of this.cols) c.shift();
    }
    this.dirty = true;
  }

  /** Redraws if something changed (called on a slow timer: a phone's CPU is not spent per cycle). */
  flush() {
    if (this.dirty) this.draw();
  }

  /** What the chart shows, in words (and its span as data-x-min/max, epoch s), for a screen reader. */
  describe(min, max) {
    const hm = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    this.el.setAttribute('role', 'img');
    this.el.setAttribute(
      'aria-label',
      `Solar, house and grid power from ${hm(min)} to ${hm(max)}, local time`,
    );
    this.el.dataset.xMin = String(Math.round(min));
    this.el.dataset.xMax = String(Math.round(max));
  }

  draw() {
    this.dirty = false;
    const data = [this.ts, ...this.cols];
    const uPlot = globalThis.uPlot;
    if (!uPlot) return;
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const width = Math.max(280, this.el.clientWidth);
    this.plot = new uPlot(
      {
        width,
        height: 220,
        series: [{}, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
        axes: [
          {},
          {
            values: (_, ticks) => ticks.map((v) => (Math.abs(v) >= 1000 ? `${v / 1000} kW` : `${v} W`)),
            size: 60,
          },
        ],
        // uPlot widens a time axis with few points by years (one point: 1000 days); the range is taken
        // from the data itself instead, shown in local time.
        scales: { x: { time: true, range: (u) => spanOf(u.data[0][0] ?? null, u.data[0].at(-1) ?? null) } },
        hooks: { setScale: [(u, key) => key === 'x' && this.describe(u.scales.x.min, u.scales.x.max)] },
      },
      data,
      this.el,
    );
    new ResizeObserver(() =>
      this.plot?.setSize({ width: Math.max(280, this.el.clientWidth), height: 220 }),
    ).observe(this.el);
  }
}

/** [min, max] of the data in seconds, widened to MIN_SPAN_S ending at the newest point; now without data. */
export function spanOf(min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) {
    const now = Date.now() / 1000;
    return [now - MIN_SPAN_S, now];
  }
  return max - min >= MIN_SPAN_S ? [min, max] : [max - MIN_SPAN_S, max];
}
