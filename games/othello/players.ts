/**
 * Simple Othello opponents: a player takes a position and an rng and returns the square to play.
 * Both throw if the game is over (there is nothing to play).
 */
import type { Rng } from '../../src/util/rng.js';
import type { OthelloBoard } from './board.js';

export type OthelloPlayer = (board: OthelloBoard, rng: Rng) => number;

function requireMoves(board: OthelloBoard): number {
  const count = board.legalMoveCount();
  if (count === 0) throw new RangeError('no legal Othello move: the game is over');
  return count;
}

/** Uniform over the legal moves. */
export const randomPlayer: OthelloPlayer = (board, rng) => {
  return board.nthLegalMove(rng.nextInt(requireMoves(board)));
};

/** The move that flips the most discs; ties broken uniformly with the rng. */
export const greedyPlayer: OthelloPlayer = (board, rng) => {
  requireMoves(board);
  let best: number[] = [];
  let bestFlips = -1;
  for (const sq of board.legalMoves()) {
    const flips = board.flipCount(sq);
    if (flips > bestFlips) {
      bestFlips = flips;
      best = [sq];
    } else if (flips === bestFlips) {
      best.push(sq);
    }
  }
  return best[rng.nextInt(best.length)];
};
