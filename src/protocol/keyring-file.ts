import type { KeyObject } from 'node:crypto';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
} from 'yaml';
import { ID_RULE_TEXT, isValidId } from '../core/ids.js';
import { KeyError } from './key-error.js';
import { decodeKeyText, SHOW_FIX } from './key-text.js';

/**
 * The zone keyring's file format: `zone: <zone>` and `members: { <home id>: "ed25519:…" | [current, …] }`,
 * or per member the object form `{ keys: "ed25519:…" | [current, …], fallback: "HOST:PORT" }` that adds
 * the home's fallback endpoint; one YAML file copied to every home (docs/keys.md). Keys are node:crypto KeyObjects, parsed once when
 * the keyring is read, so checking a signature costs one Ed25519 verification and nothing else.
 */
export interface Keyring {
  zone: string;
  /** Each member's current key. */
  members: ReadonlyMap<string, KeyObject>;
  /** Further keys still accepted for a member while it changes its key (docs/keys.md "Rotation"). */
  previousKeys?: ReadonlyMap<string, readonly KeyObject[]>;
  /** Each member's fallback endpoint (`HOST:PORT`), for the members that have one. */
  fallbacks?: ReadonlyMap<string, string>;
}

/** A fallback endpoint: a host name, IPv4 address or bracketed IPv6 address, and a port. */
const ENDPOINT = /^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

export function isEndpoint(text: unknown): text is string {
  const m = typeof text === 'string' ? ENDPOINT.exec(text) : null;
  return m !== null && Number(m[1]) > 0 && Number(m[1]) <= 65_535;
}

const ENDPOINT_FIX =
  'the fallback endpoint is "HOST:PORT" on the neighbourhood\'s network, e.g. "10.0.0.7:1884" (config "fallback.listen" of that home)';

/** What a person is told when a keyring member is not a home id. */
export const HOME_ID_TEXT = `not a home id (${ID_RULE_TEXT}, as in config "home.id")`;

interface Problem {
  path: string;
  line?: number;
  message: string;
}

function keyringError(file: string, problems: Problem[]): KeyError {
  const at = (p: Problem) => {
    const line = p.line === undefined ? '' : `line ${p.line}`;
    const where = p.path && line ? `${p.path} (${line})` : p.path || line || '(top level)';
    return `${where}: ${p.message}`;
  };
  if (problems.length === 1) return new KeyError(`keyring ${file}: ${at(problems[0]!)}`);
  return new KeyError(
    `keyring ${file}: ${problems.length} problems\n${problems.map((p) => `  - ${at(p)}`).join('\n')}`,
  );
}

function syntaxProblems(doc: Document): Problem[] {
  return doc.errors.map((e) => ({
    path: '',
    line: e.linePos?.[0]?.line,
    message:
      e.code === 'DUPLICATE_KEY'
        ? 'a key is listed twice: keep one line per home (while a home changes its key, list both: ' +
          '"home-7: [ed25519:NEW, ed25519:OLD]")'
        : `YAML syntax: ${e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')} ` +
          '(fix the indentation or quoting there)',
  }));
}

/** The members map being built: current and previous keys, and which home each key text belongs to. */
interface MemberKeys {
  members: Map<string, KeyObject>;
  previousKeys: Map<string, KeyObject[]>;
  fallbacks: Map<string, string>;
  owners: Map<string, string>;
}

/** A scalar's value, a list's values: the key texts of a member. */
function keyTexts(node: unknown): unknown[] {
  return isSeq(node)
    ? node.items.map((i) => (isScalar(i) ? i.value : i))
    : [isScalar(node) ? node.value : node];
}

/**
 * The key texts of a member entry and its fallback endpoint; the object form `{ keys, fallback }` beside
 * the string and list forms. Problems are pushed; null when the entry cannot be read at all.
 */
function memberEntry(
  value: unknown,
  at: string,
  line: number | undefined,
  problems: Problem[],
): { texts: unknown[]; fallback?: string } | null {
  if (!isMap(value)) return { texts: keyTexts(value) };
  let texts: unknown[] = [];
  let fallback: string | undefined;
  for (const pair of value.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (name === 'keys') texts = keyTexts(pair.value);
    else if (name === 'fallback') {
      const text = isScalar(pair.value) ? pair.value.value : undefined;
      if (isEndpoint(text)) fallback = text;
      else problems.push({ path: `${at}.fallback`, line, message: ENDPOINT_FIX });
    } else {
      problems.push({
        path: `${at}.${name}`,
        line,
        message: `unknown key "${name}": a member has "keys" and optionally "fallback"`,
      });
      return null;
    }
  }
  return fallback === undefined ? { texts } : { texts, fallback };
}

