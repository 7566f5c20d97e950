/**
 * One `hardware/profiles/*.yaml` file as read from disk: the common header and the whole document, which
 * the profile's family turns into its typed profile (src/devices/families.ts, docs/profiles.md).
 */
export interface ProfileFile {
  id: string;
  /** The profile kind, e.g. `sunspec`; the family registry knows which family reads it. */
  kind: string;
  description: string;
  file: string;
  /** The whole parsed document, validated by the family that uses it. */
  body: Record<string, unknown>;
}

/**
 * A profile parser that runs once per file: config checks, hardware wiring and every device using the
 * profile share one typed value (or one error). Files are values, never edited: a changed profile is a
 * new object.
 */
export function parsedOnce<P>(parse: (file: ProfileFile) => P): (file: ProfileFile) => P {
  const results = new WeakMap<ProfileFile, { ok: true; value: P } | { ok: false; error: unknown }>();
  return (file) => {
    let result = results.get(file);
    if (result === undefined) {
      try {
        result = { ok: true, value: parse(file) };
      } catch (error) {
        result = { ok: false, error };
      }
      results.set(file, result);
    }
    if (!result.ok) throw result.error;
    return result.value;
  };
}
