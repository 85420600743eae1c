import { describe, expect, it } from 'vitest';
import { legalNextLabels } from '../../games/othello/labels.js';
import { SQUARE_TO_TOKEN, VOCAB_SIZE } from '../../games/othello/notation.js';
import { writeRandomGame } from '../../games/othello/synthetic.js';
import { legalMoveRate, type NextTokenModel } from '../../src/eval/legal-moves.js';
import { Rng } from '../../src/util/rng.js';

const RECORD = 60;

function randomGames(count: number, seed: number): { games: Uint8Array; lengths: number[] } {
  const rng = new Rng(seed);
  const games = new Uint8Array(count * RECORD);
  const lengths: number[] = [];
  for (let g = 0; g < count; g++) lengths.push(writeRandomGame(rng, games, g * RECORD));
  return { games, lengths };
}

/** A model that puts all its mass on one token chosen from the sequence seen so far. */
function pickingModel(pick: (seen: Int32Array, t: number) => number): NextTokenModel {
  return {
    async logits(inputs, batch, length) {
      const out = new Float32Array(batch * length * VOCAB_SIZE);
      for (let b = 0; b < batch; b++) {
        const row = inputs.subarray(b * length, (b + 1) * length);
        for (let t = 0; t < length; t++) out[(b * length + t) * VOCAB_SIZE + pick(row, t)] = 1;
      }
      return out;
    },
  };
}

describe('legal-move rate', () => {
  const { games, lengths } = randomGames(40, 11);
  const labels = lengths.map((_, g) => legalNextLabels(games.subarray(g * RECORD, (g + 1) * RECORD)));

  it('counts every prefix of a game except the final position', async () => {
    const report = await legalMoveRate(pickingModel(() => 0), VOCAB_SIZE, games, RECORD, { batch: 7 });
    // Synthetic games end when neither side can move: a game of n moves has n-1 non-final prefixes.
    expect(report.positions).toBe(lengths.reduce((sum, n) => sum + n - 1, 0));
    expect(report.games).toBe(40);
    expect(report.byMove[0].move).toBe(1);
    expect(report.byMove[0].positions).toBe(40);
    expect(report.byMove.reduce((sum, m) => sum + m.positions, 0)).toBe(report.positions);
    // Padding is never a legal move.
    expect(report.legalTop1).toBe(0);
  });

  it('scores an oracle that names the next move of the game at 1', async () => {
    // The game's own next move is legal at every non-final prefix.
    const oracle = pickingModel((seen, t) => {
      const g = findGame(seen);
      return games[g * RECORD + t + 1] || 0;
    });
    const findGame = (seen: Int32Array) => {
      for (let g = 0; g < lengths.length; g++) {
        let same = true;
        for (let t = 0; t < RECORD - 1 && same; t++) same = games[g * RECORD + t] === seen[t];
        if (same) return g;
      }
      throw new Error('unknown game');
    };
    const report = await legalMoveRate(oracle, VOCAB_SIZE, games, RECORD, { batch: 16 });
    expect(report.legalTop1).toBe(1);
    expect(report.byMove.every((m) => m.legalTop1 === 1)).toBe(true);
  });

  it('agrees with the legal-move labels for a model that always names one square', async () => {
    const square = 19; // d3, one of black's opening moves
    const token = SQUARE_TO_TOKEN[square];
    const report = await legalMoveRate(pickingModel(() => token), VOCAB_SIZE, games, RECORD, { batch: 9 });
    let legal = 0;
    let positions = 0;
    const legalAtMove = new Map<number, number>();
    lengths.forEach((n, g) => {
      for (let t = 0; t < n - 1; t++) {
        positions++;
        if (labels[g][t * 64 + square]) {
          legal++;
          legalAtMove.set(t + 1, (legalAtMove.get(t + 1) ?? 0) + 1);
        }
      }
    });
    expect(report.positions).toBe(positions);
    expect(report.legalTop1).toBeCloseTo(legal / positions, 12);
    expect(report.legalTop1).toBeGreaterThan(0);
    for (const m of report.byMove) expect(m.legalTop1 * m.positions).toBeCloseTo(legalAtMove.get(m.move) ?? 0, 9);
  });

  it('scores 0 for a model that names the square of the last move', async () => {
    // The last move's square is occupied, so never legal.
    const report = await legalMoveRate(pickingModel((seen, t) => seen[t]), VOCAB_SIZE, games, RECORD);
    expect(report.legalTop1).toBe(0);
    expect(report.positions).toBeGreaterThan(0);
  });
});
