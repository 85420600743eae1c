/**
 * The whole model on webgpu against the cpu reference, for each architecture (the Mamba's `tiny`, the
 * transformer's `quickstart-gpt`): a 30-step training run on the sample Othello games (same seed, same
 * batches, same schedule) with losses within 1e-3 relative at every step, and the same with an auxiliary
 * board loss; logits of the sequence path and the step path; and `gamba train --backend webgpu`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchStream } from '../../../datasets/batches.js';
import { openDataset } from '../../../datasets/reader.js';
import type { Backend } from '../../../src/backend/backend.js';
import { backwardOverrideProblem, scanDeviceFacts } from '../../../src/backend/webgpu/kernels/selective-scan.js';
import { configFromPreset } from '../../../src/model/config.js';
import { createModel, initModelParameters } from '../../../src/model/models.js';
import { AuxBoardLoss, initAuxHead } from '../../../src/train/aux-board-loss.js';
import { AdamW } from '../../../src/train/optimizer.js';
import { learningRateAt } from '../../../src/train/schedule.js';
import { trainStep } from '../../../src/train/step.js';
import { Rng } from '../../../src/util/rng.js';
import { gamba, requireBuiltCli } from '../../cli-runner.js';
import { WebGpuBackend } from '../../../src/backend/webgpu/webgpu-backend.js';
import { timeParallelFits } from '../../../src/backend/webgpu/kernels/selective-scan-time-parallel.js';
import { cpu, gpu, noGpuReason } from './gpu-fixture.js';

const DATA = 'datasets/samples/othello';

/** The loss of every step (and with `auxLayer`, the auxiliary board loss of every step after them). */
async function lossCurve(backend: Backend, preset: string, steps: number, { auxLayer, dState }: { auxLayer?: number; dState?: number } = {}): Promise<number[]> {
  const config = configFromPreset(preset, 61, 59, dState === undefined ? {} : { d_state: dState });
  const model = createModel(backend, config, initModelParameters(config, new Rng(7)));
  const hyper = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const optimizer = new AdamW(backend, model.packed, hyper);
  let aux;
  if (auxLayer !== undefined) {
    const loss = new AuxBoardLoss(backend, config.d_model, auxLayer, 0.5, initAuxHead(config.d_model, 3));
    aux = { loss, optimizer: new AdamW(backend, loss.packed, hyper) };
  }
  const dataset = openDataset(DATA);
  const stream = new BatchStream(dataset, 'train', 8, 7);
  const schedule = { lr: 1e-2, minLr: 1e-3, warmup: 5, horizon: steps };
  const losses: number[] = [];
  const auxLosses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const result = await trainStep(backend, model, optimizer, stream.next(), learningRateAt(s, schedule), 1, 1, aux);
    losses.push(result.loss);
    if (result.auxLoss !== undefined) auxLosses.push(result.auxLoss);
  }
  dataset.close();
  return [...losses, ...auxLosses];
}

describe('bench train --scan-backward', () => {
  it('is refused on the cpu backend in one line', () => {
    requireBuiltCli();
    const run = gamba('bench', 'train', '--preset', 'tiny', '--backend', 'cpu', '--scan-backward', 'time-parallel');
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('gamba: --scan-backward needs --backend webgpu (it picks webgpu kernels)');
  });
});

