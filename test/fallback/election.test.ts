import { describe, expect, it } from 'vitest';
import {
  chooseLeader,
  currentTerm,
  heard,
  lost,
  mustRetake,
  NO_ELECTION,
  renew,
  sawEpoch,
  takeTerm,
} from '../../src/fallback/election.js';

const LEASE = 15_000;
const homes = ['home-1', 'home-2', 'home-3', 'home-4'];

describe('fallback election', () => {
  it('the lowest reachable candidate leads; this home only when it may host', () => {
    const up = new Set(['home-2', 'home-3']);
    expect(chooseLeader('home-4', true, homes, (h) => up.has(h))).toBe('home-2');
    expect(chooseLeader('home-1', true, homes, (h) => up.has(h))).toBe('home-1');
    expect(chooseLeader('home-1', false, homes, (h) => up.has(h))).toBe('home-2');
    expect(chooseLeader('home-4', false, homes, () => false)).toBeNull();
    // A home that is no candidate (no endpoint in the keyring) never leads.
    expect(chooseLeader('home-9', true, homes, () => false)).toBeNull();
  });

  it('a term is taken above every epoch seen, held by its lease, renewed by its leader only', () => {
    let s = takeTerm(NO_ELECTION, 'home-1', 1000, LEASE);
    expect(s).toEqual({ epoch: 1, term: { leader: 'home-1', epoch: 1, until: 16_000 } });
    expect(currentTerm(s, 15_999)?.leader).toBe('home-1');
    expect(currentTerm(s, 16_000)).toBeNull();
    s = renew(s, 'home-1', 10_000, LEASE);
    expect(currentTerm(s, 24_999)?.epoch).toBe(1);
    expect(renew(s, 'home-2', 20_000, LEASE)).toBe(s);
    s = takeTerm(sawEpoch(lost(s), 7), 'home-2', 30_000, LEASE);
    expect(s.term).toEqual({ leader: 'home-2', epoch: 8, until: 45_000 });
  });

  it('a stale term (lower epoch) or an expired one is ignored; a newer one is adopted', () => {
    const s = heard(NO_ELECTION, { leader: 'home-2', epoch: 5, until: 20_000 }, 1000);
    expect(s).toEqual({ epoch: 5, term: { leader: 'home-2', epoch: 5, until: 20_000 } });
    expect(heard(s, { leader: 'home-1', epoch: 4, until: 30_000 }, 2000)).toBe(s);
    expect(heard(s, { leader: 'home-1', epoch: 6, until: 1500 }, 2000)).toBe(s);
    expect(heard(s, { leader: 'home-3', epoch: 6, until: 30_000 }, 2000).term?.leader).toBe('home-3');
    // After the leader is lost its epoch still counts: an old leader coming back is still stale.
    expect(heard(lost(s), { leader: 'home-1', epoch: 4, until: 30_000 }, 2000).term).toBeNull();
  });

  it('two leaders of the same epoch (islands meeting) resolve to the lower id, whatever the order heard', () => {
    const a = { leader: 'home-1', epoch: 3, until: 50_000 };
    const b = { leader: 'home-3', epoch: 3, until: 50_000 };
    expect(heard(heard(NO_ELECTION, a, 0), b, 0).term?.leader).toBe('home-1');
    expect(heard(heard(NO_ELECTION, b, 0), a, 0).term?.leader).toBe('home-1');
  });

  it('a leader behind an epoch seen since must retake, and its new term beats the other island', () => {
    let s = takeTerm(NO_ELECTION, 'home-1', 0, LEASE);
    expect(mustRetake(s, 'home-1')).toBe(false);
    s = sawEpoch(s, 5);
    expect(mustRetake(s, 'home-1')).toBe(true);
    expect(sawEpoch(s, 2)).toBe(s);
    s = takeTerm(s, 'home-1', 1000, LEASE);
    expect(s.term?.epoch).toBe(6);
    expect(mustRetake(s, 'home-1')).toBe(false);
    const member = heard(NO_ELECTION, { leader: 'home-4', epoch: 5, until: 60_000 }, 1000);
    expect(heard(member, s.term!, 1000).term?.leader).toBe('home-1');
  });

  it('converges: homes hearing the same announcements in any order end on the same term', () => {
    const terms = [
      { leader: 'home-2', epoch: 2, until: 99_000 },
      { leader: 'home-1', epoch: 1, until: 99_000 },
      { leader: 'home-3', epoch: 4, until: 99_000 },
      { leader: 'home-1', epoch: 4, until: 99_000 },
    ];
    const orders = [
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [2, 0, 3, 1],
    ];
    const ends = orders.map((o) => o.reduce((s, i) => heard(s, terms[i]!, 0), NO_ELECTION).term);
    for (const t of ends) expect(t).toEqual({ leader: 'home-1', epoch: 4, until: 99_000 });
  });
});
