import { Chess } from 'chess.js';
import { describe, expect, it } from 'vitest';
import { gameStringOf, replayGameString } from '../../../games/chess/game-string.js';
import { randomChessGame } from '../../../games/chess/random-game.js';
import { Rng } from '../../../src/util/rng.js';

describe('random chess games', () => {
  it('replay legally, fit a block, and end by rule unless the block is full', () => {
    for (let g = 0; g < 12; g++) {
      const sans = randomChessGame(new Rng(5, g));
      const text = gameStringOf(sans);
      expect(text.length).toBeLessThanOrEqual(1024);
      const chess = replayGameString(text);
      if (!chess.isGameOver()) {
        // Stopped for space: the drawn move did not fit, and no ply takes more than 12 characters (` 100.exd8=Q+`).
        expect(text.length).toBeGreaterThan(1024 - 12);
      }
    }
  });

  it('are reproducible from the rng and uniform over chess.js move order', () => {
    expect(randomChessGame(new Rng(9))).toEqual(randomChessGame(new Rng(9)));
    expect(randomChessGame(new Rng(9))).not.toEqual(randomChessGame(new Rng(10)));
    // The first move is the rng's pick among the 20 legal moves, in chess.js's order.
    const first = new Chess().moves()[new Rng(3).nextInt(20)];
    expect(randomChessGame(new Rng(3))[0]).toBe(first);
  });
});
