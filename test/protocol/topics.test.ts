import { describe, expect, it } from 'vitest';
import { homeTopic, parseTopic, TOPIC_KINDS, zoneOffersFilter } from '../../src/protocol/topics.js';

describe('topics', () => {
  it('builds the topics of docs/protocol.md', () => {
    expect(TOPIC_KINDS.map((k) => homeTopic('lyon-7', 'home-42', k))).toEqual([
      'powerdeal/v1/lyon-7/home-42/status',
      'powerdeal/v1/lyon-7/home-42/telemetry',
      'powerdeal/v1/lyon-7/home-42/offer',
      'powerdeal/v1/lyon-7/home-42/requests',
      'powerdeal/v1/lyon-7/home-42/inbox',
      'powerdeal/v1/lyon-7/home-42/trades',
    ]);
    expect(zoneOffersFilter('lyon-7')).toBe('powerdeal/v1/lyon-7/+/offer');
  });

  it('never builds a topic from an id with wildcards or separators', () => {
    for (const bad of ['+', '#', 'a/b', 'Home', '', '-x']) {
      expect(() => homeTopic(bad, 'home-1', 'inbox')).toThrow(RangeError);
      expect(() => homeTopic('zone', bad, 'inbox')).toThrow(RangeError);
    }
  });

  it('parses its own topics and nothing else', () => {
    expect(parseTopic('powerdeal/v1/lyon-7/home-42/offer')).toEqual({
      zone: 'lyon-7',
      home: 'home-42',
      kind: 'offer',
    });
    for (const t of [
      'powerdeal/v2/lyon-7/home-42/offer',
      'powerdeal/v1/lyon-7/home-42/offers',
      'powerdeal/v1/lyon-7/home-42/offer/x',
      'powerdeal/v1/lyon-7/+/offer',
      'powerdeal/v1/Lyon/home-42/offer',
      'other/v1/a/b/offer',
      '',
    ]) {
      expect(parseTopic(t), t).toBeNull();
    }
  });
});
