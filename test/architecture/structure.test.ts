import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house rules that keep the tree easy to change (docs/architecture.md): imports between the folders
 * of src/ run one way, no source file grows past 400 lines, and nothing points outside the repository.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');
const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** The folder right below src/ that holds a file ('.' for a file directly in src/). */
function folderOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  return rel.length > 1 ? rel[0]! : '.';
}

/** Relative import specifiers: static, re-exports, type-only and dynamic imports alike. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) found.push(m[1]!);
  return found;
}

/** folder → folders it imports from, with one example file per edge. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) continue;
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${relative(ROOT, file)} → ${spec}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('structure of src/', () => {
  it('has no import cycle between its folders', () => {
    const graph = folderGraph();
    const report = cycles(graph).map((component) => {
      const edges = component.flatMap((from) =>
        [...(graph.get(from) ?? [])]
          .filter(([to]) => component.includes(to))
          .map(([to, example]) => `  ${from} → ${to} (${example})`),
      );
      return [`cycle: ${component.join(', ')}`, ...edges].join('\n');
    });
    expect(report.join('\n')).toBe('');
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', new Map([['b', 'x']])],
      ['b', new Map([['c', 'y']])],
      ['c', new Map([['a', 'z']])],
      ['d', new Map([['a', 'w']])],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
    expect(
      importsOf(
        `import type { X } from '../a/x.js';\nexport { y } from "./y.js";\nawait import('../b/z.js');`,
      ),
    ).toEqual(['../a/x.js', './y.js', '../b/z.js']);
  });

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const long = sourceFiles(SRC)
      .filter((f) => !f.includes(`${sep}assets${sep}`) || f.endsWith('.ts'))
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('points only into the repository (no design brief outside it)', () => {
    const files = [
      ...sourceFiles(SRC),
      ...sourceFiles(join(ROOT, 'docs')).concat(
        readdirSync(join(ROOT, 'docs')).flatMap((n) => (n.endsWith('.md') ? [join(ROOT, 'docs', n)] : [])),
      ),
      join(ROOT, 'README.md'),
    ];
    const outside = files.filter((f) =>
      /DESIGN(\.md| §)|\.\.\/shared\b|PITFALLS/.test(readFileSync(f, 'utf8')),
    );
    expect(outside.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
