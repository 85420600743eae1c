/**
 * The size check on the webgpu backend (src/model/memory.ts): the estimate against the buffer pool after
 * real training steps, the device's buffer limits, and `gamba bench train --backend webgpu` refusing a
 * batch whose buffers cannot exist.
 */
import { describe, expect, it } from 'vitest';
import { configFromPreset } from '../../../src/model/config.js';
import { checkBatchFits, stepMemory } from '../../../src/model/memory.js';
import { createModel, initModelParameters } from '../../../src/model/models.js';
import { AdamW } from '../../../src/train/optimizer.js';
import { trainStep } from '../../../src/train/step.js';
import { UserError } from '../../../src/util/errors.js';
import { Rng } from '../../../src/util/rng.js';
import { gamba, requireBuiltCli } from '../../cli-runner.js';
import { gpu, noGpuReason } from './gpu-fixture.js';

describe.skipIf(!gpu)(`webgpu step size${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  it('the pool after two training steps holds what stepMemory estimates, to within 5%', async () => {
    const backend = gpu!;
    const config = configFromPreset('tiny', 61, 59);
    const [B, L] = [32, 59];
    const before = backend.gpuBytes;
    const model = createModel(backend, config, initModelParameters(config, new Rng(1)));
    const optimizer = new AdamW(backend, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    const step = { inputs: new Int32Array(B * L).fill(3), targets: new Int32Array(B * L).fill(4), batch: B, length: L };
    for (let i = 0; i < 2; i++) await trainStep(backend, model, optimizer, step, 1e-3, 1);
    const held = backend.gpuBytes - before;
    const estimate = stepMemory(config, B, L, 'webgpu').bytes;
    expect(Math.abs(estimate - held) / held).toBeLessThan(0.05);
  });

  it('lets othello-base batch 256 through and refuses a buffer past the device limit, naming it', () => {
    const backend = gpu!;
    const limits = backend.sizeLimits();
    expect(limits.tensor.bytes).toBeGreaterThanOrEqual(128 * 2 ** 20);
    checkBatchFits(backend, configFromPreset('othello-base', 61, 59), 256, 59, '--batch 256');
    // The first batch whose in_proj output (59 x 1024 floats a sequence) is past the largest buffer.
    const batch = Math.floor(limits.tensor.bytes / (4 * 59 * 1024)) + 1;
    const config = configFromPreset('othello-base', 61, 59);
    expect(stepMemory(config, batch, 59, 'webgpu').largest.bytes).toBeGreaterThan(limits.tensor.bytes);
    let message = '';
    try {
      checkBatchFits(backend, config, batch, 59, `--batch ${batch}`);
    } catch (error) {
      expect(error).toBeInstanceOf(UserError);
      message = (error as Error).message;
    }
    expect(message).toMatch(new RegExp(`^--batch ${batch}: the largest tensor of a training step, in_proj's output .* more than the device's max(StorageBufferBinding|Buffer)Size of [\\d.]+ [KMGT]iB$`));
  });

  it('gamba bench train --backend webgpu refuses a batch that cannot fit, in one line', () => {
    requireBuiltCli();
    const run = gamba('bench', 'train', '--preset', 'tiny', '--backend', 'webgpu', '--batch', '1000000');
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/\ngamba: --batch 1000000: the largest tensor of a training step, in_proj's output .*\(56\.3 GiB; batch 1000000 x 59 tokens\), more than the device's max(StorageBufferBinding|Buffer)Size of [\d.]+ [KMGT]iB\n$/);
  });
});
