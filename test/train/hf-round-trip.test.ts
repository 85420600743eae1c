/**
 * The Hugging Face round trip, both ways:
 * - in: models written by transformers' own save_pretrained (test/fixtures/transformers, made by
 *   tools/make-hf-fixture.py) load in gamba unchanged and give transformers' logits, and eval, probe
 *   and play run on them;
 * - out: `gamba export` writes a directory whose weights come back exactly (fp32) or as rounded
 *   (fp16, bf16), with hashes gamba checks, and `gamba logits` writes what tools/hf-check.py compares.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import type { MambaConfig } from '../../src/model/config.js';
import { createModel, modelParameterShapes } from '../../src/model/models.js';
import { CONFIG_FILE, HASHES_FILE, MODEL_FILE, writeCheckpoint, type NamedTensors } from '../../src/train/checkpoint.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { startTraining } from '../../src/train/trainer.js';
import { decodeSafetensors, float32ToBFloat16, float32ToFloat16, toFloat32 } from '../../src/train/safetensors.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { writeTinyCheckpoint } from '../eval/play-fixtures.js';

const FIXTURES = 'test/fixtures/transformers';
const SAMPLES = 'datasets/samples/othello';
const SHIPPED = 'models/othello-base';
const root = mkdtempSync(join(tmpdir(), 'gamba-hf-'));
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('models saved by transformers', () => {
  for (const name of ['tied-bf16', 'untied-fp32']) {
    it(`${name}: loads unchanged and gives transformers' logits`, async () => {
      const dir = join(FIXTURES, name);
      const notes: string[] = [];
      const checkpoint = loadCheckpoint(dir, (line) => notes.push(line));
      expect(notes).toEqual([`${join(dir, MODEL_FILE)}: no recorded hash (a model made elsewhere), so its weights are not verified`]);
      expect(checkpoint.game).toBeNull();
      expect((checkpoint.config as MambaConfig).tie_embeddings).toBe(name.startsWith('tied'));
      const stored = decodeSafetensors(readFileSync(join(dir, MODEL_FILE)), dir);
      expect(new Set([...stored.tensors.values()].map((t) => t.dtype))).toEqual(new Set([name.endsWith('bf16') ? 'BF16' : 'F32']));

      const expected = decodeSafetensors(readFileSync(`${dir}.logits.safetensors`), dir);
      const tokens = expected.tensors.get('tokens')!;
      const [games, length] = tokens.shape;
      const theirs = toFloat32(expected.tensors.get('logits')!);
      const model = createModel(new CpuBackend(), checkpoint.config, checkpoint.params);
      const ours = await model.logits(Int32Array.from(toFloat32(tokens)), games, length);
      let scale = 0;
      for (const x of theirs) scale = Math.max(scale, Math.abs(x));
      expect(scale).toBeGreaterThan(1);
      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-4 * scale);
    });
  }

  it('runs through gamba eval, probe and play', () => {
    const dir = join(FIXTURES, 'tied-bf16');
    const evaluated = gamba('eval', '--checkpoint', dir, '--data', SAMPLES, '--games', '4', '--backend', 'cpu', '--json');
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).positions).toBeGreaterThan(100);
    expect(evaluated.stderr).toContain('no recorded hash');
    const probe = gamba('probe', '--checkpoint', dir, '--data', SAMPLES, '--games', '20', '--eval-games', '8', '--source', 'residual',
      '--no-random-init', '--backend', 'cpu', '--out', join(root, 'fixture-probe'), '--json');
    expect(probe.status, probe.stderr).toBe(0);
    expect(existsSync(join(root, 'fixture-probe', 'report.json'))).toBe(true);
    const play = gamba('play', '--game', 'othello', '--checkpoint', dir, '--opponent', 'random', '--games', '2', '--backend', 'cpu',
      '--out', join(root, 'fixture-play'), '--json');
    expect(play.status, play.stderr).toBe(0);
    expect(JSON.parse(play.stdout).games).toBe(2);
  });
});

describe('gamba export', () => {
  it('writes fp32 weights that come back bit for bit, with a config, a model card and checked hashes', () => {
    const out = join(root, 'export-fp32');
    const run = gamba('export', '--checkpoint', SHIPPED, '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', HASHES_FILE, CONFIG_FILE, 'generation_config.json', MODEL_FILE].sort());
    const original = loadCheckpoint(SHIPPED);
    const exported = loadCheckpoint(out);
    expect(exported.config).toEqual(original.config);
    expect(exported.game).toBe('othello');
    for (const [name, data] of original.params) expect(maxAbsDiff(exported.params.get(name)!, data), name).toBe(0);
    const config = readFileSync(join(out, CONFIG_FILE), 'utf8');
    expect(config).toContain('"time_step_scale": 1.0');
    expect(JSON.parse(config)).toMatchObject({ model_type: 'mamba', architectures: ['MambaForCausalLM'], torch_dtype: 'float32' });
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toMatch(/^---\nlibrary_name: transformers\n/);
    // The headline numbers of the shipped model's eval.json and probe report.
    const evalJson = JSON.parse(readFileSync(join(SHIPPED, 'eval.json'), 'utf8'));
    expect(card).toContain(`${(100 * evalJson.legalTop1).toFixed(2)}% over ${evalJson.positions.toLocaleString('en-US')} positions`);
    expect(card).toContain('residual layer 6');
    expect(card).toContain('3,520,000');
  });

  it('puts a trained checkpoint\'s data, tokens and losses in the model card', async () => {
    const dir = join(root, 'trained');
    const result = await startTraining({
      outDir: dir, game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
      clip: 1, seed: 9, valEvery: 2, valGames: 4, saveEvery: 2, steps: 2,
    });
    const out = join(root, 'trained-export');
    const run = gamba('export', '--checkpoint', dir, '--out', out);
    expect(run.status, run.stderr).toBe(0);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain(`- 2 steps, batch 4 games, ${(2 * 4 * 59).toLocaleString('en-US')} training tokens`);
    expect(card).toContain(`(18,960 training games)`);
    expect(card).toContain(`final training loss ${result.lossHistory.at(-1)!.toFixed(4)}, validation loss ${result.valLoss!.toFixed(4)}`);
    expect(card).toContain('None recorded in the checkpoint');
  });

  it('rounds to fp16 and bf16 as the formats do, and the exported models evaluate', () => {
    const original = loadCheckpoint(SHIPPED);
    for (const dtype of ['fp16', 'bf16'] as const) {
      const out = join(root, `export-${dtype}`);
      const run = gamba('export', '--checkpoint', SHIPPED, '--out', out, '--dtype', dtype);
      expect(run.status, run.stderr).toBe(0);
      const stored = decodeSafetensors(readFileSync(join(out, MODEL_FILE)), out);
      const word = dtype === 'fp16' ? float32ToFloat16 : float32ToBFloat16;
      for (const [name, data] of original.params) {
        const tensor = stored.tensors.get(name)!;
        expect(tensor.dtype).toBe(dtype === 'fp16' ? 'F16' : 'BF16');
        const words = tensor.data as Uint16Array;
        let wrong = 0;
        for (let i = 0; i < data.length; i++) if (words[i] !== word(data[i])) wrong++;
        expect(wrong, name).toBe(0);
      }
      expect(JSON.parse(readFileSync(join(out, CONFIG_FILE), 'utf8')).torch_dtype).toBe(dtype === 'fp16' ? 'float16' : 'bfloat16');
      const evaluated = gamba('eval', '--checkpoint', out, '--data', SAMPLES, '--games', '8', '--backend', 'cpu', '--json');
      expect(evaluated.status, evaluated.stderr).toBe(0);
      expect(evaluated.stderr).not.toContain('no recorded hash');
      expect(JSON.parse(evaluated.stdout).legalTop1).toBeGreaterThan(0.95);
    }
  });

  it('refuses a non-empty --out without --force, a weight beyond fp16, and leaves nothing half-written', () => {
    const out = join(root, 'busy');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const refused = gamba('export', '--checkpoint', SHIPPED, '--out', out);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim()).toBe(`gamba: --out ${out}: already exists and is not empty (use --force to replace it)`);
    expect(readdirSync(out)).toEqual(['keep.txt']);

    const big = writeTinyCheckpoint(join(root, 'big'), 'othello');
    const checkpoint = loadCheckpoint(big);
    const model: NamedTensors = new Map();
    for (const [name, shape] of modelParameterShapes(checkpoint.config)) model.set(name, { shape, data: checkpoint.params.get(name)! });
    model.get('backbone.norm_f.weight')!.data[3] = 1e6;
    writeCheckpoint(big, { config: JSON.parse(readFileSync(join(big, CONFIG_FILE), 'utf8')), model });
    rmSync(join(big, HASHES_FILE));
    const bigOut = join(root, 'big-fp16');
    const tooBig = gamba('export', '--checkpoint', big, '--out', bigOut, '--dtype', 'fp16');
    expect(tooBig.status).toBe(2);
    expect(tooBig.stderr.trim().split('\n').at(-1)).toBe(`gamba: ${join(big, MODEL_FILE)}: backbone.norm_f.weight holds 1000000, beyond fp16's range (export as bf16 or fp32)`);
    expect(existsSync(bigOut)).toBe(false);
    expect(readdirSync(root).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('gamba logits writes the tokens and the model\'s logits', async () => {
    const out = join(root, 'not-yet-made', 'logits.json');
    const run = gamba('logits', '--checkpoint', join(FIXTURES, 'untied-fp32'), '--data', SAMPLES, '--games', '3', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(file).toMatchObject({ format: 'gamba-logits', vocabSize: 61, length: 59, backend: 'cpu' });
    expect(file.tokens).toHaveLength(3);
    expect(file.logits[0]).toHaveLength(59);
    expect(file.logits[0][0]).toHaveLength(61);
    const checkpoint = loadCheckpoint(join(FIXTURES, 'untied-fp32'));
    const model = createModel(new CpuBackend(), checkpoint.config, checkpoint.params);
    const logits = await model.logits(Int32Array.from(file.tokens.flat()), 3, 59);
    expect(maxAbsDiff(Float32Array.from(file.logits.flat(2)), logits)).toBe(0);
    const again = gamba('logits', '--checkpoint', join(FIXTURES, 'untied-fp32'), '--data', SAMPLES, '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr.trim()).toBe(`gamba: ${out}: already exists (use --force to overwrite it)`);
  });
});
