import { describe, expect, it } from 'vitest';
import {
  MAX_MOVES,
  PAD_TOKEN,
  VOCAB_SIZE,
  parseSquare,
  squareName,
  squareOfToken,
  tokenOfSquare,
} from '../../../games/othello/notation.js';
import { UserError } from '../../../src/util/errors.js';

describe('Othello notation', () => {
  it('has the Othello-GPT vocabulary sizes', () => {
    expect(VOCAB_SIZE).toBe(61);
    expect(PAD_TOKEN).toBe(0);
    expect(MAX_MOVES).toBe(60);
  });

  it('names squares with a1 top-left, columns across, rows down', () => {
    expect(squareName(0)).toBe('a1');
    expect(squareName(7)).toBe('h1');
    expect(squareName(8)).toBe('a2');
    expect(squareName(27)).toBe('d4');
    expect(squareName(37)).toBe('f5');
    expect(squareName(63)).toBe('h8');
  });

  it('round-trips every square through its name', () => {
    for (let sq = 0; sq < 64; sq++) expect(parseSquare(squareName(sq))).toBe(sq);
    expect(parseSquare('F5')).toBe(37);
  });

  it('numbers the 60 playable squares 1..60 in square order, skipping the centre', () => {
    const tokens: number[] = [];
    for (let sq = 0; sq < 64; sq++) {
      if ([27, 28, 35, 36].includes(sq)) {
        expect(() => tokenOfSquare(sq)).toThrow(/centre/);
        continue;
      }
      tokens.push(tokenOfSquare(sq));
      expect(squareOfToken(tokenOfSquare(sq))).toBe(sq);
    }
    expect(tokens).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // Spot checks by hand: c4 is square 26 -> token 27; f4 is square 29, after d4 and e4 -> token 28.
    expect(tokenOfSquare(26)).toBe(27);
    expect(tokenOfSquare(29)).toBe(28);
    expect(tokenOfSquare(37)).toBe(34); // f5 = square 37, past all four centre squares: 37 + 1 - 4
    expect(tokenOfSquare(63)).toBe(60);
  });

  it('rejects bad square names with a UserError that quotes the text', () => {
    for (const bad of ['', 'i1', 'a0', 'a9', 'a10', ' a1', 'a1 ', '11', 'aa']) {
      expect(() => parseSquare(bad)).toThrow(UserError);
      expect(() => parseSquare(bad)).toThrow(JSON.stringify(bad));
    }
  });

  it('rejects out-of-range squares and tokens', () => {
    expect(() => squareName(64)).toThrow(RangeError);
    expect(() => squareName(-1)).toThrow(RangeError);
    expect(() => tokenOfSquare(1.5)).toThrow(RangeError);
    expect(() => squareOfToken(0)).toThrow(/padding/);
    expect(() => squareOfToken(61)).toThrow(RangeError);
  });
});
