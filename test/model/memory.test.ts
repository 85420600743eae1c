/**
 * The size check of a training step (src/model/memory.ts): the estimate against what the backends hold,
 * normal runs pass, sizes that cannot fit are refused in one line naming the flag, the size and the limit,
 * before `gamba train` writes anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SizeLimits } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { configFromPreset } from '../../src/model/config.js';
import { checkBatchFits, checkStepFits, stepMemory } from '../../src/model/memory.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { AdamW } from '../../src/train/optimizer.js';
import { trainStep } from '../../src/train/step.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const REPO = join(import.meta.dirname, '..', '..');
const SAMPLES = join(REPO, 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-memory-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const GiB = 2 ** 30;
const othello = (preset: string) => configFromPreset(preset, 61, 59);
/** WebGPU's default limits: what any adapter allows at least (device.ts raises them to the adapter's). */
const WEBGPU_DEFAULTS: SizeLimits = {
  memory: null,
  tensor: { elements: Infinity, bytes: 128 * 2 ** 20, what: "the device's maxStorageBufferBindingSize of 128.0 MiB" },
  batch: { max: 65535, what: 'the 65535 sequences the webgpu selective scan runs in one dispatch' },
};

function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('stepMemory', () => {
  it('matches the GPU memory the webgpu pool held on an H200 (README): the Mambas to within 3%, the transformers 5%', () => {
    const cases: [string, number, number, number, number][] = [
      ['othello-base', 256, 60, 2.7, 0.03],
      ['chess-base', 8, 1024, 5.7, 0.03],
      ['chess-base', 32, 1024, 21.5, 0.03],
      ['othello-base-gpt', 256, 60, 1.70, 0.05],
      ['othello-gpt', 256, 60, 4.64, 0.05],
      ['chess-gpt', 8, 1023, 2.66, 0.05],
    ];
    for (const [preset, batch, length, heldGiB, tolerance] of cases) {
      const config = preset.startsWith('chess') ? configFromPreset(preset, 32, length) : configFromPreset(preset, 61, length);
      const estimate = stepMemory(config, batch, length, 'webgpu').bytes / GiB;
      expect(Math.abs(estimate - heldGiB) / heldGiB, preset).toBeLessThan(tolerance);
    }
  });

  it.each(['tiny', 'quickstart-gpt'])('matches what the cpu backend holds after two training steps of %s (its pool, weights and moments) to within 5 percent', async (preset) => {
    const config = othello(preset);
    const backend = new CpuBackend({ threads: 1 });
    const params = initModelParameters(config, new Rng(1));
    const model = createModel(backend, config, params);
    const optimizer = new AdamW(backend, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    const [B, L] = [32, 59];
    const step = { inputs: new Int32Array(B * L).fill(3), targets: new Int32Array(B * L).fill(4), batch: B, length: L };
    for (let i = 0; i < 2; i++) await trainStep(backend, model, optimizer, step, 1e-3, 1);
    // Every activation of a step is back on the free list once the step is over.
    let held = 0;
    for (const [size, list] of (backend as unknown as { free: Map<number, Float32Array[]> }).free) held += 4 * size * list.length;
    let parameters = 0;
    for (const p of params.values()) parameters += p.length;
    held += 16 * parameters;
    const estimate = stepMemory(config, B, L, 'cpu').bytes;
    expect(Math.abs(estimate - held) / held, `estimate ${estimate} held ${held}`).toBeLessThan(0.05);
  });

  it('names the largest tensor: in_proj\'s output (2E a token) for these presets, the logits for a large vocabulary', () => {
    const tiny = stepMemory(othello('tiny'), 32, 59, 'cpu');
    expect(tiny.largest.what).toMatch(/^in_proj's output/);
    expect(tiny.largest.elements).toBe(32 * 59 * 256);
    const wide = stepMemory(configFromPreset('tiny', 5000, 59), 32, 59, 'webgpu');
    expect(wide.largest.what).toMatch(/^the logits/);
    expect(wide.largest.bytes).toBe(4 * 32 * 59 * 5000);
  });

  it('a forward pass (eval) holds far less than a training step', () => {
    const config = othello('othello-base');
    expect(stepMemory(config, 64, 59, 'cpu', false).bytes).toBeLessThan(stepMemory(config, 64, 59, 'cpu').bytes / 4);
  });
});

describe('checkStepFits', () => {
  it('lets the normal runs through: tiny batch 32, quickstart 16, othello-base 256 on the cpu and on any WebGPU device', () => {
    const cpu = new CpuBackend({ threads: 1 });
    checkBatchFits(cpu, othello('tiny'), 32, 59, '--batch 32');
    checkBatchFits(cpu, othello('quickstart'), 16, 59, '--batch 16');
    checkStepFits(stepMemory(othello('othello-base'), 256, 59, 'cpu'), cpu.sizeLimits(), '--batch 256');
    checkStepFits(stepMemory(othello('othello-base'), 256, 59, 'webgpu'), WEBGPU_DEFAULTS, '--batch 256');
    checkStepFits(stepMemory(othello('othello-base'), 512, 59, 'cpu', false), cpu.sizeLimits(), '--batch 512');
  });

  it('refuses more than host memory, naming the flag, the size and the limit', () => {
    const cpu = new CpuBackend({ threads: 1 });
    const message = refusal(() => checkBatchFits(cpu, othello('tiny'), 100_000_000, 59, '--batch 100000000'));
    expect(message).toMatch(/^--batch 100000000: a training step needs about \d+\.\d TiB \(batch 100000000 x 59 tokens\), more than this machine's \d+\.\d GiB of memory$/);
  });

  it('refuses a tensor longer than a typed array can be, even where the memory would do', () => {
    const limits: SizeLimits = { memory: { bytes: 2 ** 60, what: 'plenty' }, tensor: { elements: 2 ** 32, bytes: Infinity, what: 'the 4294967296 elements a typed array can hold' } };
    // in_proj's output: 300000 x 59 x 256 = 4.5e9 elements
    const message = refusal(() => checkStepFits(stepMemory(othello('tiny'), 300_000, 59, 'cpu'), limits, '--batch 300000'));
    expect(message).toBe(
      "--batch 300000: the largest tensor of a training step, in_proj's output (batch x length x 2E), would hold 4531200000 elements (16.9 GiB; batch 300000 x 59 tokens), more than the 4294967296 elements a typed array can hold",
    );
    checkStepFits(stepMemory(othello('tiny'), 280_000, 59, 'cpu'), limits, '--batch 280000');
  });

  it('on webgpu, refuses a buffer over the binding limit and more sequences than the scan dispatches', () => {
    const buffer = refusal(() => checkStepFits(stepMemory(othello('othello-base'), 1024, 59, 'webgpu'), WEBGPU_DEFAULTS, '--batch 1024'));
    expect(buffer).toMatch(/^--batch 1024: the largest tensor of a training step, in_proj's output .* \(236\.0 MiB; batch 1024 x 59 tokens\), more than the device's maxStorageBufferBindingSize of 128\.0 MiB$/);
    const roomy = { ...WEBGPU_DEFAULTS, tensor: { ...WEBGPU_DEFAULTS.tensor, bytes: 2 ** 40 } };
    const batch = refusal(() => checkStepFits(stepMemory(othello('tiny'), 70_000, 59, 'webgpu'), roomy, '--batch 70000'));
    expect(batch).toBe('--batch 70000: a training step of 70000 sequences is more than the 65535 sequences the webgpu selective scan runs in one dispatch');
  });
});

describe('the size check in the CLI', () => {
  function gamba(args: string[]) {
    const result = spawnSync(process.execPath, [join(REPO, 'bin', 'gamba.js'), ...args], { encoding: 'utf8', cwd: root });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }
  const tooBig = /^gamba: --batch 100000000: a training step needs about [\d.]+ TiB \(batch 100000000 x 59 tokens\), more than this machine's [\d.]+ GiB of memory\n$/;

  it('gamba train refuses a batch that cannot fit, in one line, before it writes anything', () => {
    const out = join(root, 'huge');
    const run = gamba(['train', '--game', 'othello', '--data', SAMPLES, '--preset', 'tiny', '--backend', 'cpu', '--steps', '1', '--batch', '100000000', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(tooBig);
    expect(existsSync(out)).toBe(false);
  });

  it('gamba bench train refuses it too, naming --seq when it was given', () => {
    const run = gamba(['bench', 'train', '--preset', 'tiny', '--backend', 'cpu', '--batch', '100000000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(tooBig);
    const long = gamba(['bench', 'train', '--preset', 'tiny', '--backend', 'cpu', '--batch', '8', '--seq', '1000000000']);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/^gamba: --batch 8 --seq 1000000000: a training step needs about [\d.]+ TiB \(batch 8 x 1000000000 tokens\)/);
  });
});