describe.skipIf(!gpu)(`webgpu against cpu, whole model${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'gamba-gpu-train-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(['tiny', 'quickstart-gpt'])('trains the %s preset for 30 steps on the same loss curve (1e-3 relative)', async (preset) => {
    const [onCpu, onGpu] = [await lossCurve(cpu, preset, 30), await lossCurve(gpu!, preset, 30)];
    // The run must actually learn, or agreeing curves would prove little.
    expect(onCpu[29]).toBeLessThan(onCpu[0] - 0.15);
    onCpu.forEach((l, s) => expect(Math.abs(onGpu[s] - l) / l, `step ${s + 1}: cpu ${l}, webgpu ${onGpu[s]}`).toBeLessThan(1e-3));
  });

  it.skipIf(!timeParallelFits(gpu?.rt.gpu.subgroupSize ?? null))('trains tiny for 30 steps on the same loss curve with the time-parallel backward scan (1e-3 relative)', async () => {
    const timeParallel = new WebGpuBackend(gpu!.rt.gpu, 'f32');
    timeParallel.scanBackwardKernel = 'time-parallel';
    const [onCpu, onGpu] = [await lossCurve(cpu, 'tiny', 30), await lossCurve(timeParallel, 'tiny', 30)];
    onCpu.forEach((l, s) => expect(Math.abs(onGpu[s] - l) / l, `step ${s + 1}: cpu ${l}, webgpu ${onGpu[s]}`).toBeLessThan(1e-3));
    expect(timeParallel.rt.pipelineKeys().some((k) => k.startsWith('scanBackwardTimeParallel:'))).toBe(true);
  });

  const subgroupSize = gpu?.rt.gpu.subgroupSize ?? null;
  it.skipIf(!subgroupSize || subgroupSize < 4)('trains tiny at d_state = half the subgroup for 30 steps on the same loss curve with the subgroup backward scan (1e-3 relative)', async () => {
    const subgroup = new WebGpuBackend(gpu!.rt.gpu, 'f32');
    subgroup.scanBackwardKernel = 'subgroup';
    const dState = subgroupSize! / 2;
    const [onCpu, onGpu] = [await lossCurve(cpu, 'tiny', 30, { dState }), await lossCurve(subgroup, 'tiny', 30, { dState })];
    onCpu.forEach((l, s) => expect(Math.abs(onGpu[s] - l) / l, `step ${s + 1}: cpu ${l}, webgpu ${onGpu[s]}`).toBeLessThan(1e-3));
    expect(subgroup.rt.pipelineKeys().some((k) => k.startsWith(`scanBackwardSubgroup:${dState}:`))).toBe(true);
  });

  it.each(['subgroup', 'time-parallel'] as const)('bench train refuses --scan-backward %s in one line at a d_state this device cannot run it at', (kernel) => {
    requireBuiltCli();
    const facts = scanDeviceFacts(gpu!.rt);
    const dState = [3, 5, 48, 96, 128, 256].find((n) => backwardOverrideProblem(facts, n, { kernel }) !== null);
    expect(dState, 'one of these state sizes misfits every device').toBeDefined();
    const run = gamba('bench', 'train', '--preset', 'tiny', '--d-state', String(dState), '--backend', 'webgpu', '--scan-backward', kernel, '--steps', '1', '--batch', '2');
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(`gamba: --scan-backward ${kernel}: ${backwardOverrideProblem(facts, dState!, { kernel })}`);
  });

  it.each(['tiny', 'quickstart-gpt'])('trains %s with an auxiliary board loss at layer 1 for 20 steps on the same loss curves (1e-3 relative)', async (preset) => {
    const [onCpu, onGpu] = [await lossCurve(cpu, preset, 20, { auxLayer: 1 }), await lossCurve(gpu!, preset, 20, { auxLayer: 1 })];
    expect(onCpu).toHaveLength(40);
    // the board head learns (ln 3 = 1.0986 at the start)
    expect(onCpu[39]).toBeLessThan(onCpu[20] - 0.05);
    onCpu.forEach((l, s) => expect(Math.abs(onGpu[s] - l) / l, `value ${s}: cpu ${l}, webgpu ${onGpu[s]}`).toBeLessThan(1e-3));
  });

  it.each(['tiny', 'quickstart-gpt'])('%s: gives the sequence-path logits and the same logits one token at a time', async (preset) => {
    const config = configFromPreset(preset, 61, 59);
    const params = initModelParameters(config, new Rng(3));
    const onCpu = createModel(cpu, config, params);
    const onGpu = createModel(gpu!, config, params);
    const rng = new Rng(4);
    const [B, L] = [3, 11];
    const ids = Int32Array.from({ length: B * L }, () => 1 + rng.nextInt(60));
    const want = await onCpu.logits(ids, B, L);
    const got = await onGpu.logits(ids, B, L);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 + 1e-4 * Math.abs(want[i]));
    const state = onGpu.newStepState(B);
    const V = config.vocab_size;
    for (let t = 0; t < L; t++) {
      const step = await onGpu.step(state, Int32Array.from({ length: B }, (_, b) => ids[b * L + t]));
      for (let b = 0; b < B; b++) {
        for (let v = 0; v < V; v++) expect(Math.abs(step[b * V + v] - want[(b * L + t) * V + v])).toBeLessThan(1e-4 + 1e-4 * Math.abs(want[(b * L + t) * V + v]));
      }
    }
  });

  it.each(['tiny', 'quickstart-gpt'])('gamba train --backend webgpu trains %s, checkpoints and reports its backend', async (preset) => {
    requireBuiltCli();
    const out = join(scratch, preset);
    const r = gamba('train', '--game', 'othello', '--data', DATA, '--preset', preset, '--backend', 'webgpu', '--steps', '20', '--batch', '8', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.backend).toBe('webgpu');
    expect(summary.steps).toBe(20);
    expect(summary.lossHistory).toHaveLength(20);
    expect(summary.finalLoss).toBeLessThan(summary.lossHistory[0]);
    expect(r.stderr).toMatch(/backend: webgpu on /);
  });
});
