import { describe, expect, it } from 'vitest';
import {
  blackWhiteLabels,
  flippedLabels,
  gameLength,
  labelledPositionPrefix,
  legalNextLabels,
  loserMoves,
  mineTheirsLabels,
  othelloLabels,
} from '../../../games/othello/labels.js';
import { parseSquare, squareOfToken, tokenOfSquare } from '../../../games/othello/notation.js';
import { openDataset } from '../../../datasets/reader.js';
import { writeRandomGame } from '../../../games/othello/synthetic.js';
import { UserError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';
import { ArrayOthello, EMPTY } from './array-reference.js';

function record(...moves: string[]): Uint8Array {
  const tokens = new Uint8Array(60);
  moves.forEach((name, i) => (tokens[i] = tokenOfSquare(parseSquare(name))));
  return tokens;
}

/** The squares of row t of an (n, 64) label array that hold `value`, as names sorted by square. */
function squaresWith(labels: Uint8Array, t: number, value: number): number[] {
  const found: number[] = [];
  for (let sq = 0; sq < 64; sq++) if (labels[t * 64 + sq] === value) found.push(sq);
  return found;
}

function squares(...names: string[]): number[] {
  return names.map(parseSquare).sort((a, b) => a - b);
}

describe('Othello labels', () => {
  it('labels the opening f5 d6 by hand', () => {
    const tokens = record('f5', 'd6');
    const labels = othelloLabels(tokens);
    expect(labels.moves).toBe(2);
    for (const array of [labels.mineTheirs, labels.blackWhite, labels.flipped, labels.legalNext]) expect(array.length).toBe(128);

    // After f5 (black): black e4 d5 e5 f5, white d4. "Mine" is black's, the player who just moved.
    expect(squaresWith(labels.mineTheirs, 0, 1)).toEqual(squares('e4', 'd5', 'e5', 'f5'));
    expect(squaresWith(labels.mineTheirs, 0, 2)).toEqual(squares('d4'));
    expect(squaresWith(labels.blackWhite, 0, 1)).toEqual(squares('e4', 'd5', 'e5', 'f5'));
    expect(squaresWith(labels.blackWhite, 0, 2)).toEqual(squares('d4'));
    expect(squaresWith(labels.flipped, 0, 1)).toEqual(squares('e5'));
    expect(squaresWith(labels.legalNext, 0, 1)).toEqual(squares('d6', 'f4', 'f6'));

    // After d6 (white flips d5): "mine" is now white's.
    expect(squaresWith(labels.mineTheirs, 1, 1)).toEqual(squares('d4', 'd5', 'd6'));
    expect(squaresWith(labels.mineTheirs, 1, 2)).toEqual(squares('e4', 'e5', 'f5'));
    expect(squaresWith(labels.blackWhite, 1, 1)).toEqual(squares('e4', 'e5', 'f5'));
    expect(squaresWith(labels.blackWhite, 1, 2)).toEqual(squares('d4', 'd5', 'd6'));
    expect(squaresWith(labels.flipped, 1, 1)).toEqual(squares('d5'));
    // Black's replies to f5 d6, by hand (white d4 d5 d6, black e4 e5 f5): c3 over d4 to e5, c4 over d4
    // to e4, c5 over d5 to e5, c6 over d5 to e4, c7 over d6 to e5. Not d3 or d7: the d column is white
    // from d4 to d6 with empty squares at both ends.
    expect(squaresWith(labels.legalNext, 1, 1)).toEqual(squares('c3', 'c4', 'c5', 'c6', 'c7'));

    expect(mineTheirsLabels(tokens)).toEqual(labels.mineTheirs);
    expect(blackWhiteLabels(tokens)).toEqual(labels.blackWhite);
    expect(flippedLabels(tokens)).toEqual(labels.flipped);
    expect(legalNextLabels(tokens)).toEqual(labels.legalNext);
  });

  it('follows the array reference through whole random games, passes included', () => {
    const rng = new Rng(99);
    const tokens = new Uint8Array(60);
    let passes = 0;
    for (let game = 0; game < 50; game++) {
      const n = writeRandomGame(rng, tokens, 0);
      const labels = othelloLabels(tokens);
      expect(labels.moves).toBe(n);
      const reference = new ArrayOthello();
      const expected = {
        mineTheirs: new Uint8Array(n * 64),
        blackWhite: new Uint8Array(n * 64),
        flipped: new Uint8Array(n * 64),
        legalNext: new Uint8Array(n * 64),
      };
      for (let t = 0; t < n; t++) {
        const mover = reference.turn;
        const { flipped } = reference.play(parseSquareOfToken(tokens[t]));
        for (let s = 0; s < 64; s++) {
          const cell = reference.cells[s];
          expected.blackWhite[t * 64 + s] = cell;
          expected.mineTheirs[t * 64 + s] = cell === EMPTY ? 0 : cell === mover ? 1 : 2;
        }
        for (const s of flipped) expected.flipped[t * 64 + s] = 1;
        if (!reference.isOver()) for (const s of reference.legalMoves()) expected.legalNext[t * 64 + s] = 1;
      }
      expect(labels.mineTheirs).toEqual(expected.mineTheirs);
      expect(labels.blackWhite).toEqual(expected.blackWhite);
      expect(labels.flipped).toEqual(expected.flipped);
      expect(labels.legalNext).toEqual(expected.legalNext);
      passes += reference.passes;
    }
    expect(passes).toBeGreaterThan(0);
  });

  it('rejects illegal and malformed token sequences with a UserError naming the move', () => {
    expect(() => othelloLabels(record('f5', 'f4', 'a1'))).toThrow(UserError);
    expect(() => othelloLabels(record('f5', 'f4', 'a1'))).toThrow(/move 2 .*a1.* illegal/);
    expect(() => othelloLabels(record('a1'))).toThrow(/move 0/);
    const gap = record('f5');
    gap[2] = 5;
    expect(() => gameLength(gap)).toThrow(/after the padding/);
    const outside = record('f5');
    outside[1] = 61;
    expect(() => othelloLabels(outside)).toThrow(/outside the vocabulary/);
  });

  it('gives empty arrays for an empty game', () => {
    const labels = othelloLabels(new Uint8Array(60));
    expect(labels.moves).toBe(0);
    expect(labels.mineTheirs.length).toBe(0);
  });
});

function parseSquareOfToken(token: number): number {
  // Independent of the engine's table: count playable squares up to the token.
  let seen = 0;
  for (let sq = 0; sq < 64; sq++) {
    if ([27, 28, 35, 36].includes(sq)) continue;
    if (++seen === token) return sq;
  }
  throw new Error(`bad token ${token}`);
}

describe('loserMoves', () => {
  it('marks exactly the moves of the side with fewer discs at the end, read from the replay labels', () => {
    const dataset = openDataset('datasets/samples/othello');
    let decided = 0;
    for (let g = 0; g < 40; g++) {
      const record = dataset.readGames('val', g, 1);
      const labels = othelloLabels(record);
      const n = labels.moves;
      // the mover of move t is the colour on the square it played, right after it
      const moverOf = (t: number) => labels.blackWhite[t * 64 + squareOfToken(record[t])];
      let black = 0;
      let white = 0;
      for (let s = 0; s < 64; s++) {
        const cell = labels.blackWhite[(n - 1) * 64 + s];
        if (cell === 1) black++;
        if (cell === 2) white++;
      }
      const mask = loserMoves(record);
      if (black === white) {
        expect(mask).toBeNull();
        continue;
      }
      decided++;
      const loser = black < white ? 1 : 2;
      expect(mask).toHaveLength(record.length);
      for (let t = 0; t < record.length; t++) expect(mask![t], `game ${g}, move ${t}`).toBe(t < n && moverOf(t) === loser ? 1 : 0);
    }
    expect(decided).toBeGreaterThan(30);
    dataset.close();
  });
});

describe('labelledPositionPrefix', () => {
  it('is null for a whole game, and marks every move but the last of a game cut before its end', () => {
    const dataset = openDataset('datasets/samples/othello');
    for (let g = 0; g < 20; g++) {
      const whole = dataset.readGames('val', g, 1);
      expect(labelledPositionPrefix(whole), `game ${g}`).toBeNull();
      const n = gameLength(whole);
      for (const k of [2, 17, n - 1]) {
        const cut = whole.slice();
        cut.fill(0, k);
        const mask = labelledPositionPrefix(cut);
        expect(mask, `game ${g} cut at ${k}`).toHaveLength(60);
        for (let t = 0; t < 60; t++) expect(mask![t], `game ${g} cut at ${k}, move ${t}`).toBe(t < k - 1 ? 1 : 0);
      }
    }
    dataset.close();
  });
});
