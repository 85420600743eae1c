/** `gamba bench <what>`: speed measurements, one subcommand per thing measured. */
import type { CommandModule } from 'yargs';
import { benchGenerateCommand } from './bench-generate.js';
import { benchProbeCommand } from './bench-probe.js';
import { benchStepCommand } from './bench-step.js';
import { benchTrainCommand } from './bench-train.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const benchmarks: CommandModule<any, any>[] = [benchGenerateCommand, benchTrainCommand, benchStepCommand, benchProbeCommand];

export const benchCommand: CommandModule = {
  command: 'bench <what>',
  describe: 'Measure speed (generate, train, step, probe)',
  builder: (yargs) => {
    for (const benchmark of benchmarks) yargs.command(benchmark);
    return yargs.demandCommand(1, 'name what to benchmark');
  },
  handler: () => {},
};
