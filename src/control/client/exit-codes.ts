/** Exit codes every verb shares (README "CLI"). */
export const EXIT = {
  ok: 0,
  /** The verb ran and found a problem (a device faulted, a check failed). */
  problem: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** The verb needs the running service and could not reach it. */
  unreachable: 3,
} as const;

/** An error that ends the CLI with a given exit code and a one-line message (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.problem,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
