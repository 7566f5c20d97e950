import { Gpio } from 'onoff';
import type { DeviceConfig } from '../config/schema.js';
import { errorText } from '../core/errors.js';
import { isSwitch } from '../devices/capabilities.js';
import { type Device, type DeviceHealth, newHealth } from '../devices/device.js';
import { FAMILIES, type FamilyContext, familyOfKind } from '../devices/families.js';
import { createGpioBackend, type GpioBackend, type Relay } from '../devices/gpio/index.js';
import { createI2cBusRegistry, type I2cBusRegistry } from '../devices/i2c/registry.js';
import { BusRegistry } from '../devices/modbus/bus-registry.js';
import type { ServiceContext } from './context.js';

/** Every device of the home, built from config and profiles, with the buses they share. */
export interface Hardware {
  readonly devices: readonly Device[];
  readonly relays: readonly Relay[];
  /** The GPIO backend, shared with the panel (status LED, button). */
  readonly gpio: GpioBackend;
  /** The Modbus bus workers and I2C buses the devices use: the CLI's requests queue on them too. */
  readonly buses: BusRegistry;
  readonly i2c: I2cBusRegistry;
  /** The parts behind the in-memory backends: GPIO and I2C devices, and `panel`; empty on real hardware. */
  readonly simulatedParts: readonly string[];
  health(): DeviceHealth[];
  maxAgeMs(deviceId: string): number;
  /** Relays to their safe state, devices stopped, buses closed. */
  stop(): Promise<void>;
}

/** No sysfs GPIO here (a laptop, a container, CI): use the in-memory backends. */
export function hardwareIsSimulated(): boolean {
  return !Gpio.accessible;
}

export async function buildHardware(ctx: ServiceContext): Promise<Hardware> {
  const log = ctx.log.child({ module: 'devices' });
  const buses = new BusRegistry({ log });
  const i2c: I2cBusRegistry = createI2cBusRegistry({ simulated: ctx.simulated });
  const gpio: GpioBackend = createGpioBackend({ simulated: ctx.simulated });
  const devices: Device[] = [];
  const relays: Relay[] = [];
  const enabled = ctx.config.devices.filter((d) => d.enabled);
  const parts: FamilyContext = { buses, i2c, gpio, log, now: ctx.now };
  // A simulated home gets simulated hardware behind each family's devices, so a demo reads values.
  if (ctx.simulated) for (const family of FAMILIES) family.simulate?.(enabled, ctx.profiles, parts);
  for (const cfg of enabled) {
    const profile = ctx.profiles.get(cfg.profile);
    try {
      const family = profile && familyOfKind(profile.kind);
      if (!profile || !family) throw new Error(`unknown profile ${cfg.profile}`);
      const part = family.create(cfg, profile, parts);
      if (isSwitch(part)) relays.push(part);
      else devices.push(part);
    } catch (err) {
      // One bad device degrades that device only.
      log.error({ err, device: cfg.id }, 'device could not be created; it stays faulted');
      devices.push(brokenDevice(cfg, errorText(err)));
    }
  }
  // start() never throws for an unreachable device; a throw here is a bug in that driver, isolated.
  await Promise.all(
    devices.map((d) => d.start().catch((err) => log.error({ err, device: d.id }, 'device start failed'))),
  );
  await Promise.all(
    relays.map((r) =>
      r.set(r.safeState).catch((err) => log.error({ err, relay: r.id }, 'relay init failed')),
    ),
  );
  const byId = new Map<string, DeviceConfig>(enabled.map((d) => [d.id, d]));
  // The in-memory backends stand in for GPIO and I2C only: the devices on them are what is simulated.
  const simulatedParts = ctx.simulated
    ? [
        ...enabled.filter((d) => d.gpio !== undefined || d.i2c !== undefined).map((d) => d.id),
        ...(ctx.config.panel.statusLed || ctx.config.panel.button ? ['panel'] : []),
      ]
    : [];
  return {
    devices,
    relays,
    gpio,
    buses,
    i2c,
    simulatedParts,
    health: () => [...devices.map((d) => d.health()), ...relays.map((r) => r.health())],
    maxAgeMs: (id) => byId.get(id)?.maxAgeMs ?? 3 * ctx.config.cycleMs,
    stop: async () => {
      // Shutdown goes on past a part that fails to stop: the buses below must still close.
      const stopFailed = (id: string) => (err: unknown) =>
        log.warn({ device: id, err: errorText(err) }, 'stop failed; shutting down the rest');
      await Promise.all(relays.map((r) => r.stop().catch(stopFailed(r.id))));
      await Promise.all(devices.map((d) => d.stop().catch(stopFailed(d.id))));
      await buses.closeAll();
      await i2c.closeAll();
    },
  };
}

/** A device whose driver could not even be built: permanently `fault`, with the reason. */
function brokenDevice(cfg: DeviceConfig, error: string): Device {
  const health = newHealth(cfg.id, cfg.profile, 'unavailable');
  health.state = 'fault';
  health.lastError = error;
  return {
    id: cfg.id,
    profileId: cfg.profile,
    quantities: [],
    start: async () => undefined,
    read: async () => {
      throw new Error(error);
    },
    health: () => health,
    stop: async () => undefined,
  };
}
