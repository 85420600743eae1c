/** `gamba export`: a checkpoint as a Hugging Face model directory (src/train/hf-export.ts). */
import type { Argv, CommandModule } from 'yargs';
import { EXPORT_DTYPES, exportHuggingFace, type ExportDtype } from '../train/hf-export.js';
import { note, printResult } from '../util/output.js';

interface ExportArgs {
  checkpoint: string;
  out: string;
  dtype: ExportDtype;
  force: boolean;
  json: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: 'Write a checkpoint as a Hugging Face model directory (weights, config, model card), ready to upload',
  builder: (yargs) =>
    yargs
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory' })
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write' })
      .option('dtype', { type: 'string', choices: EXPORT_DTYPES, default: 'fp32', describe: 'weight precision' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a non-empty --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"out","dtype","parameters","files"} as JSON' })
      .example('$0 export --checkpoint models/othello-base --out exports/othello-base --dtype bf16', '') as unknown as Argv<ExportArgs>,
  handler: (args) => {
    const result = exportHuggingFace({ checkpoint: args.checkpoint, out: args.out, dtype: args.dtype, force: args.force, note });
    printResult(args.json, result, () =>
      [`exported ${result.parameters.toLocaleString('en-US')} parameters (${result.dtype}) to ${result.out}:`, ...result.files.map((f) => `  ${f.name} (${f.bytes.toLocaleString('en-US')} bytes)`)].join('\n'));
  },
};
