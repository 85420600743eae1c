/**
 * Synthetic Othello games as in Othello-GPT's training set: every move drawn uniformly from the legal
 * moves until neither side can move. This is the inner loop of `gamba generate othello`, so it works on
 * one reused board and writes tokens straight into the caller's buffer: no allocation per game.
 */
import type { Rng } from '../../src/util/rng.js';
import { OthelloBoard } from './board.js';
import { MAX_MOVES, PAD_TOKEN, SQUARE_TO_TOKEN } from './notation.js';

const board = new OthelloBoard();

/**
 * Plays one random game and writes its move tokens to out[offset .. offset + 60), padded with 0.
 * Returns the number of moves. The k-th legal move is picked with rng.nextInt(legal count), so a given
 * rng state always yields the same game.
 */
export function writeRandomGame(rng: Rng, out: Uint8Array, offset: number): number {
  board.reset();
  let moves = 0;
  for (;;) {
    const count = board.legalMoveCount();
    if (count === 0) break;
    const sq = board.nthLegalMove(rng.nextInt(count));
    board.play(sq);
    out[offset + moves] = SQUARE_TO_TOKEN[sq];
    moves++;
  }
  out.fill(PAD_TOKEN, offset + moves, offset + MAX_MOVES);
  return moves;
}
