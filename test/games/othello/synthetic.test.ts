import { describe, expect, it } from 'vitest';
import { writeRandomGame } from '../../../games/othello/synthetic.js';
import { Rng } from '../../../src/util/rng.js';
import { ArrayOthello } from './array-reference.js';

/** Token -> square, counted independently of the engine's tables. */
const PLAYABLE = Array.from({ length: 64 }, (_, sq) => sq).filter((sq) => ![27, 28, 35, 36].includes(sq));

describe('writeRandomGame', () => {
  it('writes complete legal games, padded to 60, drawing the k-th legal move with rng.nextInt', () => {
    const rng = new Rng(5, 1);
    const mirror = new Rng(5, 1);
    const out = new Uint8Array(3 * 60 + 2).fill(255);
    let shortGames = 0;
    for (let game = 0; game < 100; game++) {
      const offset = 1 + 60 * (game % 3);
      const n = writeRandomGame(rng, out, offset);
      const reference = new ArrayOthello();
      for (let t = 0; t < n; t++) {
        const moves = reference.legalMoves();
        // The same draw the generator documents: index rng.nextInt(count) into the ascending moves.
        const expected = moves[mirror.nextInt(moves.length)];
        expect(PLAYABLE[out[offset + t] - 1]).toBe(expected);
        reference.play(expected);
      }
      expect(reference.isOver()).toBe(true);
      for (let t = n; t < 60; t++) expect(out[offset + t]).toBe(0);
      if (n < 60) shortGames++;
    }
    // Bytes outside the 3 record slots are never touched.
    expect(out[0]).toBe(255);
    expect(out[181]).toBe(255);
    expect(shortGames).toBeGreaterThan(0);
  });

  it('is reproducible from the seed and differs between seeds', () => {
    const a = new Uint8Array(60 * 20);
    const b = new Uint8Array(60 * 20);
    const c = new Uint8Array(60 * 20);
    const rngA = new Rng(42);
    const rngB = new Rng(42);
    const rngC = new Rng(43);
    for (let i = 0; i < 20; i++) {
      writeRandomGame(rngA, a, i * 60);
      writeRandomGame(rngB, b, i * 60);
      writeRandomGame(rngC, c, i * 60);
    }
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('draws the first move uniformly over the four openings', () => {
    const rng = new Rng(11);
    const out = new Uint8Array(60);
    const counts = new Map<number, number>();
    const games = 4000;
    for (let i = 0; i < games; i++) {
      writeRandomGame(rng, out, 0);
      counts.set(out[0], (counts.get(out[0]) ?? 0) + 1);
    }
    // d3 c4 f5 e6 -> tokens 20, 27, 34, 41 (square + 1, minus the centre squares before it).
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual([20, 27, 34, 41]);
    // Binomial(4000, 1/4): sd ~27, so +-150 is more than 5 sd.
    for (const count of counts.values()) expect(Math.abs(count - games / 4)).toBeLessThan(150);
  });
});
