import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { familyOfKind, PROFILE_KINDS } from './families.js';
import { ProfileError } from './profile-error.js';
import type { ProfileFile } from './profile-file.js';

export type { ProfileFile } from './profile-file.js';

/**
 * Device knowledge is data: every `hardware/profiles/*.yaml` is a profile, its file name is its id.
 * This loader reads the common header and checks the kind against the family registry; the family
 * parses the body, once per file, where it is first used (a broken body is a problem of the devices
 * that use it, not of every other profile).
 */

/** `src/devices` and `dist/devices` are both two levels below the package root. */
export const DEFAULT_PROFILE_DIR = fileURLToPath(new URL('../../hardware/profiles', import.meta.url));

export function loadProfiles(dir = DEFAULT_PROFILE_DIR): Map<string, ProfileFile> {
  const profiles = new Map<string, ProfileFile>();
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml')) continue;
    const file = join(dir, name);
    const body = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const id = basename(name, '.yaml');
    if (body?.id !== id) throw new ProfileError(`${file}: "id" must equal the file name (${id})`);
    const kind = body.kind;
    if (typeof kind !== 'string' || familyOfKind(kind) === undefined) {
      throw new ProfileError(
        `${file}: "kind" must be ${PROFILE_KINDS.slice(0, -1).join(', ')} or ${PROFILE_KINDS.at(-1)}`,
      );
    }
    profiles.set(id, { id, kind, description: String(body.description ?? ''), file, body });
  }
  return profiles;
}
