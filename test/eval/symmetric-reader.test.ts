/**
 * The Othello model read through the four opening symmetries (src/eval/symmetric-reader.ts): its scores
 * are the mean of the four views' log-probabilities mapped back onto the board as played, so the image
 * of a game under any of the symmetries gets the image of its scores; `gamba play --symmetries` plays
 * legal games with it and records it in the summary, and is refused for chess.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/index.js';
import { SymmetricOthelloReader } from '../../src/eval/symmetric-reader.js';
import { TokenStepper } from '../../src/eval/token-stepper.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { createModel } from '../../src/model/models.js';
import { openDataset } from '../../datasets/reader.js';
import { gameLength } from '../../games/othello/labels.js';
import { SYMMETRY_TOKEN_MAPS } from '../../games/othello/symmetry.js';
import { tempDir, writeTinyCheckpoint } from './play-fixtures.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = tempDir('symmetric-reader');
const checkpoint = writeTinyCheckpoint(join(root, 'model'), 'othello', 3);
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function tinyModel() {
  const loaded = loadCheckpoint(checkpoint);
  return createModel(await createBackend('cpu'), loaded.config, loaded.params);
}

/** The first `n` moves of a sample game, as tokens. */
function sampleMoves(n: number): number[] {
  const dataset = openDataset('datasets/samples/othello');
  const record = dataset.readGames('val', 3, 1);
  dataset.close();
  expect(gameLength(record)).toBeGreaterThanOrEqual(n);
  return Array.from(record.subarray(0, n));
}

const logSoftmax = (logits: Float32Array) => {
  const max = Math.max(...logits);
  const logTotal = max + Math.log(logits.reduce((a, v) => a + Math.exp(v - max), 0));
  return Array.from(logits, (v) => v - logTotal);
};

describe('the symmetric Othello reader', () => {
  it('scores each move by the mean of the four views\' log-probabilities, mapped back onto the board as played', async () => {
    const model = await tinyModel();
    const moves = sampleMoves(20);
    const reader = new SymmetricOthelloReader(model);
    const scores = Array.from(await reader.feed(moves));
    const views = await Promise.all(SYMMETRY_TOKEN_MAPS.map(async (map) => {
      const stepper = new TokenStepper(model);
      const logProbs = logSoftmax(await stepper.feed(moves.map((t) => map[t])));
      stepper.dispose();
      return Array.from({ length: 61 }, (_, t) => logProbs[map[t]]);
    }));
    for (let t = 0; t < 61; t++) expect(scores[t]).toBeCloseTo(views.reduce((a, v) => a + v[t], 0) / 4, 5);
    // The random model is far from symmetric: the views disagree, so the mean is not the identity view.
    expect(Math.max(...scores.map((s, t) => Math.abs(s - views[0][t])))).toBeGreaterThan(0.01);
    reader.reset();
    expect(reader.logits).toBeNull();
    for (const move of moves) await reader.feed([move]);
    for (let t = 0; t < 61; t++) expect(reader.logits![t]).toBeCloseTo(scores[t], 5);
    reader.dispose();
  });

  it('gives the image of a game under a symmetry the image of its scores', async () => {
    const model = await tinyModel();
    const moves = sampleMoves(25);
    const reader = new SymmetricOthelloReader(model);
    const scores = Float32Array.from(await reader.feed(moves));
    for (const map of SYMMETRY_TOKEN_MAPS) {
      reader.reset();
      const image = await reader.feed(moves.map((t) => map[t]));
      for (let t = 0; t < 61; t++) expect(image[map[t]]).toBeCloseTo(scores[t], 5);
    }
    reader.dispose();
  });

  it('plays legal games in gamba play --symmetries, recorded in the summary, and is refused for chess', () => {
    const out = join(root, 'match');
    const run = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'greedy', '--games', '2', '--symmetries', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.games).toBe(2);
    expect(summary.model.symmetries).toBe(true);
    expect(summary.illegalRate).toBe(0);
    const chess = gamba('play', '--game', 'chess', '--checkpoint', writeTinyCheckpoint(join(root, 'chess'), 'chess'), '--symmetries', '--games', '1', '--out', join(root, 'chess-match'));
    expect(chess.status).not.toBe(0);
    expect(chess.stderr).toContain('--symmetries: only for --game othello');
  });
});
