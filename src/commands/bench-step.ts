/**
 * `gamba bench step`: the speed of a model's token-by-token step(), the path that play, eval and the
 * probes' captures feed a model through (random weights and tokens: the time depends on the model and
 * backend alone). One step feeds one token to each of `batch` sequences.
 */
import type { Argv, CommandModule } from 'yargs';
import { createBackend, type BackendName } from '../backend/index.js';
import type { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import { configFromPreset } from '../model/config.js';
import { createModel, initModelParameters, parameterCount, presetSummary } from '../model/models.js';
import { integerFlag } from '../util/flags.js';
import { printResult } from '../util/output.js';
import { Rng } from '../util/rng.js';
import { benchVocabSize } from '../train/bench.js';

interface BenchStepArgs {
  preset: string;
  backend: BackendName;
  batch: number;
  tokens: number;
  json: boolean;
}

export const benchStepCommand: CommandModule<object, BenchStepArgs> = {
  command: 'step',
  describe: 'Token-by-token inference speed of a model preset (play, eval and probe captures step this way)',
  builder: (yargs) =>
    yargs
      .option('preset', { type: 'string', default: 'tiny', describe: `model preset: ${presetSummary()}` })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'] as const, default: 'auto' as const, describe: 'compute backend' })
      .option('batch', { type: 'number', default: 16, describe: 'sequences stepped side by side' })
      .option('tokens', { type: 'number', default: 64, describe: 'timed steps, after 2 untimed ones' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"tokensPerSec","stepMs",...} as JSON' })
      .example('$0 bench step --preset chess-mamba-12m --batch 126 --backend cpu', "gamba eval's batch on the chess model's shape") as unknown as Argv<BenchStepArgs>,
  handler: async (args) => {
    const batch = integerFlag('batch', args.batch, 1);
    const tokens = integerFlag('tokens', args.tokens, 1);
    const vocabSize = benchVocabSize(args.preset);
    const warmup = 2;
    const backend = await createBackend(args.backend);
    // a transformer's context holds every token stepped
    const config = configFromPreset(args.preset, vocabSize, warmup + tokens);
    const rng = new Rng(1);
    const model = createModel(backend, config, initModelParameters(config, rng));
    const state = model.newStepState(batch);
    const next = () => Int32Array.from({ length: batch }, () => 1 + rng.nextInt(vocabSize - 1));
    for (let i = 0; i < warmup; i++) await model.step(state, next());
    const started = performance.now();
    for (let i = 0; i < tokens; i++) await model.step(state, next());
    const stepMs = (performance.now() - started) / tokens;
    model.disposeStepState(state);
    const result = {
      tokensPerSec: Math.round((batch * 1000) / stepMs), stepMs: Number(stepMs.toFixed(3)), backend: backend.name, adapter: backend.name === 'webgpu' ? (backend as WebGpuBackend).adapterName : null,
      preset: args.preset, architecture: config.architecture, parameters: parameterCount(config), batch, tokens,
    };
    printResult(args.json, result, () =>
      `step ${args.preset} (${config.architecture}, ${result.parameters} parameters) on ${result.adapter ?? backend.name}, batch ${batch}: ${result.stepMs} ms a step = ${result.tokensPerSec} tokens/s`);
  },
};
