/**
 * The local control channel between the CLI and the running service: a unix socket (file permissions
 * decide who may use it), one JSON object per line each way. A request names a method; the answer
 * carries the same id and either a result or an error whose kind maps to a CLI exit code.
 */

export interface ControlRequest {
  id: number;
  method: string;
  params?: unknown;
}

/** `usage`: the request itself was wrong (exit 2); `problem`: it ran and failed (exit 1). */
export type ControlErrorKind = 'usage' | 'problem';

export type ControlResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { kind: ControlErrorKind; message: string } };

/** An error a handler throws on purpose: its message goes to the technician as it is. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    message: string,
    readonly kind: ControlErrorKind = 'problem',
  ) {
    super(message);
  }
}

/** A request line longer than this is refused (nothing the CLI sends comes near it). */
export const MAX_LINE_BYTES = 64 * 1024;
