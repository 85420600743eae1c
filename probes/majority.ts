/**
 * The majority baseline: for every square and move number (probe point), the class most often seen
 * there in the probe-training labels (ties to the lower class). It knows the opening, the centre and
 * how full the board gets by move m, and nothing about the game at hand: what a probe must beat to
 * show it reads the model rather than the statistics of the data.
 */
import { SQUARES } from './targets.js';

export interface MajorityTable {
  classes: number;
  /** (positions, 64): the majority class of square s at position t. */
  table: Uint8Array;
  positions: number;
}

/** Majority classes from labels (rows, 64) at positions moves[r]; positions never seen fall back to the square's overall majority. */
export function majorityTable(labels: Uint8Array, moves: ArrayLike<number>, classes: number, positions: number): MajorityTable {
  const counts = new Float64Array(positions * SQUARES * classes);
  const overall = new Float64Array(SQUARES * classes);
  for (let r = 0; r < moves.length; r++) {
    const t = moves[r];
    if (t >= positions) throw new Error(`majorityTable: position ${t} of row ${r} is not below ${positions}`);
    for (let s = 0; s < SQUARES; s++) {
      const c = labels[r * SQUARES + s];
      counts[(t * SQUARES + s) * classes + c]++;
      overall[s * classes + c]++;
    }
  }
  const table = new Uint8Array(positions * SQUARES);
  for (let t = 0; t < positions; t++) {
    for (let s = 0; s < SQUARES; s++) {
      let seen = 0;
      for (let c = 0; c < classes; c++) seen += counts[(t * SQUARES + s) * classes + c];
      const from = seen > 0 ? counts.subarray((t * SQUARES + s) * classes, (t * SQUARES + s + 1) * classes) : overall.subarray(s * classes, (s + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if (from[c] > from[best]) best = c;
      table[t * SQUARES + s] = best;
    }
  }
  return { classes, table, positions };
}

/** The baseline's boards (rows, 64) for rows at positions moves[r]. */
export function majorityPredictions(majority: MajorityTable, moves: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(moves.length * SQUARES);
  for (let r = 0; r < moves.length; r++) {
    const t = Math.min(moves[r], majority.positions - 1);
    out.set(majority.table.subarray(t * SQUARES, (t + 1) * SQUARES), r * SQUARES);
  }
  return out;
}
