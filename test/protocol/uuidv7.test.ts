import { describe, expect, it } from 'vitest';
import { isUuidV7, uuidv7, uuidv7Time } from '../../src/protocol/uuidv7.js';

describe('uuidv7', () => {
  it('has the version 7 and variant bits, and the creation time in its first 48 bits', () => {
    const t = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(t);
    expect(isUuidV7(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(uuidv7Time(id)).toBe(t);
  });

  it('is unique and sorts in creation order, also within one millisecond and when the clock steps back', () => {
    const ids: string[] = [];
    const t = Date.now();
    for (let i = 0; i < 10_000; i++) ids.push(uuidv7(t));
    ids.push(uuidv7(t - 5000));
    for (let i = 0; i < 100; i++) ids.push(uuidv7(t + i));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('rejects other UUIDs and malformed strings', () => {
    expect(isUuidV7('3f1e2b1c-9d3a-4c5e-8f00-123456789abc')).toBe(false); // v4
    expect(isUuidV7(uuidv7().toUpperCase())).toBe(false);
    expect(isUuidV7('not-a-uuid')).toBe(false);
  });
});
