/**
 * `gamba quickstart` (`npm run quickstart`): the whole loop in one command. Generates fresh synthetic
 * Othello games (seconds), trains the `quickstart` preset (tiny with a smaller SSM state), or with
 * `--arch transformer` the `quickstart-gpt` preset of as many parameters, on them for a few minutes on the
 * best backend available, evaluates the legal-move rate on the held-out games of the sample set shipped in
 * datasets/samples/othello, fits the board probes on the trained model, and says where everything is.
 *
 * Fresh games rather than epochs over the 19k sample games: the run sees each game once. They come
 * from their own seed, so none of the sample's held-out games is among them (the sample was made with
 * seed 1 and the generator's seed -> games mapping has no overlap between seeds).
 */
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARD_GAMES, generateDataset } from '../../datasets/generate.js';
import { DATASET_GAMES } from '../../datasets/games.js';
import { readManifest } from '../../datasets/reader.js';
import { runProbe } from '../../probes/probe-checkpoint.js';
import { evaluateCheckpoint } from '../eval/evaluate.js';
import { hasCheckpoint } from '../train/checkpoint.js';
import { trainingDefaults } from '../train/defaults.js';
import type { BackendKind } from '../train/run-spec.js';
import { resumeCommand } from '../train/run-spec.js';
import { startTraining } from '../train/trainer.js';
import { ARCHITECTURES, type Architecture } from '../model/config.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { note, printResult, ProgressBar } from '../util/output.js';
import { installStopSignals, trainingHooks } from './train.js';

interface QuickstartArgs {
  arch: Architecture;
  minutes: number;
  out: string;
  backend: BackendKind;
  seed: number;
  probe: boolean;
  force: boolean;
  json: boolean;
}

/** The quickstart's model of each architecture, about equal in parameters (133k and 135k). */
const PRESETS: Record<Architecture, string> = { mamba: 'quickstart', transformer: 'quickstart-gpt' };
/**
 * The training stops this long after --minutes (counted from the start) even if the estimated horizon
 * is not reached: the horizon comes from the first steps' speed, and a shared machine can slow down
 * later. 9.4 + 0.25 minutes leaves the data (~3 s) and the evaluation (~15 s) inside 10 minutes.
 */
const DEADLINE_SLACK_MINUTES = 0.25;
/** Fresh training games: more than the run can see (about 120k games in 9.4 minutes on two cores). */
const FRESH_GAMES = 200_000;
const FRESH_VAL_FRACTION = 0.005;
/** The fresh games' seed is this plus --seed: never the sample's seed (1). */
const FRESH_SEED_OFFSET = 1_000_000;
/** The Othello model shipped in the repository, trained on an H200 (models/othello-base/README.md). */
const REFERENCE_MODEL = 'models/othello-base';

/** The probe at the end: a quick look, not the full `gamba probe` defaults. */
const PROBE_GAMES = 400;
const PROBE_EVAL_GAMES = 200;

