/**
 * A strict reader of the Prometheus text format (0.0.4): every line is HELP, TYPE or a sample; every
 * sample belongs to a family declared by TYPE before it; names, labels and values are well formed; no
 * series appears twice. Throws on the first violation.
 */
export interface Exposition {
  type(family: string): string | undefined;
  /** The sample's value; throws when there is no such series. */
  value(name: string, labels?: Record<string, string>): number;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
const SUFFIXES: Record<string, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  const samples: Exposition['samples'] = [];
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0] ?? '';
      if (!NAME.test(name) || helps.has(name)) throw new Error(`bad or repeated HELP, ${where}`);
      helps.add(name);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = '', extra] = line.slice(7).split(' ');
      if (!NAME.test(name) || !(type in SUFFIXES) || extra !== undefined || types.has(name))
        throw new Error(`bad TYPE, ${where}`);
      types.set(name, type);
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample, ${where}`);
    const name = m[1] as string;
    const labels: Record<string, string> = {};
    if (m[3]) {
      LABEL.lastIndex = 0;
      let pos = 0;
      while (pos < m[3].length) {
        LABEL.lastIndex = pos;
        const l = LABEL.exec(m[3]);
        if (!l) throw new Error(`bad labels, ${where}`);
        if ((l[1] as string) in labels) throw new Error(`repeated label, ${where}`);
        labels[l[1] as string] = l[2] as string;
        pos = LABEL.lastIndex;
      }
    }
    const raw = m[4] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (raw !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value, ${where}`);
    const family = [...types.keys()].find((f) =>
      (SUFFIXES[types.get(f) as string] ?? []).some((s) => name === f + s),
    );
    if (!family) throw new Error(`sample of an undeclared family, ${where}`);
    if (types.get(family) === 'histogram' && name.endsWith('_bucket') && !('le' in labels))
      throw new Error(`bucket without le, ${where}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`repeated series, ${where}`);
    seen.add(key);
    samples.push({ name, labels, value });
  });
  return {
    samples,
    type: (f) => types.get(f),
    value(name, want = {}) {
      const found = samples.filter(
        (s) =>
          s.name === name &&
          Object.keys(s.labels).length >= Object.keys(want).length &&
          Object.entries(want).every(([k, v]) => s.labels[k] === v),
      );
      const exact = found.filter((s) => Object.keys(s.labels).length === Object.keys(want).length);
      const pick = exact.length === 1 ? exact : found;
      if (pick.length !== 1) throw new Error(`${pick.length} series for ${name} ${JSON.stringify(want)}`);
      return (pick[0] as { value: number }).value;
    },
  };
}
