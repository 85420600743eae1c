/**
 * The margin of a probe over its random-init control: trained minus random-init accuracy on the same
 * held-out positions, with a 95% interval over held-out games. Both models are scored on exactly the
 * same rows (the state sample is drawn once), so the difference is paired game by game:
 *
 *   margin = sum_g (right_g - rightControl_g) / sum_g cells_g
 *   SE^2   = G / (G - 1) * sum_g (right_g - rightControl_g - margin * cells_g)^2 / (sum_g cells_g)^2
 *
 * (the ratio estimator's linearised variance, games as the independent units, since the positions of
 * one game are not independent of each other).
 */
import { SQUARES } from './targets.js';

/** Per held-out game: squares and boards decoded right, and positions scored. */
export interface GameCounts {
  cellsRight: Float64Array;
  boardsRight: Float64Array;
  positions: Float64Array;
}

export interface Margin {
  /** Trained minus random-init cell accuracy, and its 95% interval over held-out games. */
  cellAcc: number;
  cellLow: number;
  cellHigh: number;
  /** Trained minus random-init full-board accuracy, and its 95% interval. */
  boardAcc: number;
  boardLow: number;
  boardHigh: number;
}

/** Counts per game of predictions (rows, 64) against labels (rows, 64); games[r] is row r's game. */
export function gameCounts(predicted: Uint8Array, labels: Uint8Array, games: Int32Array, gameCount: number): GameCounts {
  const counts: GameCounts = { cellsRight: new Float64Array(gameCount), boardsRight: new Float64Array(gameCount), positions: new Float64Array(gameCount) };
  for (let r = 0; r < games.length; r++) {
    let right = 0;
    for (let s = r * SQUARES; s < (r + 1) * SQUARES; s++) if (predicted[s] === labels[s]) right++;
    const g = games[r];
    counts.cellsRight[g] += right;
    counts.boardsRight[g] += right === SQUARES ? 1 : 0;
    counts.positions[g]++;
  }
  return counts;
}

/** The paired margin of `trained` over `control`, scored on the same rows. */
export function marginOver(trained: GameCounts, control: GameCounts): Margin {
  const G = trained.positions.length;
  for (let g = 0; g < G; g++) if (trained.positions[g] !== control.positions[g]) throw new Error(`marginOver: game ${g} scored on ${trained.positions[g]} and ${control.positions[g]} positions`);
  const cells = ratioDifference(trained.cellsRight, control.cellsRight, trained.positions, SQUARES);
  const boards = ratioDifference(trained.boardsRight, control.boardsRight, trained.positions, 1);
  return { cellAcc: cells.mean, cellLow: cells.low, cellHigh: cells.high, boardAcc: boards.mean, boardLow: boards.low, boardHigh: boards.high };
}

function ratioDifference(a: Float64Array, b: Float64Array, positions: Float64Array, perPosition: number): { mean: number; low: number; high: number } {
  let total = 0;
  let diff = 0;
  let games = 0;
  for (let g = 0; g < positions.length; g++) {
    total += positions[g] * perPosition;
    diff += a[g] - b[g];
    if (positions[g] > 0) games++;
  }
  if (total === 0) return { mean: 0, low: 0, high: 0 };
  const mean = diff / total;
  let ss = 0;
  for (let g = 0; g < positions.length; g++) {
    if (positions[g] === 0) continue;
    const e = a[g] - b[g] - mean * positions[g] * perPosition;
    ss += e * e;
  }
  const se = games > 1 ? Math.sqrt((games / (games - 1)) * ss) / total : 0;
  return { mean, low: mean - 1.96 * se, high: mean + 1.96 * se };
}