export const quickstartCommand: CommandModule<object, QuickstartArgs> = {
  command: 'quickstart',
  describe: 'Train a small model on fresh Othello games for a few minutes, measure its legal-move rate on the sample games, probe its board picture',
  builder: (yargs) =>
    yargs
      .option('arch', { type: 'string', choices: ARCHITECTURES, default: 'mamba' as Architecture, describe: `the model: a Mamba (preset ${PRESETS.mamba}) or a transformer (${PRESETS.transformer})` })
      .option('minutes', { type: 'number', default: 9.4, describe: 'training time' })
      .option('probe', { type: 'boolean', default: true, describe: 'fit the board probes on the trained model at the end (--no-probe skips it)' })
      .option('out', { type: 'string', default: join('runs', 'quickstart'), describe: 'checkpoint directory' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], default: 'auto', describe: 'compute backend' })
      .option('seed', { type: 'number', default: 1, describe: 'random seed' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an earlier quickstart checkpoint in --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object at the end' }) as unknown as Argv<QuickstartArgs>,
  handler: async (args) => {
    if (!Number.isFinite(args.minutes) || args.minutes <= 0) throw new UserError(`--minutes: expected a number > 0, got ${String(args.minutes)}`);
    const seed = integerFlag('seed', args.seed, 0);
    const began = performance.now();
    // Counted from the command's start, data generation included.
    const deadline = Date.now() + (args.minutes + DEADLINE_SLACK_MINUTES) * 60_000;
    const samples = join(packageRoot(), 'datasets', 'samples', 'othello');
    if (hasCheckpoint(args.out) && !args.force) throw alreadyTrained(args.out);
    const data = await freshGames(join(args.out, 'train-data'), FRESH_SEED_OFFSET + seed);
    const preset = PRESETS[args.arch];
    const defaults = trainingDefaults(preset);
    note(`quickstart: training the ${preset} preset on ${data} for ${args.minutes} minutes (Ctrl-C saves and stops)`);
    const stop = installStopSignals();
    let training;
    try {
      training = await startTraining(
        {
          outDir: args.out,
          game: 'othello',
          data,
          preset,
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
      if (error instanceof UserError && /already holds a checkpoint/.test(error.message)) throw alreadyTrained(args.out);
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
      data: samples,
      split: 'val',
      games: Number.MAX_SAFE_INTEGER,
      backend: args.backend,
      onProgress: (done, total) => {
        bar ??= new ProgressBar('eval', total);
        bar.update(done);
        if (done === total) bar.finish();
      },
    });
    const trainEvalSeconds = (performance.now() - began) / 1000;
    let probe = null;
    if (args.probe) {
      note(`probe: fitting mine-theirs board probes on every layer (${PROBE_GAMES} sample games, scored on ${PROBE_EVAL_GAMES} held-out ones)`);
      const bars = new Map<string, ProgressBar>();
      const result = await runProbe({
        checkpoint: training.outDir,
        data: samples,
        target: 'mine-theirs',
        games: PROBE_GAMES,
        evalGames: PROBE_EVAL_GAMES,
        // The report describes the model just trained: an older one in its place is stale.
        force: true,
        backend: args.backend,
        onProgress: (stage, done, total) => {
          let stageBar = bars.get(stage);
          if (!stageBar) bars.set(stage, (stageBar = new ProgressBar(stage, total)));
          stageBar.update(done);
          if (done === total) stageBar.finish();
        },
        onNote: note,
      });
      probe = { report: result.reportHtml, seconds: Number(result.seconds.toFixed(1)), best: result.best, bestMargin: result.bestMargin };
    }
    const result = {
      checkpoint: training.outDir,
      metrics: join(training.outDir, 'metrics.jsonl'),
      trainData: data,
      steps: training.steps,
      finalLoss: training.finalLoss,
      valLoss: training.valLoss,
      tokensPerSec: training.tokensPerSec,
      backend: training.backend,
      legalTop1: evaluation.report.legalTop1,
      positions: evaluation.report.positions,
      games: evaluation.report.games,
      trainEvalSeconds: Number(trainEvalSeconds.toFixed(1)),
      probe,
    };
    printResult(args.json, result, () =>
      [
        `trained ${preset} for ${training.steps} steps on ${training.backend}: loss ${training.finalLoss?.toFixed(4)}, val loss ${training.valLoss?.toFixed(4)}, ${training.tokensPerSec} tokens/s`,
        `legal-move rate (top-1, held-out games): ${(100 * evaluation.report.legalTop1).toFixed(2)}% over ${evaluation.report.positions} positions of ${evaluation.report.games} games`,
        `data, training and evaluation took ${formatMinutes(trainEvalSeconds)}`,
        ...(probe
          ? [
              `board probe (mine/theirs, best layer ${probe.best.source} ${probe.best.layer}): ${(100 * probe.best.cellAcc).toFixed(1)}% of cells` +
                (probe.best.randomInit ? ` (random-init model: ${(100 * probe.best.randomInit.cellAcc).toFixed(1)}%)` : '') +
                `, took ${formatMinutes(probe.seconds)}`,
              `probe report: ${probe.report}`,
            ]
          : [`next: npx gamba probe --checkpoint ${training.outDir} --data ${samples}   (board probes per layer, report.html)`]),
        `checkpoint: ${training.outDir}`,
        `metrics:    ${result.metrics}`,
        `next: npx gamba play --game othello --checkpoint ${training.outDir} --opponent rhino --games 10`,
        `the reference model trained on a GPU (${REFERENCE_MODEL}/README.md) works the same way on this CPU:`,
        `  npx gamba play --game othello --checkpoint ${REFERENCE_MODEL} --opponent rhino --games 10`,
        `  npx gamba probe --checkpoint ${REFERENCE_MODEL} --data ${samples}`,
      ].join('\n'),
    );
  },
};

function alreadyTrained(out: string): UserError {
  return new UserError(`${out} already holds a quickstart checkpoint: add --force to train a new one (npm run quickstart -- --force)`);
}

/** "7m 42s". */
function formatMinutes(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
}

/**
 * The quickstart's training games in `dir`: made once (a few seconds) and reused while they match the
 * seed and count, since the same seed always gives the same games.
 */
async function freshGames(dir: string, seed: number): Promise<string> {
  if (existsSync(join(dir, 'manifest.json'))) {
    try {
      const manifest = readManifest(dir);
      if (manifest.game === 'othello' && manifest.seed === seed && manifest.counts.train + manifest.counts.val === FRESH_GAMES) return dir;
    } catch {
      // Not a readable dataset: made again below.
    }
  }
  note(`quickstart: generating ${FRESH_GAMES} fresh random Othello games into ${dir}`);
  mkdirSync(dirname(dir), { recursive: true });
  const bar = new ProgressBar('generate', FRESH_GAMES);
  await generateDataset(dir, {
    game: DATASET_GAMES.othello,
    games: FRESH_GAMES,
    seed,
    valFraction: FRESH_VAL_FRACTION,
    workers: availableParallelism(),
    shardGames: DEFAULT_SHARD_GAMES,
    force: true,
    onProgress: (done) => bar.update(done),
  });
  bar.finish();
  return dir;
}

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
