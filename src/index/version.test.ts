import { describe, expect, it } from 'vitest';
import { compactUtc, isVersionName, nextVersionName, sortVersions, versionSequence } from './version.js';

describe('snapshot version names', () => {
  it('formats a sortable name from a sequence and UTC time', () => {
    const at = new Date('2026-11-28T18:01:02.345Z');
    expect(compactUtc(at)).toBe('20261128T180102Z');
    expect(nextVersionName([], at)).toBe('v000001-20261128T180102Z');
    expect(nextVersionName(['v000041-20261127T000000Z', 'v000007-20261128T000000Z', '.tmp-x', 'CURRENT'], at)).toBe('v000042-20261128T180102Z');
  });

  it('recognises only version names', () => {
    expect(isVersionName('v000001-20261128T180102Z')).toBe(true);
    expect(isVersionName('.tmp-v000001-20261128T180102Z-12')).toBe(false);
    expect(isVersionName('v1-20261128T180102Z')).toBe(false);
    expect(() => versionSequence('CURRENT')).toThrow(RangeError);
  });

  it('sorts by sequence, also past 999999', () => {
    expect(sortVersions(['v1000000-20261128T000000Z', 'v000002-20261128T000000Z', 'junk'])).toEqual(['v000002-20261128T000000Z', 'v1000000-20261128T000000Z']);
  });
});
