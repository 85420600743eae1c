/** `gamba compare REPORT... --out DIR`: probe reports of several models side by side (probes/compare.ts). */
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { COMPARE_HTML, COMPARE_JSON, compareReports, DEFAULT_AFTER_MOVE, writeCompareDir } from '../../probes/compare.js';
import { printResult } from '../util/output.js';

interface CompareArgs {
  reports: string[];
  out: string;
  name?: string[];
  'after-move': number;
  force: boolean;
  json: boolean;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <reports..>',
  describe: 'Put the probe reports of several models side by side in one page (compare.html, compare.json)',
  builder: (yargs) =>
    yargs
      .positional('reports', { type: 'string', array: true, demandOption: true, describe: 'probe report directories (from `gamba probe`) or their report.json, one game and target' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory for compare.html and compare.json' })
      .option('name', { type: 'string', array: true, describe: 'a name per report, in order (default: the checkpoint directory\'s name)' })
      .option('after-move', { type: 'number', default: DEFAULT_AFTER_MOVE, describe: 'also pool each best layer\'s accuracy over the held-out positions after this move (the late game)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a comparison already in --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print the paths and each model\'s headline numbers as JSON' })
      .example('$0 compare runs/mamba/probe-mine-theirs runs/gpt/probe-mine-theirs --out runs/compare', 'a Mamba beside a transformer') as unknown as Argv<CompareArgs>,
  handler: (args) => {
    const compare = compareReports(args.reports, args.name?.map(String), args['after-move']);
    writeCompareDir(args.out, compare, args.force);
    const summary = compare.models.map((m) => ({
      name: m.name, architecture: m.architecture, parameters: m.parameters, tokens: m.training?.tokens ?? null, minutes: m.training?.minutes ?? null,
      legalTop1: m.legalTop1, best: m.best.map(({ source, layer, cellAcc, boardAcc, late }) => ({ source, layer, cellAcc, boardAcc, late })),
    }));
    const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
    printResult(args.json, { json: join(args.out, COMPARE_JSON), html: join(args.out, COMPARE_HTML), models: summary }, () => [
      ...summary.map((m) => `${m.name} (${m.architecture}, ${(m.parameters / 1e6).toFixed(2)}M): legal ${m.legalTop1 === null ? '-' : pct(m.legalTop1)}; ` +
        m.best.map((b) => `best ${b.source} layer ${b.layer} ${pct(b.cellAcc)} / ${pct(b.boardAcc)}` +
          (b.late ? ` (after move ${compare.afterMove}: ${pct(b.late.cellAcc)} / ${pct(b.late.boardAcc)})` : '')).join(', ')),
      `compare: ${join(args.out, COMPARE_HTML)} (numbers in ${join(args.out, COMPARE_JSON)})`,
    ].join('\n'));
  },
};
