import { describe, expect, it } from 'vitest';
import { defaultWarmup, learningRateAt } from '../../src/train/schedule.js';

describe('warmup + cosine schedule', () => {
  const schedule = { lr: 1e-3, minLr: 1e-4, warmup: 10, horizon: 110 };

  it('ramps linearly during warmup', () => {
    expect(learningRateAt(0, schedule)).toBeCloseTo(1e-4, 15);
    expect(learningRateAt(4, schedule)).toBeCloseTo(5e-4, 15);
    expect(learningRateAt(9, schedule)).toBeCloseTo(1e-3, 15);
  });

  it('follows the cosine from the peak to the floor at the horizon', () => {
    expect(learningRateAt(10, schedule)).toBeCloseTo(1e-3, 15);
    // Halfway through the decay (step 60 of 10..110), cos(pi/2) = 0: the midpoint of peak and floor.
    expect(learningRateAt(60, schedule)).toBeCloseTo(5.5e-4, 15);
    // A quarter of the way: minLr + (lr - minLr) * (1 + cos(pi/4)) / 2.
    expect(learningRateAt(35, schedule)).toBeCloseTo(1e-4 + 9e-4 * (1 + Math.SQRT1_2) / 2, 15);
    expect(learningRateAt(109, schedule)).toBeGreaterThan(1e-4);
    expect(learningRateAt(110, schedule)).toBe(1e-4);
    expect(learningRateAt(500, schedule)).toBe(1e-4);
  });

  it('never increases after warmup', () => {
    let previous = Infinity;
    for (let step = 10; step < 120; step++) {
      const lr = learningRateAt(step, schedule);
      expect(lr).toBeLessThanOrEqual(previous);
      previous = lr;
    }
  });

  it('handles no warmup and a horizon inside warmup', () => {
    expect(learningRateAt(0, { lr: 2, minLr: 0, warmup: 0, horizon: 4 })).toBe(2);
    expect(learningRateAt(2, { lr: 2, minLr: 0, warmup: 0, horizon: 4 })).toBeCloseTo(1, 15);
    expect(learningRateAt(3, { lr: 2, minLr: 0, warmup: 8, horizon: 4 })).toBe(1);
  });

  it('defaults warmup to 5% of the horizon within [1, 1000]', () => {
    expect(defaultWarmup(10)).toBe(1);
    expect(defaultWarmup(1000)).toBe(50);
    expect(defaultWarmup(10_000_000)).toBe(1000);
  });
});
