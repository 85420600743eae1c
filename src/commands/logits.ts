/**
 * `gamba logits`: a checkpoint's next-token logits on dataset games, written as JSON, so another
 * implementation (transformers, through tools/hf-check.py) can be compared with this one number for number.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { MANIFEST_FILE } from '../../datasets/format.js';
import { openDataset } from '../../datasets/reader.js';
import { createBackend } from '../backend/index.js';
import { createModel } from '../model/models.js';
import { checkModelFitsDataset, loadCheckpoint } from '../train/load-checkpoint.js';
import type { BackendKind } from '../train/run-spec.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { note, printResult } from '../util/output.js';
import { writeFileAtomic } from '../util/write-file-atomic.js';

interface LogitsArgs {
  checkpoint: string;
  data: string;
  games: number;
  split: 'val' | 'train';
  backend: BackendKind;
  out: string;
  force: boolean;
  json: boolean;
}

/** The file's layout: what tools/hf-check.py reads. */
export interface LogitsFile {
  format: 'gamba-logits';
  checkpoint: string;
  data: string;
  split: 'val' | 'train';
  backend: string;
  vocabSize: number;
  /** Tokens per game fed to the model: the record length minus one, as in training. */
  length: number;
  /** tokens[g][t]: the inputs; logits[g][t][v]: the float32 logits after tokens[g][0..t]. */
  tokens: number[][];
  logits: number[][][];
}

export const logitsCommand: CommandModule<object, LogitsArgs> = {
  command: 'logits',
  describe: 'Write a checkpoint\'s logits on dataset games as JSON (to compare with another implementation)',
  builder: (yargs) =>
    yargs
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (gamba\'s, or a Hugging Face Mamba or GPT-2)' })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset directory' })
      .option('games', { type: 'number', default: 16, describe: 'games (the first N of the split)' })
      .option('split', { type: 'string', choices: ['val', 'train'], default: 'val', describe: 'which split' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], default: 'cpu', describe: 'compute backend' })
      .option('out', { type: 'string', demandOption: true, describe: 'JSON file to write' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"out","games","positions"} as JSON' })
      .example('$0 logits --checkpoint models/othello-base --data datasets/samples/othello --out runs/ob-logits.json', '') as unknown as Argv<LogitsArgs>,
  handler: async (args) => {
    const games = integerFlag('games', args.games, 1, 100_000);
    if (existsSync(args.out) && !args.force) throw new UserError(`${args.out}: already exists (use --force to overwrite it)`);
    const checkpoint = loadCheckpoint(args.checkpoint, note);
    const dataset = openDataset(args.data);
    const manifest = dataset.manifest;
    checkModelFitsDataset(checkpoint, args.data, manifest);
    const count = Math.min(games, dataset.count(args.split));
    if (count === 0) throw new UserError(`${join(args.data, MANIFEST_FILE)}: the ${args.split} split has no games`);
    const records = dataset.readGames(args.split, 0, count);
    dataset.close();

    // inputs: (count, L), the first L = recordLength - 1 tokens of each record, as in training.
    const R = manifest.recordLength;
    const L = R - 1;
    const V = manifest.vocabSize;
    const inputs = new Int32Array(count * L);
    for (let g = 0; g < count; g++) for (let t = 0; t < L; t++) inputs[g * L + t] = records[g * R + t];
    const backend = await createBackend(args.backend);
    const model = createModel(backend, checkpoint.config, checkpoint.params);
    // logits: (count, L, V)
    const logits = await model.logits(inputs, count, L);

    const file: LogitsFile = {
      format: 'gamba-logits',
      checkpoint: args.checkpoint,
      data: args.data,
      split: args.split,
      backend: backend.name,
      vocabSize: V,
      length: L,
      tokens: [],
      logits: [],
    };
    for (let g = 0; g < count; g++) {
      file.tokens.push(Array.from(inputs.subarray(g * L, (g + 1) * L)));
      const rows: number[][] = [];
      for (let t = 0; t < L; t++) rows.push(Array.from(logits.subarray((g * L + t) * V, (g * L + t + 1) * V)));
      file.logits.push(rows);
    }
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileAtomic(args.out, JSON.stringify(file) + '\n');
    printResult(args.json, { out: args.out, games: count, positions: count * L, backend: backend.name }, () =>
      `wrote the logits of ${count} games x ${L} positions (${backend.name}) to ${args.out}`);
  },
};
