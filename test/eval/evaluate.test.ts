import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { evaluateCheckpoint } from '../../src/eval/evaluate.js';
import { CONFIG_FILE, MODEL_FILE } from '../../src/train/checkpoint.js';
import { startTraining } from '../../src/train/trainer.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const trained = startTraining({
  outDir: join(root, 'ckpt'), game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
  clip: 1, seed: 2, valEvery: 10, valGames: 4, saveEvery: 10, steps: 2,
});

describe('evaluateCheckpoint', () => {
  it('scores a tiny trained model on every non-final prefix of the held-out games', async () => {
    const { outDir } = await trained;
    const result = await evaluateCheckpoint({ checkpoint: outDir, data: SAMPLES, split: 'val', games: 10, backend: 'cpu' });
    expect(result.report.legalTop1).toBeGreaterThanOrEqual(0);
    expect(result.report.legalTop1).toBeLessThanOrEqual(1);
    const games = openDataset(SAMPLES).readGames('val', 0, 10);
    let prefixes = 0;
    for (let g = 0; g < 10; g++) {
      let n = 0;
      while (n < 60 && games[g * 60 + n] !== 0) n++;
      prefixes += n - 1;
    }
    expect(result.report.positions).toBe(prefixes);
    expect(result.report.games).toBe(10);
  });

  it('refuses a checkpoint whose weights do not fit its config, naming the file', async () => {
    const { outDir } = await trained;
    const broken = join(root, 'broken');
    copyModel(outDir, broken);
    const config = JSON.parse(readFileSync(join(broken, CONFIG_FILE), 'utf8'));
    writeFileSync(join(broken, CONFIG_FILE), JSON.stringify({ ...config, d_model: 32, dt_rank: 2 }));
    await expect(evaluateCheckpoint({ checkpoint: broken, data: SAMPLES, split: 'val', games: 2, backend: 'cpu' })).rejects.toThrow(
      new RegExp(`^${join(broken, MODEL_FILE)}: tensor backbone\\.embeddings\\.weight has shape \\[61,64\\] but the config needs \\[61,32\\]`),
    );
    writeFileSync(join(broken, CONFIG_FILE), JSON.stringify({ ...config, vocab_size: 65 }));
    await expect(evaluateCheckpoint({ checkpoint: broken, data: SAMPLES, split: 'val', games: 2, backend: 'cpu' })).rejects.toThrow(/shape \[61,64\] but the config needs \[65,64\]/);
  });
});

/** A model-only copy of a checkpoint (what an export or a download would hold). */
function copyModel(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of [MODEL_FILE, CONFIG_FILE]) writeFileSync(join(to, name), readFileSync(join(from, name)));
}