function addMember(member: Pair, into: MemberKeys, line: number | undefined, problems: Problem[]): void {
  const home = isScalar(member.key) ? String(member.key.value) : String(member.key);
  const at = `members.${home}`;
  if (!isValidId(home)) {
    problems.push({ path: at, line, message: HOME_ID_TEXT });
    return;
  }
  const entry = memberEntry(member.value, at, line, problems);
  if (!entry) return;
  const { texts } = entry;
  if (entry.fallback !== undefined) into.fallbacks.set(home, entry.fallback);
  if (texts.length === 0 || texts[0] === null || texts[0] === undefined) {
    problems.push({ path: at, line, message: `no key; ${SHOW_FIX}` });
    return;
  }
  const keys: KeyObject[] = [];
  for (const text of texts) {
    const key = decodeKeyText(text);
    if (typeof key === 'string') {
      problems.push({ path: at, line, message: `${key}; ${SHOW_FIX}` });
      continue;
    }
    const owner = into.owners.get(text as string);
    if (owner !== undefined) {
      problems.push({
        path: at,
        line,
        message:
          owner === home
            ? 'the same key is listed twice; remove one'
            : `the same key as ${owner}; every home has its own key: run "powerdeal keys init" on ` +
              `${home} and copy the line "powerdeal keys show" prints there`,
      });
      continue;
    }
    into.owners.set(text as string, home);
    keys.push(key);
  }
  const [current, ...previous] = keys;
  if (current) into.members.set(home, current);
  if (previous.length > 0) into.previousKeys.set(home, previous);
}

/** The parsed document (to edit it keeping comments) and the keyring it holds; throws KeyError. */
export function parseKeyringDocument(text: string, file: string): { doc: Document; keyring: Keyring } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw keyringError(file, syntaxProblems(doc));
  const problems: Problem[] = [];
  const lineOf = (node: unknown) => {
    const start = (node as Node | null)?.range?.[0];
    return start === undefined ? undefined : lines.linePos(start).line;
  };
  const root = doc.contents;
  if (!isMap(root)) {
    throw keyringError(file, [
      { path: '', line: lineOf(root), message: 'expected "zone: <zone>" and "members:" (see docs/keys.md)' },
    ]);
  }
  let zone: string | undefined;
  const keys: MemberKeys = {
    members: new Map(),
    previousKeys: new Map(),
    fallbacks: new Map(),
    owners: new Map(),
  };
  let sawMembers = false;
  for (const pair of root.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const line = lineOf(pair.key);
    if (name === 'zone') {
      const value = isScalar(pair.value) ? pair.value.value : undefined;
      if (isValidId(value)) zone = value;
      else {
        problems.push({
          path: 'zone',
          line,
          message: `must be the zone id of config "home.zone" (${ID_RULE_TEXT})`,
        });
      }
    } else if (name === 'members') {
      sawMembers = true;
      const value = pair.value;
      if (value === null || (isScalar(value) && value.value === null)) continue;
      if (!isMap(value)) {
        problems.push({
          path: 'members',
          line,
          message: 'expected one "<home id>: ed25519:…" line per home',
        });
        continue;
      }
      for (const member of value.items) addMember(member, keys, lineOf(member.key), problems);
    } else {
      problems.push({
        path: name,
        line,
        message: `unknown key "${name}": only "zone" and "members" belong here`,
      });
    }
  }
  if (zone === undefined && !problems.some((p) => p.path === 'zone')) {
    problems.push({
      path: 'zone',
      message: 'missing: add "zone: <zone>", the zone id of config "home.zone"',
    });
  }
  if (!sawMembers) {
    problems.push({
      path: 'members',
      message: 'missing: add "members:" with one "<home id>: ed25519:…" line per home',
    });
  }
  if (problems.length > 0) throw keyringError(file, problems);
  return {
    doc,
    keyring: {
      zone: zone!,
      members: keys.members,
      previousKeys: keys.previousKeys,
      fallbacks: keys.fallbacks,
    },
  };
}

/** YAML `{ zone, members: { <home id>: "ed25519:…" | ["ed25519:…", …] } }`; `file` names it in errors. */
export function parseKeyring(text: string, file: string): Keyring {
  return parseKeyringDocument(text, file).keyring;
}
