/** `gamba bench train`: tokens/s and ms per training step of a preset on a backend (random tokens). */
import type { Argv, CommandModule } from 'yargs';
import type { AttentionPath } from '../backend/webgpu/kernels/attention.js';
import type { ScanBackwardKernel } from '../backend/webgpu/kernels/selective-scan.js';
import { MAX_STATE_SIZE } from '../model/config.js';
import { presetSummary } from '../model/models.js';
import { benchTrain, benchVocabSize } from '../train/bench.js';
import type { PrecisionChoice } from '../backend/index.js';
import type { BackendKind } from '../train/run-spec.js';
import { integerFlag } from '../util/flags.js';
import { printResult, ProgressBar } from '../util/output.js';

interface BenchTrainArgs {
  preset: string;
  dState?: number;
  backend: BackendKind;
  precision: PrecisionChoice;
  batch: number;
  seq?: number;
  steps: number;
  profile: boolean;
  attention?: AttentionPath;
  scanBackward?: ScanBackwardKernel;
  json: boolean;
}

export const benchTrainCommand: CommandModule<object, BenchTrainArgs> = {
  command: 'train',
  describe: 'Training speed of a model preset: tokens/s and ms per step (forward, backward, AdamW)',
  builder: (yargs) =>
    yargs
      .option('preset', { type: 'string', default: 'tiny', describe: `model preset: ${presetSummary()}` })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], default: 'auto', describe: 'compute backend' })
      .option('precision', { type: 'string', choices: ['auto', 'f32', 'mixed'], default: 'auto', describe: 'matmuls in float32 or mixed (f16 operands on the tensor cores); auto: mixed where the adapter has f16 subgroup matrices' })
      .option('d-state', { type: 'number', describe: 'Mamba: the SSM state size instead of the preset\'s (as gamba train --d-state)' })
      .option('batch', { type: 'number', default: 32, describe: 'sequences per step' })
      .option('seq', { type: 'number', describe: 'tokens per sequence (default 59 for Othello presets, 1023 for chess)' })
      .option('steps', { type: 'number', default: 10, describe: 'timed steps (after 2 untimed ones)' })
      .option('profile', { type: 'boolean', default: false, describe: 'also time each GPU kernel over one step (webgpu)' })
      .option('attention', { type: 'string', choices: ['short', 'flash'] as const, describe: 'force the transformer\'s attention kernels (webgpu; default: short up to 64 tokens where they fit, else flash)' })
      .option('scan-backward', { type: 'string', choices: ['step', 'subgroup', 'time-parallel'] as const, describe: 'force the Mamba selective scan\'s backward kernel (webgpu; step: one thread per state walking back in time, its sums through workgroup memory; subgroup: the same with its sums through subgroup shuffles, the default where d_state fits the subgroups; time-parallel: a subgroup per channel, lanes over the steps)' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"tokensPerSec","stepMs","recordMs","gpuBytes"} as JSON' }) as unknown as Argv<BenchTrainArgs>,
  handler: async (args) => {
    const chess = args.preset.startsWith('chess');
    const batch = integerFlag('batch', args.batch, 1);
    const seq = integerFlag('seq', args.seq ?? (chess ? 1023 : 59), 1);
    const steps = integerFlag('steps', args.steps, 1);
    const bar = new ProgressBar('bench train', steps);
    const sizeFlag = args.seq === undefined ? `--batch ${batch}` : `--batch ${batch} --seq ${seq}`;
    const dState = args.dState === undefined ? undefined : integerFlag('d-state', args.dState, 1, MAX_STATE_SIZE);
    const result = await benchTrain({ preset: args.preset, dState, vocabSize: benchVocabSize(args.preset), backend: args.backend, precision: args.precision, batch, seq, steps, profile: args.profile, attention: args.attention, scanBackward: args.scanBackward, sizeFlag }, (done) => bar.update(done));
    bar.finish();
    printResult(args.json, result, () => {
      const lines = [`train ${result.preset} (${result.architecture}, ${result.parameters} parameters) on ${result.adapter ?? result.backend}, ${result.precision}, batch ${batch} x ${seq} tokens: ${result.stepMs} ms/step = ${result.tokensPerSec} tokens/s`];
      if (result.recordMs !== null) lines.push(`host time recording a step: ${result.recordMs} ms`);
      if (result.gpuBytes !== null) lines.push(`GPU memory held by the pool: ${(result.gpuBytes / 2 ** 20).toFixed(1)} MiB`);
      if (result.profile) {
        const kernelMs = result.profile.reduce((sum, k) => sum + k.ms, 0);
        const dispatches = result.profile.reduce((sum, k) => sum + k.dispatches, 0);
        // what the GPU spends between kernels, or waiting for the host, is the rest of the step
        lines.push(`profiled step: ${kernelMs.toFixed(2)} ms of kernels over ${dispatches} dispatches (a timed step took ${result.stepMs} ms)`);
      }
      for (const k of result.profile ?? []) lines.push(`  ${k.kernel.padEnd(32)} ${k.ms.toFixed(3).padStart(9)} ms  ${(100 * k.share).toFixed(1).padStart(5)}%  x${k.dispatches}`);
      return lines.join('\n');
    });
  },
};
