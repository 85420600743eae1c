/** Every `gamba` subcommand, in the order `--help` lists them. */
import type { CommandModule } from 'yargs';
import { benchCommand } from './bench.js';
import { compareCommand } from './compare.js';
import { datasetCommand } from './dataset.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { generateCommand } from './generate.js';
import { interveneCommand } from './intervene.js';
import { logitsCommand } from './logits.js';
import { perftCommand } from './perft.js';
import { playCommand } from './play.js';
import { probeCommand } from './probe.js';
import { quickstartCommand } from './quickstart.js';
import { reportCommand } from './report.js';
import { trainCommand } from './train.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [generateCommand, datasetCommand, trainCommand, evalCommand, playCommand, probeCommand, interveneCommand, reportCommand, compareCommand, exportCommand, logitsCommand, quickstartCommand, benchCommand, perftCommand];
