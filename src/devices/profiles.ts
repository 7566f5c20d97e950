import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * Device knowledge is data: every `hardware/profiles/*.yaml` is a profile, its file name is its id.
 * This loader only reads the common header; each driver family validates its own body.
 */
export type ProfileKind = 'modbus' | 'sunspec' | 'i2c' | 'gpio';

export interface ProfileFile {
  id: string;
  kind: ProfileKind;
  description: string;
  file: string;
  /** The whole parsed document, validated by the driver family that uses it. */
  body: Record<string, unknown>;
}

/** `src/devices` and `dist/devices` are both two levels below the package root. */
export const DEFAULT_PROFILE_DIR = fileURLToPath(new URL('../../hardware/profiles', import.meta.url));

export function loadProfiles(dir = DEFAULT_PROFILE_DIR): Map<string, ProfileFile> {
  const profiles = new Map<string, ProfileFile>();
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml')) continue;
    const file = join(dir, name);
    const body = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const id = basename(name, '.yaml');
    if (body?.id !== id) throw new Error(`${file}: "id" must equal the file name (${id})`);
    const kind = body.kind;
    if (kind !== 'modbus' && kind !== 'sunspec' && kind !== 'i2c' && kind !== 'gpio') {
      throw new Error(`${file}: "kind" must be modbus, sunspec, i2c or gpio`);
    }
    profiles.set(id, { id, kind, description: String(body.description ?? ''), file, body });
  }
  return profiles;
}
