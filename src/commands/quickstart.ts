/**
 * `gamba quickstart` (`npm run quickstart`): the whole loop in one command. Trains the `tiny` preset
 * on the sample Othello games shipped in datasets/samples/othello for a few minutes on the best
 * backend available, evaluates the legal-move rate on the held-out games, and says where everything is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { evaluateCheckpoint } from '../eval/evaluate.js';
import { trainingDefaults } from '../train/defaults.js';
import type { BackendKind } from '../train/run-spec.js';
import { resumeCommand } from '../train/run-spec.js';
import { startTraining } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { note, printResult, ProgressBar } from '../util/output.js';
import { installStopSignals, trainingHooks } from './train.js';

interface QuickstartArgs {
  minutes: number;
  out: string;
  backend: BackendKind;
  seed: number;
  force: boolean;
  json: boolean;
}

const PRESET = 'tiny';
/** The training stops at this multiple of --minutes even if the estimated horizon is not reached. */
const DEADLINE_FACTOR = 1.2;

export const quickstartCommand: CommandModule<object, QuickstartArgs> = {
  command: 'quickstart',
  describe: 'Train the tiny preset on the sample Othello games for a few minutes, then measure its legal-move rate',
  builder: (yargs) =>
    yargs
      .option('minutes', { type: 'number', default: 8, describe: 'training time' })
      .option('out', { type: 'string', default: join('runs', 'quickstart'), describe: 'checkpoint directory' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], default: 'auto', describe: 'compute backend' })
      .option('seed', { type: 'number', default: 1, describe: 'random seed' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an earlier quickstart checkpoint in --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object at the end' }) as unknown as Argv<QuickstartArgs>,
  handler: async (args) => {
    if (!Number.isFinite(args.minutes) || args.minutes <= 0) throw new UserError(`--minutes: expected a number > 0, got ${String(args.minutes)}`);
    const seed = integerFlag('seed', args.seed, 0);
    const data = join(packageRoot(), 'datasets', 'samples', 'othello');
    const defaults = trainingDefaults(PRESET);
    note(`quickstart: training the ${PRESET} preset on ${data} for ${args.minutes} minutes (Ctrl-C saves and stops)`);
    const stop = installStopSignals();
    // The horizon is estimated from the first steps' speed; on a machine that slows down later (shared
    // cores) the run stops at this deadline instead, saved and resumable, and is evaluated as it is.
    const deadline = Date.now() + args.minutes * 60_000 * DEADLINE_FACTOR;
    let training;
    try {
      training = await startTraining(
        {
          outDir: args.out,
          game: 'othello',
          data,
          preset: PRESET,
          backend: args.backend,
          batch: defaults.batch,
          lr: defaults.lr,
          weightDecay: defaults.weightDecay,
          clip: defaults.clip,
          seed,
          valEvery: defaults.valEvery,
          valGames: defaults.valGames,
          saveEvery: defaults.saveEvery,
          minutes: args.minutes,
          force: args.force,
        },
        { ...trainingHooks(stop), shouldStop: () => stop.requested() || Date.now() > deadline },
      );
    } catch (error) {
      if (error instanceof UserError && /already holds a checkpoint/.test(error.message)) {
        throw new UserError(`${args.out} already holds a quickstart checkpoint: add --force to train a new one (npm run quickstart -- --force)`);
      }
      throw error;
    } finally {
      stop.uninstall();
    }
    if (training.stopped && stop.requested()) {
      note(`stopped at step ${training.steps} of ${training.horizon}; resume with: ${resumeCommand(training.outDir)}`);
      return;
    }
    if (training.stopped) {
      note(`time limit: stopped at step ${training.steps} of ${training.horizon} (the machine ran slower than its first steps); to finish the run: ${resumeCommand(training.outDir)}`);
    }
    let bar: ProgressBar | null = null;
    const evaluation = await evaluateCheckpoint({
      checkpoint: training.outDir,
      data,
      split: 'val',
      games: Number.MAX_SAFE_INTEGER,
      backend: args.backend,
      onProgress: (done, total) => {
        bar ??= new ProgressBar('eval', total);
        bar.update(done);
        if (done === total) bar.finish();
      },
    });
    const result = {
      checkpoint: training.outDir,
      metrics: join(training.outDir, 'metrics.jsonl'),
      steps: training.steps,
      finalLoss: training.finalLoss,
      valLoss: training.valLoss,
      tokensPerSec: training.tokensPerSec,
      backend: training.backend,
      legalTop1: evaluation.report.legalTop1,
      positions: evaluation.report.positions,
      games: evaluation.report.games,
    };
    printResult(args.json, result, () =>
      [
        `trained ${PRESET} for ${training.steps} steps on ${training.backend}: loss ${training.finalLoss?.toFixed(4)}, val loss ${training.valLoss?.toFixed(4)}, ${training.tokensPerSec} tokens/s`,
        `legal-move rate (top-1, held-out games): ${(100 * evaluation.report.legalTop1).toFixed(2)}% over ${evaluation.report.positions} positions of ${evaluation.report.games} games`,
        `checkpoint: ${training.outDir}`,
        `metrics:    ${result.metrics}`,
        `next: npx gamba probe --checkpoint ${training.outDir} --data ${data}   (board probes per layer, report.html)`,
        `      npx gamba play --game othello --checkpoint ${training.outDir} --opponent rhino --games 10`,
      ].join('\n'),
    );
  },
};

/** The directory of gamba's package.json (the sample data ships beside it). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'gamba') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the gamba package directory');
    dir = parent;
  }
}
