/**
 * `gamba dataset export|info|merge|symmetries|import-pgn|import-jsonl`: look inside a dataset directory,
 * join several, add the symmetric images of Othello games, or make one from PGN or JSON lines. `export` streams games as JSON lines
 * in the game's own notation (or as text, one game per line); `info` prints counts, sizes and whether
 * every shard passes its checks; `merge` writes the games of several datasets into one
 * (datasets/merge.ts); `symmetries` writes an Othello dataset four times as large
 * (datasets/symmetries.ts); `import-pgn` and `import-jsonl` are in dataset-import.ts.
 */
import { once } from 'node:events';
import type { Argv, CommandModule } from 'yargs';
import { SPLITS, type DatasetManifest, type Split } from '../../datasets/format.js';
import { DATASET_GAMES } from '../../datasets/games.js';
import { mergeDatasets } from '../../datasets/merge.js';
import { addSymmetricImages } from '../../datasets/symmetries.js';
import { checkShard, openDataset, readManifest } from '../../datasets/reader.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { printResult } from '../util/output.js';
import { importJsonlCommand, importPgnCommand, labelPositionsCommand } from './dataset-import.js';

/** Export formats: JSON lines of move names, or text (a chess game string, or Othello moves, per line). */
const EXPORT_FORMATS = ['jsonl', 'text'] as const;

interface ExportArgs {
  dir: string;
  format: (typeof EXPORT_FORMATS)[number];
  limit?: number;
  split: Split;
}

interface InfoArgs {
  dir: string;
  json: boolean;
}

interface MergeArgs {
  dirs: string[];
  out: string;
  force: boolean;
  json: boolean;
}

interface SymmetriesArgs {
  dir: string;
  out: string;
  force: boolean;
  json: boolean;
}

/** Buffered stdout writer that waits for 'drain', and ends quietly when the reader goes away (`| head`). */
class StdoutLines {
  private buffer = '';

  constructor() {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }

  async line(text: string): Promise<void> {
    this.buffer += text + '\n';
    if (this.buffer.length >= 1 << 16) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
}

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export <dir>',
  describe: 'Write the games of a dataset to stdout, one per line: {"moves":["f5","d6",...]} (jsonl) or the game as text (chess: ;1.e4 e5 2.Nf3 ...)',
  builder: (yargs) =>
    yargs
      .positional('dir', { type: 'string', demandOption: true, describe: 'dataset directory' })
      .option('format', { choices: EXPORT_FORMATS, default: 'jsonl' as const, describe: 'output format' })
      .option('limit', { type: 'number', describe: 'export at most this many games' })
      .option('split', { choices: SPLITS, default: 'train' as Split, describe: 'which split to export' }) as unknown as Argv<ExportArgs>,
  handler: async (args) => {
    const limit = args.limit === undefined ? Infinity : integerFlag('limit', args.limit, 0);
    const dataset = openDataset(args.dir);
    const game = DATASET_GAMES[dataset.manifest.game];
    if (!game) throw new UserError(`${args.dir}: cannot export games of type ${JSON.stringify(dataset.manifest.game)}`);
    const out = new StdoutLines();
    let written = 0;
    for (const record of dataset.iterateGames(args.split)) {
      if (written >= limit) break;
      await out.line(args.format === 'text' ? game.gameText(record) : JSON.stringify({ moves: game.moveNames(record) }));
      written++;
    }
    await out.flush();
    dataset.close();
  },
};

