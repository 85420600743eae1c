/**
 * The lens on the shipped othello-base: its last layer's logit lens is the model's own prediction,
 * scored like the eval's legal-move rate (computed independently, from full-sequence logits), and the
 * tuned lens of that layer agrees with it; the early layers predict much less.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { computeProbeReport } from '../../probes/run-probe.js';
import type { ProbeReport } from '../../probes/report.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { legalMoveRate } from '../../src/eval/legal-moves.js';
import { createModel } from '../../src/model/models.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';

const REPO = join(import.meta.dirname, '..', '..');
const CHECKPOINT = join(REPO, 'models', 'othello-base');
const DATA = join(REPO, 'datasets', 'samples', 'othello');
const EVAL_GAMES = 12;
let report: ProbeReport;

beforeAll(async () => {
  report = await computeProbeReport({
    checkpoint: CHECKPOINT, data: DATA, sources: ['residual'], games: 30, evalGames: EVAL_GAMES, seed: 1, statePositions: 4, batch: 16, epochs: 0, backend: 'cpu', randomInit: false,
  });
}, 240_000);

describe('the lens', () => {
  it('reads every residual layer, and its last logit lens is the eval legal-move rate of the same games', async () => {
    const lens = report.lens!;
    expect(lens.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const checkpoint = loadCheckpoint(CHECKPOINT);
    const dataset = openDataset(DATA);
    const games = dataset.readGames('val', 0, EVAL_GAMES);
    const eval_ = await legalMoveRate(createModel(new CpuBackend(), checkpoint.config, checkpoint.params), checkpoint.config.vocab_size, games, dataset.recordLength);
    dataset.close();
    expect(lens.positions).toBe(eval_.positions);
    const last = lens.layers[8];
    // Step-by-step and full-sequence logits differ in rounding only: a near tie may flip, no more.
    expect(Math.abs(last.logit.legalTop1! - eval_.legalTop1)).toBeLessThanOrEqual(2 / eval_.positions);
    expect(last.logit.agreeTop1).toBe(1);
    expect(last.logit.byMove.map((m) => m.move)).toEqual(eval_.byMove.map((m) => m.move));
    // Trained on uniformly random games, the model spreads its probability evenly over the legal moves,
    // so which legal move is top-1 is near a coin toss: the tuned lens finds legal moves, not the same one.
    expect(last.tuned.legalTop1!).toBeGreaterThan(0.97);
    // The embedding alone knows little of the next move; the tuned lens reads more there than the model's head.
    expect(lens.layers[0].logit.legalTop1!).toBeLessThan(0.5);
    expect(lens.layers[0].tuned.legalTop1!).toBeGreaterThan(lens.layers[0].logit.legalTop1!);
    expect(last.logit.legalTop1!).toBeGreaterThan(0.97);
  });
});
