import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { captureFeatures, closeCapture, type CapturedSource } from '../../probes/capture.js';
import { gameLength } from '../../games/othello/labels.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { validateConfig, type MambaConfig } from '../../src/model/config.js';
import { MambaLM } from '../../src/model/mamba.js';
import { initParameters } from '../../src/model/params.js';
import { Rng } from '../../src/util/rng.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'datasets', 'samples', 'othello');
const dir = mkdtempSync(join(tmpdir(), 'gamba-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = validateConfig({ d_model: 16, n_layers: 2, d_state: 4, expand: 2, d_conv: 4, dt_rank: 1, vocab_size: 61, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0 }, 'test config') as MambaConfig;
const params = initParameters(config, new Rng(3, 1));
const model = new MambaLM(new CpuBackend(), config, params);
const G = 5;
const L = 60;
const P = 59;
const games = openDataset(SAMPLES).readGames('val', 0, G);
const lengths = Array.from({ length: G }, (_, g) => gameLength(games.subarray(g * L, (g + 1) * L)));
// Othello probe points: positions 0 .. min(moves, P) - 1. State: points 0, 7 and 58 (those the game reaches).
const points = lengths.map((n) => Int32Array.from({ length: Math.min(n, P) }, (_, t) => t));
const stateMask = points.map((p) => Uint8Array.from(p, (t) => (t === 0 || t === 7 || t === 58 ? 1 : 0)));

/** All rows of a captured source, layer by layer. */
function readAll(source: CapturedSource): Float32Array[] {
  return source.files.map((file) => {
    const out = new Float32Array(file.rows * file.dim);
    for (const chunk of file.chunks(3)) out.set(chunk.data, chunk.start * file.dim);
    return out;
  });
}

describe('captureFeatures', async () => {
  // Batch 2, so batches cut across games and the last batch is short.
  const captured = await captureFeatures(model, games, L, { dir, name: 'test', batch: 2, points, keep: { residual: null, state: stateMask } });
  const [residual, state] = captured;
  const residualRows = readAll(residual);
  const stateRows = readAll(state);
  closeCapture(captured);

  it('writes one row per kept position, per layer, with the documented widths and layer numbers', () => {
    const positions = Array.from(lengths, (n) => Math.min(n, P)).reduce((a, b) => a + b, 0);
    expect(residual.layers).toEqual([0, 1, 2]);
    expect(residual.index.rows).toBe(positions);
    expect(residual.files.map((f) => [f.rows, f.dim])).toEqual([[positions, 16], [positions, 16], [positions, 16]]);
    const kept = Array.from(lengths, (n) => [0, 7, 58].filter((t) => t < n).length).reduce((a, b) => a + b, 0);
    expect(state.layers).toEqual([1, 2]);
    expect(state.index.rows).toBe(kept);
    expect(state.files.map((f) => [f.rows, f.dim])).toEqual([[kept, 32 * 4], [kept, 32 * 4]]);
    expect(Array.from(state.index.move).every((t) => t === 0 || t === 7 || t === 58)).toBe(true);
  });

  it('captures the embedding at layer 0 and, after the final norm and head, the logits of the full-sequence path', async () => {
    const inputs = new Int32Array(G * P);
    for (let g = 0; g < G; g++) for (let t = 0; t < P; t++) inputs[g * P + t] = games[g * L + t];
    const logits = await model.logits(inputs, G, P);
    const embedding = params.get('backbone.embeddings.weight')!;
    const normF = params.get('backbone.norm_f.weight')!;
    const d = 16;
    const V = 61;
    const last = residualRows[2];
    let worst = 0;
    for (let r = 0; r < residual.index.rows; r++) {
      const g = residual.index.game[r];
      const t = residual.index.move[r];
      const token = games[g * L + t];
      for (let k = 0; k < d; k++) expect(residualRows[0][r * d + k]).toBe(embedding[token * d + k]);
      // RMSNorm_f, then the tied head: logits[v] = sum_k x_norm[k] * embedding[v, k].
      let ms = 0;
      for (let k = 0; k < d; k++) ms += last[r * d + k] ** 2;
      const rstd = 1 / Math.sqrt(ms / d + config.layer_norm_epsilon);
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += last[r * d + k] * rstd * normF[k] * embedding[v * d + k];
        worst = Math.max(worst, Math.abs(s - logits[(g * P + t) * V + v]));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('captures the SSM state each game reaches on its own, one token at a time', async () => {
    for (const r of [0, state.index.rows - 1, Math.floor(state.index.rows / 2)]) {
      const g = state.index.game[r];
      const t = state.index.at[r];
      const alone = model.newStepState(1);
      for (let u = 0; u <= t; u++) await model.step(alone, Int32Array.of(games[g * L + u]));
      for (let i = 0; i < 2; i++) {
        const h = await model.backend.download(model.ssmState(alone, i));
        const row = stateRows[i].subarray(r * 128, (r + 1) * 128);
        for (let k = 0; k < 128; k++) expect(row[k]).toBeCloseTo(h[k], 5);
      }
    }
  });
});