const infoCommand: CommandModule<object, InfoArgs> = {
  command: 'info <dir>',
  describe: 'Show what a dataset holds and check every shard (size, header, checksum, token range)',
  builder: (yargs) =>
    yargs
      .positional('dir', { type: 'string', demandOption: true, describe: 'dataset directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }) as unknown as Argv<InfoArgs>,
  handler: (args) => {
    const manifest = readManifest(args.dir);
    const shards = manifest.shards.map((entry) => {
      let status = 'ok';
      try {
        checkShard(args.dir, manifest, entry);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        status = error.message;
      }
      return { ...entry, status };
    });
    const bytes = (split?: Split): number => shards.filter((s) => !split || s.split === split).reduce((sum, s) => sum + s.bytes, 0);
    const problems = shards.filter((s) => s.status !== 'ok');
    const result = {
      dir: args.dir,
      game: manifest.game,
      source: manifest.source,
      seed: manifest.seed,
      valFraction: manifest.valFraction,
      vocabSize: manifest.vocabSize,
      recordLength: manifest.recordLength,
      counts: manifest.counts,
      bytes: bytes(),
      ok: problems.length === 0,
      shards,
    };
    printResult(args.json, result, () => {
      const lines = [
        `${args.dir}: ${manifest.game} dataset (${manifest.source}, seed ${manifest.seed}), ` +
          `${manifest.recordLength}-token records, vocabulary ${manifest.vocabSize}`,
      ];
      for (const split of SPLITS) {
        const n = shards.filter((s) => s.split === split).length;
        lines.push(`  ${split.padEnd(5)} ${String(manifest.counts[split]).padStart(10)} games  ${n} shard(s)  ${bytes(split)} bytes`);
      }
      for (const s of shards) {
        lines.push(`  ${s.file}  ${s.games} games  ${s.bytes} bytes  sha256 ${s.sha256.slice(0, 16)}  ${s.status === 'ok' ? 'ok' : 'BAD: ' + s.status}`);
      }
      lines.push(problems.length === 0 ? 'all shards ok' : `${problems.length} bad shard(s)`);
      return lines.join('\n');
    });
    if (problems.length > 0) throw new UserError(problems[0].status);
  },
};

/** The options of a command that writes a new dataset: where, whether to replace it, how to report it. */
function newDatasetOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
    .option('force', { type: 'boolean', default: false, describe: 'replace an existing output directory' })
    .option('json', { type: 'boolean', default: false, describe: 'print the new manifest\'s summary as JSON' });
}

/** Reports a dataset just written: one line, or its manifest's summary as JSON. */
function printNewDataset(args: { out: string; json: boolean }, manifest: DatasetManifest, line: string): void {
  const result = { out: args.out, game: manifest.game, source: manifest.source, counts: manifest.counts, shards: manifest.shards.length };
  printResult(args.json, result, () => `wrote ${args.out}: ${line}`);
}

const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <dirs..>',
  describe: 'Write the games of several datasets (same game and record format) into one, in the order given; train stays train, held-out stays held out',
  builder: (yargs) =>
    newDatasetOptions(yargs.positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'dataset directories' }))
      .example('$0 dataset merge data/rhino-a data/rhino-b --out data/rhino', '') as unknown as Argv<MergeArgs>,
  handler: async (args) => {
    const manifest = await mergeDatasets(args.dirs, args.out, args.force);
    printNewDataset(args, manifest, `${manifest.counts.train} train and ${manifest.counts.val} held-out ${manifest.game} games from ${args.dirs.length} datasets`);
  },
};

const symmetriesCommand: CommandModule<object, SymmetriesArgs> = {
  command: 'symmetries <dir>',
  describe: 'Write an Othello dataset with each train game followed by its images under the 3 other board symmetries that keep the opening position (4 games for 1); held-out games stay as they are',
  builder: (yargs) =>
    newDatasetOptions(yargs.positional('dir', { type: 'string', demandOption: true, describe: 'Othello dataset directory' }))
      .example('$0 dataset symmetries data/rhino --out data/rhino-x4', '') as unknown as Argv<SymmetriesArgs>,
  handler: async (args) => {
    const manifest = await addSymmetricImages(args.dir, args.out, args.force);
    printNewDataset(args, manifest, `${manifest.counts.train} train games (each with its symmetric images) and ${manifest.counts.val} held-out games`);
  },
};

export const datasetCommand: CommandModule = {
  command: 'dataset',
  describe: 'Inspect, export, merge, augment and import datasets (export, info, merge, symmetries, import-pgn, import-jsonl)',
  builder: (yargs) =>
    yargs.command(exportCommand).command(infoCommand).command(mergeCommand).command(symmetriesCommand).command(importPgnCommand).command(importJsonlCommand).command(labelPositionsCommand).demandCommand(1, 'name a dataset command: export, info, merge, symmetries, import-pgn, import-jsonl or label-positions'),
  handler: () => {},
};
