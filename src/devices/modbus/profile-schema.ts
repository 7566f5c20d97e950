import { z } from 'zod';
import type { QuantityName } from '../../core/quantities.js';
import { ProfileError } from '../profile-error.js';
import { type ProfileFile, parsedOnce } from '../profile-file.js';
import { REGISTER_TYPES, type RegisterType, registerCount, type WordOrder } from './codec.js';
import { parseTarget, type Target, unitFactor } from './units.js';

/**
 * The body of `kind: modbus` and `kind: sunspec` profiles (docs/profiles.md). The YAML is validated
 * here; what comes out is resolved: targets parsed, unit conversions folded into one `factor`.
 */

/** Modbus allows at most 125 registers in one read. */
export const MAX_READ_REGISTERS = 125;

export type RegisterFunction = 'holding' | 'input';

/** How a raw register value becomes a canonical value: (raw × 10^sf × factor), negated, clamped. */
interface ValueRules {
  target: Target;
  type: RegisterType;
  /** Registers for `string`; computed for the other types. */
  length: number;
  wordOrder: WordOrder;
  factor: number;
  negate: boolean;
  clampMin?: number;
}

export interface RegisterPoint extends ValueRules {
  fn: RegisterFunction;
  address: number;
}

export interface ModbusProfile {
  kind: 'modbus';
  id: string;
  file: string;
  maxGap: number;
  maxRegisters: number;
  sunspecSentinels: boolean;
  /** Read every cycle. */
  points: RegisterPoint[];
  /** `info.*` targets: read once, when the device first answers. */
  info: RegisterPoint[];
}

export interface SunspecPoint extends ValueRules {
  /** Candidate models, first present wins (e.g. 101, 102, 103 for single, split, three phase). */
  models: number[];
  /** Offset from the model's ID register: 0 = ID, 1 = L, 2 = first point (SunSpec JSON models). */
  offset: number;
  /** Offset of the scale-factor register in the same model. */
  sf?: number;
}

export interface SunspecExportLimit {
  model: number;
  /** WMaxLimPct: the limit in % of WMax. */
  pct: { offset: number; sf?: number };
  /** WMaxLim_Ena: 1 enables the limit, 0 disables it. */
  enable: { offset: number };
}

export interface SunspecProfile {
  kind: 'sunspec';
  id: string;
  file: string;
  /** Where to look for the `SunS` marker, in order. */
  bases: number[];
  maxGap: number;
  maxRegisters: number;
  points: SunspecPoint[];
  info: SunspecPoint[];
  exportLimit?: SunspecExportLimit;
}

export type RegisterProfile = ModbusProfile | SunspecProfile;

const registerAddress = z
  .int()
  .min(0)
  .max(0xffff, { error: 'a register address is 0..65535 (0x0000..0xFFFF)' });

const valueFields = {
  target: z.string({ error: 'target names a quantity (e.g. gridPowerW) or an info field (info.serial)' }),
  type: z.enum(REGISTER_TYPES, { error: `type must be one of ${REGISTER_TYPES.join(', ')}` }),
  length: z.int().min(1).max(MAX_READ_REGISTERS).optional(),
  wordOrder: z.enum(['big', 'little'], { error: 'wordOrder must be big or little' }).optional(),
  scale: z
    .number()
    .refine((n) => n !== 0, { error: 'scale must not be 0' })
    .optional(),
  unit: z.string().optional(),
  negate: z.boolean().default(false),
  clampMin: z.number().optional(),
  description: z.string().optional(),
};

const header = {
  id: z.string(),
  kind: z.string(),
  description: z.string(),
  maxGap: z.int().min(0).max(MAX_READ_REGISTERS).optional(),
  maxRegisters: z.int().min(1).max(MAX_READ_REGISTERS).optional(),
  wordOrder: z.enum(['big', 'little']).default('big'),
};

const modbusSchema = z.strictObject({
  ...header,
  function: z.enum(['holding', 'input'], { error: 'function must be holding or input' }).default('holding'),
  sunspecSentinels: z.boolean().default(false),
  points: z
    .array(
      z.strictObject({
        ...valueFields,
        function: z.enum(['holding', 'input'], { error: 'function must be holding or input' }).optional(),
        address: registerAddress,
      }),
    )
    .min(1, { error: 'a profile needs at least one point' }),
});

const modelList = z
  .union([z.int().min(1).max(65534), z.array(z.int().min(1).max(65534)).min(1)], {
    error: 'model is a SunSpec model id or a list of them, e.g. [101, 102, 103]',
  })
  .transform((m) => (Array.isArray(m) ? m : [m]));

const modelOffset = z.int().min(0).max(0xffff);

const sunspecSchema = z.strictObject({
  ...header,
  bases: z
    .array(z.union([z.literal(0), z.literal(40000), z.literal(50000)]), {
      error: 'bases lists where the SunS marker may be: 0, 40000, 50000',
    })
    .min(1)
    .default([40000, 0, 50000]),
  points: z
    .array(
      z.strictObject({ ...valueFields, model: modelList, offset: modelOffset, sf: modelOffset.optional() }),
    )
    .min(1, { error: 'a profile needs at least one point' }),
  controls: z
    .strictObject({
      exportLimit: z
        .strictObject({
          model: z.int().min(1).max(65534),
          pct: z.strictObject({ offset: modelOffset, sf: modelOffset.optional() }),
          enable: z.strictObject({ offset: modelOffset }),
        })
        .optional(),
    })
    .optional(),
});

type RawValue = {
  target: string;
  type: RegisterType;
  length?: number;
  wordOrder?: WordOrder;
  scale?: number;
  unit?: string;
  negate: boolean;
  clampMin?: number;
};

