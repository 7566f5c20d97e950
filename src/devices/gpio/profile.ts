import { z } from 'zod';
import { ProfileError } from '../profile-error.js';
import { type ProfileFile, parsedOnce } from '../profile-file.js';

/** The body of a `kind: gpio` profile. Only outputs (relays) exist so far. */
const bodySchema = z.strictObject({
  id: z.string(),
  kind: z.literal('gpio'),
  description: z.string().min(1, { error: 'description says what the output switches' }),
  direction: z.literal('output', { error: 'direction must be "output" (relay profiles)' }),
});

export type GpioProfile = z.infer<typeof bodySchema> & { file: string };

function parseGpioProfile(profile: ProfileFile): GpioProfile {
  if (profile.kind !== 'gpio') {
    throw new ProfileError(
      `${profile.file}: kind is "${profile.kind}", a GPIO device needs a kind: gpio profile`,
    );
  }
  const result = bodySchema.safeParse(profile.body);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw ProfileError.inFile(profile.file, 'invalid gpio profile', lines);
  }
  return { ...result.data, file: profile.file };
}

/** The typed profile of a `kind: gpio` file, parsed once per file. */
export const gpioProfileOf = parsedOnce(parseGpioProfile);
