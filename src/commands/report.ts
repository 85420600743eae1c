/** `gamba report DIR`: redraws DIR/report.html from the report.json of `gamba probe`. */
import type { Argv, CommandModule } from 'yargs';
import { rerenderReport } from '../../probes/report-files.js';
import { printResult } from '../util/output.js';

interface ReportArgs {
  dir: string;
  json: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'Redraw report.html of a probe report directory from its report.json',
  builder: (yargs) =>
    yargs
      .positional('dir', { type: 'string', demandOption: true, describe: 'report directory (from `gamba probe`) or its report.json' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"html": path} as JSON' })
      .example('$0 report runs/quickstart/probe-mine-theirs', '') as unknown as Argv<ReportArgs>,
  handler: (args) => {
    const html = rerenderReport(args.dir);
    printResult(args.json, { html }, () => `report: ${html}`);
  },
};