function resolveValue(raw: RawValue, defaultOrder: WordOrder, at: string, problems: string[]): ValueRules {
  const target = parseTarget(raw.target);
  let factor = raw.scale ?? 1;
  if (target === undefined) {
    problems.push(
      `${at}.target: "${raw.target}" is neither a quantity from src/core/quantities.ts nor info.<name>`,
    );
  } else if ('quantity' in target) {
    if (raw.type === 'string')
      problems.push(`${at}.type: ${target.quantity} needs a numeric type, not string`);
    if (raw.unit === undefined) {
      problems.push(`${at}.unit: missing: say which unit the register holds (e.g. W, kWh, V, Hz)`);
    } else {
      const f = unitFactor(target.quantity as QuantityName, raw.unit);
      if (typeof f === 'string') problems.push(`${at}.unit: "${raw.unit}" does not fit: ${f}`);
      else factor *= f;
    }
  }
  if (raw.type === 'string' && raw.length === undefined) {
    problems.push(`${at}.length: a string needs its length in registers (two characters each)`);
  }
  if (raw.type !== 'string' && raw.length !== undefined) {
    problems.push(`${at}.length: only strings take a length (a ${raw.type} has a fixed size)`);
  }
  return {
    target: target ?? { info: raw.target },
    type: raw.type,
    length: registerCount(raw.type, raw.length ?? 1),
    wordOrder: raw.wordOrder ?? defaultOrder,
    factor,
    negate: raw.negate,
    ...(raw.clampMin === undefined ? {} : { clampMin: raw.clampMin }),
  };
}

function zodProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const path = at.startsWith('.') ? at.slice(1) : at;
    if (issue.code === 'unrecognized_keys') {
      return `${path || '(top level)'}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove it or fix the spelling`;
    }
    return `${path || '(top level)'}: ${issue.message}`;
  });
}

function checkDuplicates(points: { target: Target }[], problems: string[]): void {
  const seen = new Set<string>();
  points.forEach((p, i) => {
    const name = 'quantity' in p.target ? p.target.quantity : `info.${p.target.info}`;
    if (seen.has(name)) problems.push(`points[${i}].target: ${name} is mapped twice`);
    seen.add(name);
  });
}

/** Validates a `kind: modbus` profile; throws ProfileError naming the file and every bad key. */
export function parseModbusProfile(profile: ProfileFile): ModbusProfile {
  const parsed = modbusSchema.safeParse(profile.body);
  if (!parsed.success) throw fileProblems(profile.file, zodProblems(parsed.error));
  const body = parsed.data;
  const problems: string[] = [];
  const points = body.points.map((p, i) => {
    const rules = resolveValue(p, body.wordOrder, `points[${i}]`, problems);
    const point: RegisterPoint = { ...rules, fn: p.function ?? body.function, address: p.address };
    if (point.address + point.length > 0x10000) problems.push(`points[${i}].address: runs past 0xFFFF`);
    return point;
  });
  checkDuplicates(points, problems);
  if (problems.length > 0) throw fileProblems(profile.file, problems);
  return {
    kind: 'modbus',
    id: profile.id,
    file: profile.file,
    maxGap: body.maxGap ?? 0,
    maxRegisters: body.maxRegisters ?? MAX_READ_REGISTERS,
    sunspecSentinels: body.sunspecSentinels,
    points: points.filter((p) => 'quantity' in p.target),
    info: points.filter((p) => 'info' in p.target),
  };
}

/** Validates a `kind: sunspec` profile; throws ProfileError naming the file and every bad key. */
export function parseSunspecProfile(profile: ProfileFile): SunspecProfile {
  const parsed = sunspecSchema.safeParse(profile.body);
  if (!parsed.success) throw fileProblems(profile.file, zodProblems(parsed.error));
  const body = parsed.data;
  const problems: string[] = [];
  const points = body.points.map((p, i) => {
    const rules = resolveValue(p, body.wordOrder, `points[${i}]`, problems);
    if (p.offset < 2) problems.push(`points[${i}].offset: 0 and 1 are the model's ID and length`);
    const point: SunspecPoint = { ...rules, models: p.model, offset: p.offset };
    if (p.sf !== undefined) point.sf = p.sf;
    return point;
  });
  checkDuplicates(points, problems);
  if (problems.length > 0) throw fileProblems(profile.file, problems);
  const exportLimit = body.controls?.exportLimit;
  return {
    kind: 'sunspec',
    id: profile.id,
    file: profile.file,
    bases: body.bases,
    // Every register inside a SunSpec model exists, so gaps inside the chain are safe to bridge.
    maxGap: body.maxGap ?? MAX_READ_REGISTERS,
    maxRegisters: body.maxRegisters ?? MAX_READ_REGISTERS,
    points: points.filter((p) => 'quantity' in p.target),
    info: points.filter((p) => 'info' in p.target),
    ...(exportLimit === undefined ? {} : { exportLimit }),
  };
}

/** Validates a profile of either register kind. */
function parseRegisterProfile(profile: ProfileFile): RegisterProfile {
  if (profile.kind === 'modbus') return parseModbusProfile(profile);
  if (profile.kind === 'sunspec') return parseSunspecProfile(profile);
  throw fileProblems(profile.file, [`kind: ${profile.kind} is not a Modbus profile (modbus or sunspec)`]);
}

/** The typed profile of a `kind: modbus` or `kind: sunspec` file, parsed once per file. */
export const registerProfileOf = parsedOnce(parseRegisterProfile);

function fileProblems(file: string, problems: string[]): ProfileError {
  return ProfileError.inFile(file, `${problems.length} problem(s) in profile`, problems);
}
