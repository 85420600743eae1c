import { describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../../games/othello/board.js';
import { parseSquare } from '../../../games/othello/notation.js';
import { Rng } from '../../../src/util/rng.js';
import { ArrayOthello, BLACK, WHITE } from './array-reference.js';

function squares(...names: string[]): number[] {
  return names.map(parseSquare).sort((a, b) => a - b);
}

describe('OthelloBoard', () => {
  it('starts with d4/e5 white, e4/d5 black, black to move with d3 c4 f5 e6', () => {
    const board = OthelloBoard.initial();
    expect(board.toMove).toBe(0);
    expect(board.cellAt(parseSquare('d4'))).toBe(2);
    expect(board.cellAt(parseSquare('e5'))).toBe(2);
    expect(board.cellAt(parseSquare('e4'))).toBe(1);
    expect(board.cellAt(parseSquare('d5'))).toBe(1);
    expect(board.cellAt(parseSquare('a1'))).toBe(0);
    expect(board.counts()).toEqual({ black: 2, white: 2 });
    expect(board.legalMoves()).toEqual(squares('d3', 'c4', 'f5', 'e6'));
    expect(board.isOver()).toBe(false);
  });

  it('plays f5: flips e5, white to move with d6 f4 f6', () => {
    const board = OthelloBoard.initial();
    board.play(parseSquare('f5'));
    expect(board.lastFlipped).toEqual(squares('e5'));
    expect(board.toMove).toBe(1);
    expect(board.passed).toBe(false);
    expect(board.counts()).toEqual({ black: 4, white: 1 });
    expect(board.legalMoves()).toEqual(squares('d6', 'f4', 'f6'));
    expect(board.toString().split('\n')[4]).toBe('...XXX..');
  });

  it('throws on an illegal move and leaves the board unchanged', () => {
    const board = OthelloBoard.initial();
    expect(() => board.play(parseSquare('a1'))).toThrow(/illegal Othello move a1 for black/);
    expect(() => board.play(parseSquare('d4'))).toThrow(/illegal/);
    expect(() => board.play(64)).toThrow(/illegal/);
    expect(board.toString()).toBe(OthelloBoard.initial().toString());
    expect(board.toMove).toBe(0);
  });

  it('passes the turn silently when the opponent has no move, and ends when neither can move', () => {
    // Black: c1, h8. White: b1, g8. Black to move has a1 (flips b1) and f8 (flips g8).
    const cells = new Array(64).fill(0);
    cells[parseSquare('c1')] = 1;
    cells[parseSquare('h8')] = 1;
    cells[parseSquare('b1')] = 2;
    cells[parseSquare('g8')] = 2;
    const board = OthelloBoard.fromCells(cells, 0);
    expect(board.legalMoves()).toEqual(squares('a1', 'f8'));
    board.play(parseSquare('a1'));
    // White's only disc is g8, flanked by the edge: no move. Black moves again.
    expect(board.passed).toBe(true);
    expect(board.toMove).toBe(0);
    expect(board.lastMover).toBe(0);
    expect(board.isOver()).toBe(false);
    expect(board.legalMoves()).toEqual(squares('f8'));
    board.play(parseSquare('f8'));
    expect(board.isOver()).toBe(true);
    expect(board.passed).toBe(false);
    expect(board.legalMoves()).toEqual([]);
    expect(board.counts()).toEqual({ black: 6, white: 0 });
    expect(board.winner()).toBe(0);
    expect(() => board.play(parseSquare('a8'))).toThrow(/game is over/);
  });

  it('applies a pass already when built from cells whose side to move is stuck', () => {
    const cells = new Array(64).fill(0);
    cells[parseSquare('a1')] = 1;
    cells[parseSquare('b1')] = 2;
    // White to move: white b1 has only black a1 beside it, against the edge. Black can play c1.
    const board = OthelloBoard.fromCells(cells, 1);
    expect(board.toMove).toBe(0);
    expect(board.legalMoves()).toEqual(squares('c1'));
  });

  it('reports a draw as winner null and a win by disc count', () => {
    const cells = new Array(64).fill(0);
    for (let sq = 0; sq < 64; sq++) cells[sq] = sq < 32 ? 1 : 2;
    expect(OthelloBoard.fromCells(cells, 0).isOver()).toBe(true);
    expect(OthelloBoard.fromCells(cells, 0).winner()).toBeNull();
    cells[32] = 1;
    expect(OthelloBoard.fromCells(cells, 0).winner()).toBe(0);
    cells[32] = 2;
    cells[31] = 2;
    cells[30] = 2;
    expect(OthelloBoard.fromCells(cells, 0).winner()).toBe(1);
  });

  it('clones and copies independently', () => {
    const board = OthelloBoard.initial();
    const copy = board.clone();
    copy.play(parseSquare('d3'));
    expect(board.counts()).toEqual({ black: 2, white: 2 });
    expect(copy.counts()).toEqual({ black: 4, white: 1 });
    board.copyFrom(copy);
    expect(board.toString()).toBe(copy.toString());
    expect(board.toMove).toBe(1);
  });

  it('agrees with a plain array engine over hundreds of random games', () => {
    const rng = new Rng(2024);
    let passes = 0;
    let draws = 0;
    let earlyEnds = 0;
    for (let game = 0; game < 300; game++) {
      const board = OthelloBoard.initial();
      const reference = new ArrayOthello();
      for (;;) {
        const moves = reference.legalMoves();
        expect(board.legalMoves()).toEqual(moves);
        if (moves.length === 0) break;
        expect(board.toMove).toBe(reference.turn === BLACK ? 0 : 1);
        const sq = moves[rng.nextInt(moves.length)];
        const expected = reference.play(sq);
        board.play(sq);
        expect(board.lastFlipped).toEqual(expected.flipped);
        expect(board.passed).toBe(expected.passed);
        expect(board.lastMove).toBe(sq);
        if (expected.passed) passes++;
      }
      expect(board.isOver()).toBe(true);
      expect(reference.isOver()).toBe(true);
      for (let sq = 0; sq < 64; sq++) expect(board.cellAt(sq)).toBe(reference.cells[sq]);
      const black = reference.count(BLACK);
      const white = reference.count(WHITE);
      expect(board.counts()).toEqual({ black, white });
      expect(board.winner()).toBe(black > white ? 0 : white > black ? 1 : null);
      if (black === white) draws++;
      if (black + white < 64) earlyEnds++;
    }
    // The sample must have exercised the rare paths it checks.
    expect(passes).toBeGreaterThan(0);
    expect(earlyEnds).toBeGreaterThan(0);
    expect(draws).toBeGreaterThan(0);
  });
});
