import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { errorText } from '../core/errors.js';
import { type Config, configSchema } from './schema.js';

const DEFAULT_CONFIG_PATH = '/etc/powerdeal/config.yaml';

/** One problem in a config file: where (key path and line), what, and how to fix it. */
export interface ConfigProblem {
  path: string;
  line?: number;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem(s) in config\n${formatProblems(problems)}`);
    this.name = 'ConfigError';
  }
}

function formatProblems(problems: ConfigProblem[]): string {
  return problems
    .map((p) => `  - ${p.path || '(top level)'}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`)
    .join('\n');
}

/** Picks the config file: --config, then POWERDEAL_CONFIG, then the system path. */
export function configPath(flag?: string): string {
  return flag ?? process.env.POWERDEAL_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/**
 * A check that needs the whole file or the outside world (profiles on disk, key files), run after the
 * schema; src/setup/config-checks.ts gathers every one `powerdeal config check` runs.
 */
export type CrossCheck = (config: Config) => ConfigProblem[];

export function parseConfig(text: string, file: string, crossChecks: CrossCheck[] = []): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: '',
        line: e.linePos?.[0]?.line,
        message: `YAML syntax: ${e.message.split('\n')[0]} (fix the indentation or quoting there)`,
      })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const lineOf = (path: PropertyKey[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number] } | undefined;
      const start = node?.range?.[0];
      if (start !== undefined && (isMap(node) || isSeq(node) || n === path.length || n > 0)) {
        return lineCounter.linePos(start).line;
      }
    }
    return undefined;
  };
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((i) => issueToProblem(i, raw, lineOf)),
    );
  }
  const problems = crossChecks.flatMap((check) => check(result.data));
  if (problems.length > 0) {
    throw new ConfigError(
      file,
      problems.map((p) => ({ ...p, line: p.line ?? lineOf(p.path.split('.').map(pathPart)) })),
    );
  }
  return result.data;
}

export function loadConfig(file: string, crossChecks: CrossCheck[] = []): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? 'the file does not exist: create it (see README "Configuration") or pass --config FILE'
        : code === 'EACCES'
          ? 'permission denied: make it readable by the powerdeal user'
          : errorText(err);
    throw new ConfigError(file, [{ path: '', message: hint }]);
  }
  return parseConfig(text, file, crossChecks);
}

function pathPart(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

function joinPath(path: PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

function issueToProblem(
  issue: z.core.$ZodIssue,
  raw: unknown,
  lineOf: (p: PropertyKey[]) => number | undefined,
): ConfigProblem {
  const path = issue.path;
  const at = joinPath(path);
  const line = lineOf(path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      const known = knownKeysAt(path);
      return {
        path: at,
        line,
        message: `unknown key ${keys}: remove it or fix the spelling${known ? ` (allowed: ${known})` : ''}`,
      };
    }
    case 'invalid_type': {
      const given = valueAt(raw, path);
      if (given === undefined) {
        return { path: at, line, message: `missing: add "${String(path.at(-1))}" (${issue.expected})` };
      }
      const custom = issue.message && !issue.message.startsWith('Invalid input') ? ` — ${issue.message}` : '';
      return { path: at, line, message: `expected ${issue.expected}, got ${describe(given)}${custom}` };
    }
    default:
      return { path: at, line, message: issue.message };
  }
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the text "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The keys the schema allows at a path, for "did you mean" style hints. */
function knownKeysAt(path: PropertyKey[]): string | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: walking zod's internal shape generically
  let schema: any = configSchema;
  for (const p of path) {
    schema = unwrap(schema);
    if (typeof p === 'number') schema = schema?.element ?? schema?._zod?.def?.element;
    else schema = schema?.shape?.[p];
  }
  schema = unwrap(schema);
  const shape = schema?.shape;
  return shape ? Object.keys(shape).join(', ') : undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: zod wrapper types vary
function unwrap(schema: any): any {
  let s = schema;
  for (let i = 0; i < 10 && s; i++) {
    const def = s._zod?.def;
    if (!def) break;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}
