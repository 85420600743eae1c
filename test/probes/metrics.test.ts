import { describe, expect, it } from 'vitest';
import { majorityPredictions, majorityTable } from '../../probes/majority.js';
import { probeMetrics } from '../../probes/metrics.js';

const SQUARES = 64;

function boards(rows: number[][]): Uint8Array {
  const out = new Uint8Array(rows.length * SQUARES);
  rows.forEach((cells, r) => cells.forEach((c, s) => (out[r * SQUARES + s] = c)));
  return out;
}

describe('probeMetrics', () => {
  // Three positions: all right; one square wrong; half the squares wrong.
  const truth = boards([Array(64).fill(1), Array(64).fill(2), Array(64).fill(0)]);
  const predicted = boards([Array(64).fill(1), [0, ...Array(63).fill(2)], Array.from({ length: 64 }, (_, s) => (s < 32 ? 0 : 1))]);

  it('separates cell accuracy (squares) from board accuracy (all 64 right)', () => {
    const m = probeMetrics(predicted, truth, Uint8Array.from([0, 0, 4]));
    expect(m.positions).toBe(3);
    expect(m.cellAcc).toBeCloseTo((64 + 63 + 32) / 192, 12);
    expect(m.boardAcc).toBeCloseTo(1 / 3, 12);
  });

  it('reports by 1-based move number and per square', () => {
    const m = probeMetrics(predicted, truth, Uint8Array.from([0, 0, 4]));
    expect(m.byMove).toEqual([
      { move: 1, positions: 2, cellAcc: 127 / 128, boardAcc: 0.5 },
      { move: 5, positions: 1, cellAcc: 0.5, boardAcc: 0 },
    ]);
    // Square 0 is wrong only in the second position, square 63 only in the third, square 1 never.
    expect(m.perSquare[0]).toBeCloseTo(2 / 3, 12);
    expect(m.perSquare[1]).toBe(1);
    expect(m.perSquare[63]).toBeCloseTo(2 / 3, 12);
  });

  it('refuses predictions and labels of different sizes', () => {
    expect(() => probeMetrics(predicted.subarray(0, 64), truth, Uint8Array.from([0, 0, 4]))).toThrow(/64 predictions and 192 labels for 3 rows/);
  });
});

describe('majority baseline', () => {
  it('takes the most common class per square and move, falling back to the square overall', () => {
    // Square 0 at move 0: 2, 2, 1 -> 2. At move 1: 1, 2, a tie -> the lower class, 1. Move 2 is never
    // seen -> the square's overall majority (2 three times, 1 twice) -> 2.
    const labels = boards([[2], [2], [1], [1], [2]].map((first) => [...first, ...Array(63).fill(0)]));
    const table = majorityTable(labels, Uint8Array.from([0, 0, 0, 1, 1]), 3, 3);
    const predicted = majorityPredictions(table, Uint8Array.from([0, 1, 2]));
    expect([predicted[0], predicted[64], predicted[128]]).toEqual([2, 1, 2]);
    expect(predicted[1]).toBe(0);
  });
});
