import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceConfig } from '../../config/schema.js';
import { errorText } from '../../core/errors.js';
import type { QuantityValues } from '../../core/quantities.js';
import type { Logger } from '../../log/logger.js';
import { type Device, type DeviceHealth, newHealth } from '../device.js';
import { ProfileError } from '../profile-error.js';
import type { ProfileFile } from '../profile-file.js';
import { type BackoffOptions, FailureBackoff } from './backoff.js';
import { hex, type I2cBus } from './bus.js';
import { decodeRegister, I2cDataError, tidy } from './decode.js';
import { type I2cProfile, i2cProfileOf, needsShunt } from './profile.js';
import type { I2cBusRegistry } from './registry.js';

export interface I2cDeviceContext {
  i2c: I2cBusRegistry;
  log: Logger;
  /** Clock for timestamps and backoff (epoch ms). */
  now?: () => number;
  backoff?: BackoffOptions;
}

interface ResolvedParams {
  shuntOhms?: number;
  maxCurrentA?: number;
}

/**
 * An I2C sensor driven by its profile. `start()` tries to initialise the chip but never throws for a
 * sensor that does not answer; `read()` re-initialises after any failure (a replugged chip comes back
 * with power-on registers) and backs off after repeated failures. Config or profile mistakes throw
 * from here, at construction, with the file and key to fix.
 */
export function createI2cDevice(cfg: DeviceConfig, profileFile: ProfileFile, ctx: I2cDeviceContext): Device {
  const i2c = cfg.i2c;
  if (!i2c) throw new ProfileError(`device "${cfg.id}": profile ${profileFile.id} needs an i2c: section`);
  const profile = i2cProfileOf(profileFile);
  const params = resolveParams(cfg, profile);
  const initWrites = profile.init.map((step) => ({
    register: step.register,
    value: step.value ?? calibrationWord(cfg, profile, params, step.calibration!),
    verify: step.verify,
  }));
  const now = ctx.now ?? Date.now;
  const log = ctx.log.child({ device: cfg.id });
  const address = i2c.address;
  const bus: I2cBus = ctx.i2c.bus(i2c.bus);
  const transport = `${bus.name} ${hex(address)}`;
  const health: DeviceHealth = newHealth(cfg.id, profile.id, transport);
  const backoff = new FailureBackoff(ctx.backoff);
  let needsInit = true;
  let stopped = false;

  if (!profile.addresses.includes(address)) {
    log.warn(
      { address: hex(address), addresses: profile.addresses.map((a) => hex(a)) },
      `${profile.id} cannot be strapped to this address: check i2c.address`,
    );
  }

  const initialise = async (): Promise<void> => {
    for (const step of initWrites) {
      await bus.writeWord(address, step.register, step.value, profile.byteOrder);
      if (step.verify) {
        const back = await bus.readWord(address, step.register, profile.byteOrder);
        if (back !== step.value) {
          throw new I2cDataError(
            `register ${hex(step.register)} reads back ${hex(back, 4)} after writing ${hex(step.value, 4)}: not a ${profile.chip}, or garbage on the bus`,
          );
        }
      }
    }
    if (profile.initSettleMs > 0) await sleep(profile.initSettleMs);
    needsInit = false;
  };

  const measure = async (): Promise<QuantityValues> => {
    const decoded = new Map<string, number>();
    for (const reg of profile.registers) {
      const word = await bus.readWord(address, reg.register, profile.byteOrder);
      decoded.set(reg.name, decodeRegister(reg, word));
    }
    const values: QuantityValues = {};
    for (const q of profile.quantities) {
      let v = decoded.get(q.register.name)!;
      if (q.divideBy) v /= params[q.divideBy]!;
      if (q.range && (v < q.range[0] || v > q.range[1])) {
        throw new I2cDataError(`${q.name} = ${tidy(v)} is outside ${q.range[0]}..${q.range[1]}`);
      }
      values[q.name] = tidy(v);
    }
    return values;
  };

  const succeeded = (startedAt: number): void => {
    if (health.state === 'fault') {
      log.info({ afterFailures: backoff.consecutiveFailures }, 'sensor recovered');
    }
    backoff.success();
    health.state = 'ok';
    health.lastSuccessTs = now();
    health.consecutiveFailures = 0;
    health.lastError = null;
    health.latencyMs = performance.now() - startedAt;
  };

  const failed = (err: unknown): Error => {
    const message = `${transport}: ${errorText(err)}`;
    needsInit = true;
    backoff.failure(now());
    health.failures++;
    health.consecutiveFailures = backoff.consecutiveFailures;
    health.lastError = message;
    if (health.state !== 'fault') log.warn({ err: message }, 'sensor fault');
    health.state = 'fault';
    return new Error(message, { cause: err });
  };

  return {
    id: cfg.id,
    profileId: profile.id,
    quantities: profile.quantities.map((q) => q.name),

    async start() {
      stopped = false;
      const startedAt = performance.now();
      try {
        await initialise();
        backoff.success();
        health.state = 'ok';
        health.latencyMs = performance.now() - startedAt;
        log.info({ transport }, `${profile.id} ready`);
      } catch (err) {
        failed(err);
      }
    },

    async read() {
      if (stopped) throw new Error(`${transport}: device stopped`);
      const wait = backoff.waitMs(now());
      if (wait > 0) {
        throw new Error(
          `${transport}: backing off after ${backoff.consecutiveFailures} failures, next try in ${wait} ms (${health.lastError})`,
        );
      }
      health.reads++;
      const startedAt = performance.now();
      try {
        if (needsInit) await initialise();
        const values = await measure();
        succeeded(startedAt);
        return values;
      } catch (err) {
        throw failed(err);
      }
    },

    health() {
      return { ...health, breaker: backoff.state(now()) };
    },

    async stop() {
      stopped = true;
    },
  };
}

function resolveParams(cfg: DeviceConfig, profile: I2cProfile): ResolvedParams {
  const i2c = cfg.i2c!;
  if (needsShunt(profile) && i2c.shuntOhms === undefined) {
    throw new ProfileError(
      `device "${cfg.id}": i2c.shuntOhms is required by profile ${profile.id} (${profile.file}): the shunt resistance in ohms, e.g. 0.1`,
    );
  }
  const maxCurrentA =
    i2c.maxCurrentA ??
    (profile.shuntFullScaleV !== undefined && i2c.shuntOhms !== undefined
      ? profile.shuntFullScaleV / i2c.shuntOhms
      : undefined);
  return { shuntOhms: i2c.shuntOhms, maxCurrentA };
}

function calibrationWord(
  cfg: DeviceConfig,
  profile: I2cProfile,
  params: ResolvedParams,
  cal: NonNullable<I2cProfile['init'][number]['calibration']>,
): number {
  if (params.maxCurrentA === undefined || params.shuntOhms === undefined) {
    throw new ProfileError(
      `device "${cfg.id}": i2c.maxCurrentA is required by profile ${profile.id} (${profile.file}) to compute its calibration`,
    );
  }
  const currentLsb = params.maxCurrentA / cal.currentLsbDivisor;
  const raw = Math.trunc(cal.constant / (currentLsb * params.shuntOhms));
  const value = raw & cal.mask;
  if (!Number.isFinite(raw) || raw > 0xffff || value < 1) {
    throw new ProfileError(
      `device "${cfg.id}": i2c.maxCurrentA ${params.maxCurrentA} A with i2c.shuntOhms ${params.shuntOhms} Ω gives calibration ${raw}, outside 1..65535: raise maxCurrentA or check shuntOhms`,
    );
  }
  return value;
}
