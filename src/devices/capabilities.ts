/**
 * What a device can do besides being read, declared by its driver (never guessed from its methods): the
 * engine and the CLI ask through these guards, so a device without the capability is refused by type.
 */
export type Capability = 'export-limit' | 'switch';

/** Something that may declare capabilities: a device or a relay. */
export interface Capable {
  readonly capabilities?: readonly Capability[];
}

/** An inverter whose output can be limited: SunSpec model 123 `WMaxLimPct` (docs/profiles.md). */
export interface ExportLimiter {
  readonly id: string;
  readonly capabilities: readonly Capability[];
  /** Limits output to `pct` % of its maximum; null lifts the limit. */
  writeExportLimit(pct: number | null): Promise<void>;
}

/** A switchable output (a relay driving a flexible load). */
export interface Switch {
  readonly id: string;
  readonly capabilities: readonly Capability[];
  /** Drives the output; resolves once the line has been written. */
  set(on: boolean): Promise<void>;
  get(): Promise<boolean>;
  /** The documented safe state, applied at start and at shutdown. */
  readonly safeState: boolean;
}

export function hasCapability(part: Capable, capability: Capability): boolean {
  return part.capabilities?.includes(capability) ?? false;
}

export function isExportLimiter<T extends Capable>(part: T): part is T & ExportLimiter {
  return hasCapability(part, 'export-limit');
}

export function isSwitch<T extends Capable>(part: T): part is T & Switch {
  return hasCapability(part, 'switch');
}
