/** A device profile, or a device's use of one, that cannot work: the message names the file or device and why. */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}
