import { describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../../games/othello/board.js';
import { greedyPlayer, randomPlayer } from '../../../games/othello/players.js';
import { Rng } from '../../../src/util/rng.js';
import { ArrayOthello } from './array-reference.js';

describe('Othello players', () => {
  it('play only legal moves, greedy always one of the moves flipping the most discs', () => {
    const rng = new Rng(3);
    for (let game = 0; game < 40; game++) {
      const board = OthelloBoard.initial();
      const reference = new ArrayOthello();
      // Greedy plays black in even games and white in odd ones.
      const greedyColour = game % 2;
      while (!board.isOver()) {
        const legal = reference.legalMoves();
        if (board.toMove === greedyColour) {
          const sq = greedyPlayer(board, rng);
          expect(legal).toContain(sq);
          const most = Math.max(...legal.map((s) => reference.flips(s, reference.turn).length));
          expect(reference.flips(sq, reference.turn).length).toBe(most);
          board.play(sq);
          reference.play(sq);
        } else {
          const sq = randomPlayer(board, rng);
          expect(legal).toContain(sq);
          board.play(sq);
          reference.play(sq);
        }
      }
    }
  });

  it('break ties at random: each of the four equal openings gets picked', () => {
    const rng = new Rng(8);
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) seen.add(greedyPlayer(OthelloBoard.initial(), rng));
    expect(seen.size).toBe(4);
  });

  it('throw once the game is over', () => {
    const cells = new Array(64).fill(1);
    const board = OthelloBoard.fromCells(cells, 0);
    expect(() => randomPlayer(board, new Rng(1))).toThrow(/game is over/);
    expect(() => greedyPlayer(board, new Rng(1))).toThrow(/game is over/);
  });
});
