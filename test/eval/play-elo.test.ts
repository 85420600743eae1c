import { describe, expect, it } from 'vitest';
import { eloFromPoints, stockfishSkillElo } from '../../src/eval/elo.js';

describe('Elo from a match score', () => {
  it('maps the skill table and interpolates between its rows', () => {
    expect(stockfishSkillElo(0)).toBe(1320);
    expect(stockfishSkillElo(9)).toBe(2703);
    expect(stockfishSkillElo(2)).toBe(1605);
    expect(stockfishSkillElo(10)).toBeNull();
  });

  it('follows the logistic model with a 95% interval from the standard error', () => {
    const even = eloFromPoints([1, 0, 1, 0], 1500)!;
    expect(even.estimate).toBe(1500);
    // score 0.5, per-game sd 0.5, se 0.25: 0.5 +- 0.49 -> 400*log10(0.99/0.01) is clamped at 1/8 from the edges.
    expect(even.high).toBe(Math.round(1500 + 400 * Math.log10(0.875 / 0.125)));
    const threeQuarters = eloFromPoints([1, 1, 1, 0.5, 0.5, 0.5, 1, 0.5], 1320)!;
    expect(threeQuarters.estimate).toBe(Math.round(1320 + 400 * Math.log10(3)));
    expect(threeQuarters.low).toBeLessThan(threeQuarters.estimate);
  });

  it('stays finite for all losses', () => {
    const lost = eloFromPoints([0, 0, 0, 0], 1320)!;
    expect(lost.estimate).toBe(Math.round(1320 + 400 * Math.log10(0.125 / 0.875)));
    expect(Number.isFinite(lost.high)).toBe(true);
  });
});
