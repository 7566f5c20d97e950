import type { RegisterType } from './codec.js';

/**
 * The SunSpec models `powerdeal sunspec` can decode point by point (others are shown as raw
 * registers). Offsets count from the model's ID register, as in the profiles: 0 = ID, 1 = L.
 */
export interface ModelPoint {
  name: string;
  offset: number;
  type: RegisterType;
  length?: number;
  /** Offset of the scale-factor register. */
  sf?: number;
  unit?: string;
}

export interface ModelDefinition {
  name: string;
  points: ModelPoint[];
}

const str = (name: string, offset: number, length: number): ModelPoint => ({
  name,
  offset,
  type: 'string',
  length,
});
const pt = (name: string, offset: number, type: RegisterType, sf?: number, unit?: string): ModelPoint => ({
  name,
  offset,
  type,
  ...(sf === undefined ? {} : { sf }),
  ...(unit === undefined ? {} : { unit }),
});

/** Models 101, 102 and 103 share one layout (single, split and three phase). */
const inverterPoints: ModelPoint[] = [
  pt('A', 2, 'u16', 6, 'A'),
  pt('AphA', 3, 'u16', 6, 'A'),
  pt('AphB', 4, 'u16', 6, 'A'),
  pt('AphC', 5, 'u16', 6, 'A'),
  pt('PPVphAB', 7, 'u16', 13, 'V'),
  pt('PPVphBC', 8, 'u16', 13, 'V'),
  pt('PPVphCA', 9, 'u16', 13, 'V'),
  pt('PhVphA', 10, 'u16', 13, 'V'),
  pt('PhVphB', 11, 'u16', 13, 'V'),
  pt('PhVphC', 12, 'u16', 13, 'V'),
  pt('W', 14, 's16', 15, 'W'),
  pt('Hz', 16, 'u16', 17, 'Hz'),
  pt('VA', 18, 's16', 19, 'VA'),
  pt('VAr', 20, 's16', 21, 'var'),
  pt('PF', 22, 's16', 23, '%'),
  pt('WH', 24, 'acc32', 26, 'Wh'),
  pt('DCA', 27, 'u16', 28, 'A'),
  pt('DCV', 29, 'u16', 30, 'V'),
  pt('DCW', 31, 's16', 32, 'W'),
  pt('TmpCab', 33, 's16', 37, 'C'),
  pt('TmpSnk', 34, 's16', 37, 'C'),
  pt('TmpTrns', 35, 's16', 37, 'C'),
  pt('TmpOt', 36, 's16', 37, 'C'),
  pt('St', 38, 'u16'),
  pt('StVnd', 39, 'u16'),
  pt('Evt1', 40, 'u32'),
  pt('Evt2', 42, 'u32'),
];

export const SUNSPEC_MODELS: Record<number, ModelDefinition> = {
  1: {
    name: 'common',
    points: [
      str('Mn', 2, 16),
      str('Md', 18, 16),
      str('Opt', 34, 8),
      str('Vr', 42, 8),
      str('SN', 50, 16),
      pt('DA', 66, 'u16'),
    ],
  },
  101: { name: 'inverter (single phase)', points: inverterPoints },
  102: { name: 'inverter (split phase)', points: inverterPoints },
  103: { name: 'inverter (three phase)', points: inverterPoints },
  123: {
    name: 'immediate controls',
    points: [
      pt('Conn_WinTms', 2, 'u16', undefined, 's'),
      pt('Conn_RvrtTms', 3, 'u16', undefined, 's'),
      pt('Conn', 4, 'u16'),
      pt('WMaxLimPct', 5, 'u16', 23, '%'),
      pt('WMaxLimPct_WinTms', 6, 'u16', undefined, 's'),
      pt('WMaxLimPct_RvrtTms', 7, 'u16', undefined, 's'),
      pt('WMaxLimPct_RmpTms', 8, 'u16', undefined, 's'),
      pt('WMaxLim_Ena', 9, 'u16'),
      pt('OutPFSet', 10, 's16', 24),
      pt('OutPFSet_Ena', 14, 'u16'),
      pt('VArWMaxPct', 15, 's16', 25, '%'),
      pt('VArMaxPct', 16, 's16', 25, '%'),
      pt('VArAvalPct', 17, 's16', 25, '%'),
      pt('VArPct_Mod', 21, 'u16'),
      pt('VArPct_Ena', 22, 'u16'),
    ],
  },
};
