import { z } from 'zod';
import { QUANTITY_NAMES, type QuantityName } from '../../core/quantities.js';
import { ProfileError } from '../profile-error.js';
import { type ProfileFile, parsedOnce } from '../profile-file.js';

/**
 * The body of a `kind: i2c` profile: what to write at start, which 16-bit registers to read and how to
 * decode them, and which quantities they give. Everything chip-specific lives in the YAML file; the
 * driver only knows the generic steps. See hardware/profiles/ina219.yaml for an annotated example.
 */

const byte = z.int().min(0).max(0xff, { error: 'a register address is 0x00..0xff' });
const word = z.int().min(0).max(0xffff, { error: 'a 16-bit value is 0x0000..0xffff' });
const bit = z.int().min(0).max(15, { error: 'a bit number is 0..15' });

const registerSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, { error: 'a register name is a word, e.g. "busVoltage"' }),
  register: byte,
  /** Two's complement. */
  signed: z.boolean().default(false),
  /** The value sits in bits 15..shift; the bits below are flags. */
  shift: z.int().min(0).max(15).default(0),
  /** Physical units per count, after the shift. */
  lsb: z.number().positive({ error: 'lsb is the value of one count, e.g. 0.004 (4 mV)' }),
  /** Bits that are always 0 from a healthy chip: any of them set means garbage on the bus. */
  mustBeZero: word.default(0),
  /** Status bits that make the reading unusable. */
  flags: z
    .array(
      z.strictObject({
        bit,
        failWhen: z.enum(['set', 'clear'], { error: 'failWhen is "set" or "clear"' }),
        reason: z.string().min(1),
      }),
    )
    .default([]),
  /** Plausible counts (after shift and sign); outside it the value is clipped or garbage. */
  rawRange: z.tuple([z.int(), z.int()]).optional(),
});

const quantitySchema = z.strictObject({
  from: z.string().min(1, { error: 'from names a register of this profile' }),
  /** Divide by a value from the device config (a shunt voltage over the shunt resistance is a current). */
  divideBy: z.enum(['shuntOhms'], { error: 'divideBy can only be shuntOhms' }).optional(),
  /** Plausible physical range; a value outside it fails the read. */
  range: z.tuple([z.number(), z.number()]).optional(),
});

const initSchema = z
  .strictObject({
    register: byte,
    value: word.optional(),
    /**
     * A calibration word computed from the device config: trunc(constant / (currentLsb × shuntOhms)),
     * with currentLsb = maxCurrentA / currentLsbDivisor, then masked.
     */
    calibration: z
      .strictObject({
        constant: z.number().positive(),
        currentLsbDivisor: z.number().positive(),
        mask: word.default(0xffff),
      })
      .optional(),
    /** Read the register back and fail the start if it differs (wrong chip, garbage on the bus). */
    verify: z.boolean().default(false),
  })
  .refine((s) => (s.value === undefined) !== (s.calibration === undefined), {
    error: 'an init step needs exactly one of value or calibration',
  });

const bodySchema = z
  .strictObject({
    id: z.string(),
    kind: z.literal('i2c'),
    description: z.string().min(1, { error: 'description says what the chip is' }),
    /** Model name, used to place a simulated chip of the same kind. */
    chip: z.string().min(1),
    byteOrder: z.enum(['be', 'le'], { error: 'byteOrder is "be" (high byte first) or "le"' }).default('be'),
    /** Addresses the chip can be strapped to. */
    addresses: z.array(z.int().min(0x03).max(0x77)).min(1),
    /** Full-scale shunt voltage of the configured range; gives the default maxCurrentA. */
    shuntFullScaleV: z.number().positive().optional(),
    init: z.array(initSchema).default([]),
    /** Wait after the init writes for the first conversion, in ms. */
    initSettleMs: z.int().min(0).max(1000).default(0),
    registers: z.array(registerSchema).min(1),
    quantities: z.partialRecord(z.enum(QUANTITY_NAMES), quantitySchema),
  })
  .superRefine((body, ctx) => {
    const names = new Set(body.registers.map((r) => r.name));
    for (const [name, q] of Object.entries(body.quantities)) {
      if (q && !names.has(q.from)) {
        ctx.addIssue({
          code: 'custom',
          path: ['quantities', name, 'from'],
          message: `no register named "${q.from}" (registers: ${[...names].join(', ')})`,
        });
      }
    }
    if (Object.keys(body.quantities).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['quantities'], message: 'map at least one quantity' });
    }
  });

type Body = z.infer<typeof bodySchema>;
export type I2cRegisterSpec = Body['registers'][number];
export type I2cInitStep = Body['init'][number];

export interface I2cQuantitySpec {
  name: QuantityName;
  register: I2cRegisterSpec;
  divideBy?: 'shuntOhms';
  range?: [number, number];
}

export interface I2cProfile {
  id: string;
  file: string;
  description: string;
  chip: string;
  byteOrder: 'be' | 'le';
  addresses: number[];
  shuntFullScaleV?: number;
  init: I2cInitStep[];
  initSettleMs: number;
  /** Only the registers a quantity uses, in profile order: one read each per cycle. */
  registers: I2cRegisterSpec[];
  quantities: I2cQuantitySpec[];
}

/** A profile file that does not describe a usable I2C chip throws; the message names the file and key. */
export function parseI2cProfile(profile: ProfileFile): I2cProfile {
  if (profile.kind !== 'i2c') {
    throw new ProfileError(
      `${profile.file}: kind is "${profile.kind}", an I2C device needs a kind: i2c profile`,
    );
  }
  const result = bodySchema.safeParse(profile.body);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const at = i.path.join('.') || '(top level)';
      const hint =
        at === 'quantities' && i.code === 'unrecognized_keys'
          ? ` (quantities: ${QUANTITY_NAMES.join(', ')})`
          : '';
      return `${at}: ${i.message}${hint}`;
    });
    throw ProfileError.inFile(profile.file, 'invalid i2c profile', lines);
  }
  const body = result.data;
  const byName = new Map(body.registers.map((r) => [r.name, r]));
  const quantities: I2cQuantitySpec[] = [];
  for (const name of QUANTITY_NAMES) {
    const q = body.quantities[name];
    if (!q) continue;
    quantities.push({ name, register: byName.get(q.from)!, divideBy: q.divideBy, range: q.range });
  }
  const used = new Set(quantities.map((q) => q.register.name));
  return {
    id: profile.id,
    file: profile.file,
    description: body.description,
    chip: body.chip,
    byteOrder: body.byteOrder,
    addresses: body.addresses,
    shuntFullScaleV: body.shuntFullScaleV,
    init: body.init,
    initSettleMs: body.initSettleMs,
    registers: body.registers.filter((r) => used.has(r.name)),
    quantities,
  };
}

/** The typed profile of a `kind: i2c` file, parsed once per file. */
export const i2cProfileOf = parsedOnce(parseI2cProfile);

/** Whether a device of this profile needs `i2c.shuntOhms` (a current from a shunt voltage, a calibration). */
export function needsShunt(profile: I2cProfile): boolean {
  return (
    profile.quantities.some((q) => q.divideBy === 'shuntOhms') || profile.init.some((s) => s.calibration)
  );
}
