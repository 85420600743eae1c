/**
 * Probe accuracy from decoded boards (rows, 64) against the true ones:
 * - cell accuracy: share of (position, square) pairs right, over all 64 squares and all positions;
 * - board accuracy: share of positions with all 64 squares right;
 * both overall and by move number (m = probe point + 1: the board after move m in Othello, before
 * White's move m in chess; game-points.ts), plus the accuracy of each square.
 */
import { SQUARES } from './targets.js';

export interface MoveAccuracy {
  /** Move number m = probe point + 1 (Othello: the board after move m; chess: before White's move m). */
  move: number;
  positions: number;
  cellAcc: number;
  boardAcc: number;
}

export interface ProbeMetrics {
  positions: number;
  cellAcc: number;
  boardAcc: number;
  byMove: MoveAccuracy[];
  /** 64 values, square index = row * 8 + col (a1 = 0). */
  perSquare: number[];
}

/**
 * Scores predictions (rows, 64) against labels (rows, 64); moves[r] is the 0-based probe point of row r.
 * Move numbers without rows are left out of byMove.
 */
export function probeMetrics(predicted: Uint8Array, labels: Uint8Array, moves: ArrayLike<number>): ProbeMetrics {
  const rows = moves.length;
  if (predicted.length !== rows * SQUARES || labels.length !== rows * SQUARES) {
    throw new Error(`probeMetrics: ${predicted.length} predictions and ${labels.length} labels for ${rows} rows of ${SQUARES} squares`);
  }
  let maxMove = 0;
  for (let r = 0; r < rows; r++) maxMove = Math.max(maxMove, moves[r] + 1);
  const positionsByMove = new Float64Array(maxMove);
  const cellsByMove = new Float64Array(maxMove);
  const boardsByMove = new Float64Array(maxMove);
  const squareRight = new Float64Array(SQUARES);
  let cells = 0;
  let boards = 0;
  for (let r = 0; r < rows; r++) {
    let right = 0;
    const o = r * SQUARES;
    for (let s = 0; s < SQUARES; s++) {
      if (predicted[o + s] === labels[o + s]) {
        right++;
        squareRight[s]++;
      }
    }
    const m = moves[r];
    positionsByMove[m]++;
    cellsByMove[m] += right;
    cells += right;
    if (right === SQUARES) {
      boardsByMove[m]++;
      boards++;
    }
  }
  const byMove: MoveAccuracy[] = [];
  for (let m = 0; m < maxMove; m++) {
    const positions = positionsByMove[m];
    if (positions === 0) continue;
    byMove.push({ move: m + 1, positions, cellAcc: cellsByMove[m] / (positions * SQUARES), boardAcc: boardsByMove[m] / positions });
  }
  return {
    positions: rows,
    cellAcc: rows > 0 ? cells / (rows * SQUARES) : 0,
    boardAcc: rows > 0 ? boards / rows : 0,
    byMove,
    perSquare: Array.from(squareRight, (v) => (rows > 0 ? v / rows : 0)),
  };
}
