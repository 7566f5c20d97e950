import type { Command } from 'commander';
import { configPath, loadConfig } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { ControlCallError, ControlClient, ControlUnreachableError } from './client.js';
import { CliError, EXIT } from './exit-codes.js';

/** Where the control socket is when no config says otherwise (the schema's default). */
export const DEFAULT_CONTROL_SOCKET = configSchema.shape.control.parse(undefined).socket;

/**
 * The control socket a verb should try: `control.socket` from the config when it can be read, else
 * the default. Hardware verbs work without a config (a bench), so an absent or broken file is no error.
 */
export function controlSocketFor(cmd: Command): string {
  const file = configPath((cmd.optsWithGlobals() as { config?: string }).config);
  try {
    return loadConfig(file).control.socket;
  } catch {
    return DEFAULT_CONTROL_SOCKET;
  }
}

/** The running service, or undefined when none runs; exit 3 when one runs but does not let us in. */
export async function connectService(socket: string): Promise<ControlClient | undefined> {
  try {
    return await ControlClient.connect(socket);
  } catch (err) {
    if (err instanceof ControlUnreachableError) throw new CliError(err.message, EXIT.unreachable);
    throw err;
  }
}

/** Calls the service; its errors become the matching exit codes. */
export async function callService<T>(
  client: ControlClient,
  method: string,
  params: unknown = {},
  timeoutMs = 15_000,
): Promise<T> {
  try {
    return await client.call<T>(method, params, timeoutMs);
  } catch (err) {
    if (err instanceof ControlCallError) {
      throw new CliError(err.message, err.kind === 'usage' ? EXIT.usage : EXIT.problem);
    }
    if (err instanceof ControlUnreachableError) throw new CliError(err.message, EXIT.unreachable);
    throw err;
  }
}

/**
 * Runs `viaService` on the running service when there is one, else `direct`; the client is closed
 * afterwards either way. The result says which path answered.
 */
export async function serviceOrDirect<T>(
  socket: string,
  viaService: (client: ControlClient) => Promise<T>,
  direct: () => Promise<T>,
): Promise<{ value: T; via: 'service' | 'direct' }> {
  const client = await connectService(socket);
  if (!client) return { value: await direct(), via: 'direct' };
  try {
    return { value: await viaService(client), via: 'service' };
  } finally {
    client.close();
  }
}

/** A whole-number flag in a range, or a usage error naming it. */
export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new CliError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`, EXIT.usage);
  }
  return n;
}

/** "3.2 s", "4.0 min", "2.5 h", "3.0 d" ago. */
export function ago(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}
