import { describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../../games/othello/board.js';
import { othelloPerft } from '../../../games/othello/perft.js';
import { Rng } from '../../../src/util/rng.js';
import { ArrayOthello, BLACK, WHITE } from './array-reference.js';

let referencePasses = 0;

/** Perft on the array engine, rules spelled out: a pass is a ply, a finished game a leaf. */
function referencePerft(cells: number[], turn: number, depth: number): number {
  if (depth === 0) return 1;
  const probe = new ArrayOthello();
  probe.cells = cells;
  const opponent = turn === BLACK ? WHITE : BLACK;
  const moves = probe.legalMoves(turn);
  if (moves.length === 0) {
    if (probe.legalMoves(opponent).length === 0) return 1;
    referencePasses++;
    return referencePerft(cells, opponent, depth - 1);
  }
  let leaves = 0;
  for (const sq of moves) {
    const next = cells.slice();
    next[sq] = turn;
    for (const s of probe.flips(sq, turn)) next[s] = turn;
    leaves += referencePerft(next, opponent, depth - 1);
  }
  return leaves;
}

describe('othelloPerft', () => {
  it('matches the published counts for depths 1..9', () => {
    expect(othelloPerft(9)).toEqual([4, 12, 56, 244, 1396, 8200, 55092, 390216, 3005288]);
  });

  it('agrees with a plain reference on endgame positions, where passes and early ends happen', () => {
    const rng = new Rng(7);
    referencePasses = 0;
    let positions = 0;
    for (let game = 0; game < 30; game++) {
      // Play a random game to ply 48..53, then count the tree below it.
      const reference = new ArrayOthello();
      const board = OthelloBoard.initial();
      const stopAt = 48 + rng.nextInt(6);
      for (let ply = 0; ply < stopAt && !board.isOver(); ply++) {
        const sq = board.nthLegalMove(rng.nextInt(board.legalMoveCount()));
        board.play(sq);
        reference.play(sq);
      }
      if (board.isOver()) continue;
      const depth = 5;
      const expected: number[] = [];
      for (let d = 1; d <= depth; d++) expected.push(referencePerft(reference.cells.slice(), reference.turn, d));
      const counts = othelloPerft(depth, board);
      expect(counts).toEqual(expected);
      positions++;
    }
    // The comparison only means something if the trees held passes.
    expect(positions).toBeGreaterThan(20);
    expect(referencePasses).toBeGreaterThan(10);
  });

  it('rejects a depth below 1', () => {
    expect(() => othelloPerft(0)).toThrow(/depth/);
  });
});
