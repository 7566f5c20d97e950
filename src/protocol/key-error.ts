/** A key or keyring problem; the message names the file, the key or line, and the fix. */
export class KeyError extends Error {
  override name = 'KeyError';
}

/** writePrivateKey found a key already there and was not told to replace it. */
export class KeyExistsError extends KeyError {
  override name = 'KeyExistsError';
}
