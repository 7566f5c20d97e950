/**
 * A device profile, or a device's use of one, that cannot work: the message names the file or device,
 * the key and the fix. `problems` holds one line per bad key when a whole file was checked.
 */
export class ProfileError extends Error {
  override name = 'ProfileError';

  constructor(
    message: string,
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
  }

  /** Every bad key of one profile file, under a heading such as "invalid i2c profile". */
  static inFile(file: string, heading: string, problems: readonly string[]): ProfileError {
    return new ProfileError(`${file}: ${heading}\n${problems.map((p) => `  - ${p}`).join('\n')}`, problems);
  }
}
