import { hash01, smoothNoise } from './prng.js';

/**
 * The weather and the household of one simulated home, as pure functions of a seed and the local time
 * of day. Nothing here knows about inverter controls or counters: see plant.ts.
 */

export const SUNRISE_H = 6;
export const SUNSET_H = 20;
/** Peak AC output on a clear day, as a share of the array's kWp (temperature, wiring, inverter). */
const PERFORMANCE_RATIO = 0.8;
/** Appliance slots: each one may hold one appliance run (kettle, oven, washing machine). */
const APPLIANCE_SLOT_S = 600;

const CH = {
  dayClouds: 1,
  slowClouds: 2,
  fastClouds: 3,
  baseLoad: 4,
  loadFlicker: 5,
  applianceOn: 6,
  appliancePower: 7,
  applianceLength: 8,
  applianceStart: 9,
  voltage: 10,
  voltageFlicker: 11,
  voltageL2: 12,
  voltageL3: 13,
  frequency: 14,
  frequencyFlicker: 15,
} as const;

const DAY_S = 86_400;

/** Share of clear-sky output that reaches the array on this day at this time, in [0.15, 1]. */
function cloudFactor(seed: number, localS: number): number {
  const cloudiness = 0.7 * hash01(seed, CH.dayClouds, Math.floor(localS / DAY_S));
  const passing =
    0.75 * smoothNoise(seed, CH.slowClouds, localS, 1200) +
    0.25 * smoothNoise(seed, CH.fastClouds, localS, 90);
  return Math.max(0.15, 1 - cloudiness * passing * 1.3);
}

/** Power the PV array could deliver (before any export limit), whole watts; zero outside daylight. */
export function pvAvailableW(seed: number, pvKwp: number, localS: number): number {
  const h = (((localS % DAY_S) + DAY_S) % DAY_S) / 3600;
  if (h <= SUNRISE_H || h >= SUNSET_H) return 0;
  const x = (h - SUNRISE_H) / (SUNSET_H - SUNRISE_H);
  const clearSky = Math.sin(Math.PI * x) ** 2;
  return Math.round(pvKwp * 1000 * PERFORMANCE_RATIO * clearSky * cloudFactor(seed, localS));
}

/** An appliance run in the slot holding `localS`, if the slot has one and it is running, in watts. */
function applianceW(seed: number, localS: number, h: number): number {
  const slot = Math.floor(localS / APPLIANCE_SLOT_S);
  const chance = h >= 7 && h < 22 ? 0.3 : 0.08;
  if (hash01(seed, CH.applianceOn, slot) >= chance) return 0;
  const lengthS = 60 + Math.floor(hash01(seed, CH.applianceLength, slot) * 480);
  const startS =
    slot * APPLIANCE_SLOT_S +
    Math.floor(hash01(seed, CH.applianceStart, slot) * (APPLIANCE_SLOT_S - lengthS));
  if (localS < startS || localS >= startS + lengthS) return 0;
  return 800 + Math.round(hash01(seed, CH.appliancePower, slot) * 1700);
}

/** House consumption in whole watts: base load, morning and evening habits, appliances, flicker. */
export function houseLoadW(seed: number, localS: number): number {
  const h = (((localS % DAY_S) + DAY_S) % DAY_S) / 3600;
  const base = 180 + 120 * smoothNoise(seed, CH.baseLoad, localS, 1800);
  const habits = 300 * Math.exp(-(((h - 7.5) / 0.8) ** 2)) + 550 * Math.exp(-(((h - 19.5) / 1.5) ** 2));
  const flicker = 60 * (hash01(seed, CH.loadFlicker, Math.floor(localS)) - 0.5);
  return Math.max(50, Math.round(base + habits + applianceW(seed, localS, h) + flicker));
}

/** Phase-to-neutral voltages, 0.1 V steps; exporting homes push their own voltage up a little. */
export function phaseVoltagesV(seed: number, localS: number, gridPowerW: number): [number, number, number] {
  const s = Math.floor(localS);
  const common =
    230 +
    6 * (smoothNoise(seed, CH.voltage, localS, 600) - 0.5) +
    0.6 * (hash01(seed, CH.voltageFlicker, s) - 0.5) -
    0.0004 * gridPowerW;
  const tenth = (v: number) => Math.round(v * 10) / 10;
  return [
    tenth(common),
    tenth(common + 1.6 * (smoothNoise(seed, CH.voltageL2, localS, 300) - 0.5)),
    tenth(common + 1.6 * (smoothNoise(seed, CH.voltageL3, localS, 300) - 0.5)),
  ];
}

/** Grid frequency, 0.01 Hz steps, within a few tens of mHz of 50 Hz. */
export function frequencyHz(seed: number, localS: number): number {
  const f =
    50 +
    0.06 * (smoothNoise(seed, CH.frequency, localS, 120) - 0.5) +
    0.01 * (hash01(seed, CH.frequencyFlicker, Math.floor(localS)) - 0.5);
  return Math.round(f * 100) / 100;
}
