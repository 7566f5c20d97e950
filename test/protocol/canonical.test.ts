import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/protocol/canonical.js';

describe('canonicalJson', () => {
  it('sorts keys at every level and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same bytes whatever the key insertion order', () => {
    const a = { v: 1, id: 'i', body: { wh: 5, price: 12 } };
    const b = { body: { price: 12, wh: 5 }, id: 'i', v: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it('sorts by UTF-16 code units and escapes strings like JSON', () => {
    expect(canonicalJson({ é: 1, z: 2, Z: 3, '\u{1F600}': 4 })).toBe('{"Z":3,"z":2,"é":1,"😀":4}');
    expect(canonicalJson('a"b\\\n')).toBe('"a\\"b\\\\\\n"');
  });

  it('drops undefined properties and writes numbers as JSON does', () => {
    expect(canonicalJson({ a: undefined, b: 1e21, c: 0.1, d: -0, e: null })).toBe(
      '{"b":1e+21,"c":0.1,"d":0,"e":null}',
    );
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
    expect(() => canonicalJson([undefined])).toThrow(TypeError);
  });

  it('round-trips through JSON.parse', () => {
    const v = { x: [1, 'two', { three: true }], y: null };
    expect(JSON.parse(canonicalJson(v))).toEqual(v);
  });
});
