/**
 * `gamba bench probe`: the speed of one probe fit (fit-probe.ts) on synthetic features, so the fit can
 * be timed without a model or a capture: rows of noise with each square's class written into a few
 * features (a planted linear code), every 10th row held back for validation as `gamba probe` does.
 * Prints the seconds of each stage (statistics, ridge start with its penalty search, descent).
 */
import type { Argv, CommandModule } from 'yargs';
import { fitLinearProbe } from '../../probes/fit-probe.js';
import { MemoryRows } from '../../probes/row-source.js';
import { SQUARES } from '../../probes/targets.js';
import { createBackend, type BackendName } from '../backend/index.js';
import { integerFlag } from '../util/flags.js';
import { printResult } from '../util/output.js';
import { Rng } from '../util/rng.js';

interface BenchProbeArgs {
  rows: number;
  dim: number;
  classes: number;
  epochs: number;
  seed: number;
  backend: BackendName;
  json: boolean;
}

export const benchProbeCommand: CommandModule<object, BenchProbeArgs> = {
  command: 'probe',
  describe: 'One probe fit on synthetic features, stage by stage',
  builder: (yargs) =>
    yargs
      .option('rows', { type: 'number', default: 8000, describe: 'feature rows (a tenth held back for validation)' })
      .option('dim', { type: 'number', default: 8192, describe: 'features per row (othello-base: residual 256, state 8192)' })
      .option('classes', { type: 'number', default: 3, describe: 'classes per square' })
      .option('epochs', { type: 'number', default: 1, describe: 'most descent epochs after the ridge start' })
      .option('seed', { type: 'number', default: 1, describe: 'seed of the features, labels and fit' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'] as const, default: 'auto' as const, describe: 'compute backend' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .example('$0 bench probe --rows 8000 --dim 8192 --backend cpu', "a state probe's fit at othello-base's size") as unknown as Argv<BenchProbeArgs>,
  handler: async (args) => {
    const rows = integerFlag('rows', args.rows, 20, 2 ** 31);
    const dim = integerFlag('dim', args.dim, 1, 2 ** 20);
    const classes = integerFlag('classes', args.classes, 2, 255);
    const epochs = integerFlag('epochs', args.epochs, 0, 1000);
    const seed = integerFlag('seed', args.seed, 0);
    const be = await createBackend(args.backend);
    const rng = new Rng(seed, 11);
    const labels = new Uint8Array(rows * SQUARES);
    const x = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < dim; k++) x[r * dim + k] = rng.normal();
      for (let s = 0; s < SQUARES; s++) {
        const c = rng.nextInt(classes);
        labels[r * SQUARES + s] = c;
        x[r * dim + ((s * classes + c) % dim)] += 1;
      }
    }
    const validation = Uint8Array.from({ length: rows }, (_, r) => (r % 10 === 9 ? 1 : 0));
    const start = performance.now();
    const fit = await fitLinearProbe(be, new MemoryRows(x, rows, dim), labels, classes, { epochs, seed, validation });
    const seconds = (performance.now() - start) / 1000;
    const round = (v: number) => Number(v.toFixed(3));
    const result = {
      backend: be.name, rows: fit.rows, dim, classes, ridge: fit.ridge, epochsKept: fit.epochs, valCellAcc: fit.valCellAcc,
      seconds: { total: round(seconds), statistics: round(fit.seconds.stats), ridge: round(fit.seconds.ridge), descent: round(fit.seconds.descent) },
    };
    printResult(args.json, result, () =>
      `probe fit on ${be.name}: ${fit.rows.fit} rows x ${dim} features (${fit.rows.validation} validating), ${classes} classes: ${seconds.toFixed(2)} s ` +
      `(statistics ${fit.seconds.stats.toFixed(2)}, ridge ${fit.seconds.ridge.toFixed(2)} with penalty ${fit.ridge}, descent ${fit.seconds.descent.toFixed(2)} keeping ${fit.epochs} epochs); ` +
      `validation cell accuracy ${(100 * fit.valCellAcc!).toFixed(2)}%`,
    );
  },
};
