import { describe, expect, it } from 'vitest';
import { flipMask, legalMoveMask, maskToSquares, nthSetSquare, popcount32 } from '../../../games/othello/bitboard.js';
import { parseSquare } from '../../../games/othello/notation.js';
import { Rng } from '../../../src/util/rng.js';

/** (lo, hi) mask of named squares. */
function mask(...names: string[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const name of names) {
    const sq = parseSquare(name);
    if (sq < 32) lo |= 1 << sq;
    else hi |= 1 << (sq - 32);
  }
  return [lo, hi];
}

function legal(player: string[], opponent: string[]): number[] {
  const [pLo, pHi] = mask(...player);
  const [oLo, oHi] = mask(...opponent);
  const out = new Int32Array(2);
  legalMoveMask(pLo, pHi, oLo, oHi, out);
  return maskToSquares(out[0], out[1]);
}

describe('bitboard words', () => {
  it('counts and indexes bits of both halves', () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(-1)).toBe(32);
    expect(popcount32(0x80000001)).toBe(2);
    const rng = new Rng(1);
    for (let i = 0; i < 200; i++) {
      const lo = rng.nextU32() | 0;
      const hi = rng.nextU32() & rng.nextU32();
      const squares: number[] = [];
      for (let sq = 0; sq < 64; sq++) if ((sq < 32 ? lo >>> sq : hi >>> (sq - 32)) & 1) squares.push(sq);
      expect(maskToSquares(lo, hi)).toEqual(squares);
      expect(popcount32(lo) + popcount32(hi)).toBe(squares.length);
      squares.forEach((sq, k) => expect(nthSetSquare(lo, hi, k)).toBe(sq));
    }
  });

  it('never wraps a line of discs around a row edge', () => {
    // h1 then a2 are consecutive square indices, but not neighbours on the board.
    expect(legal(['h1'], ['a2'])).toEqual([]);
    expect(legal(['a2'], ['h1'])).toEqual([]);
    // h4 (31) and a5 (32) straddle the two halves.
    expect(legal(['h4'], ['a5'])).toEqual([]);
    expect(legal(['a5'], ['h4'])).toEqual([]);
    // Diagonals: h3 + 9 = a5 and h3 - 7 = a3 are wraps off the h file; a5 - 9 = h3 and a3 + 7 = h3 off
    // the a file.
    expect(legal(['h3'], ['a5'])).toEqual([]);
    expect(legal(['h3'], ['a3'])).toEqual([]);
    expect(legal(['a5'], ['h3'])).toEqual([]);
    expect(legal(['a3'], ['h3'])).toEqual([]);
  });

  it('finds lines in all 8 directions across the two halves', () => {
    // Black d4 surrounded by white at distance 1 with empties beyond: black may play each far end.
    const around = ['c3', 'd3', 'e3', 'c4', 'e4', 'c5', 'd5', 'e5'];
    expect(legal(['d4'], around)).toEqual(['b2', 'd2', 'f2', 'b4', 'f4', 'b6', 'd6', 'f6'].map(parseSquare).sort((a, b) => a - b));
    // A run of six opponent discs, the longest possible: a1 (black) b1..g1 (white) -> h1.
    expect(legal(['a1'], ['b1', 'c1', 'd1', 'e1', 'f1', 'g1'])).toEqual([parseSquare('h1')]);
    expect(legal(['a1'], ['a2', 'a3', 'a4', 'a5', 'a6', 'a7'])).toEqual([parseSquare('a8')]);
    expect(legal(['h8'], ['g7', 'f6', 'e5', 'd4', 'c3', 'b2'])).toEqual([parseSquare('a1')]);
  });

  it('flips every bracketed line, and only those', () => {
    // Black plays d4: d5..d7 bracketed by d8; c4 bracketed by b4; e3 bracketed by f2; e5 open (f6 empty).
    const [pLo, pHi] = mask('d8', 'b4', 'f2');
    const [oLo, oHi] = mask('d5', 'd6', 'd7', 'c4', 'e3', 'e5');
    const out = new Int32Array(2);
    const count = flipMask(parseSquare('d4'), pLo, pHi, oLo, oHi, out);
    expect(maskToSquares(out[0], out[1])).toEqual(['e3', 'c4', 'd5', 'd6', 'd7'].map(parseSquare).sort((a, b) => a - b));
    expect(count).toBe(5);
  });
});
