/**
 * `gamba dataset import-pgn FILES... --out DIR`: standard chess games from PGN into a chess dataset;
 * `gamba dataset import-jsonl FILES... --out DIR`: Othello games, a JSON line each, into an Othello
 * dataset (with `--model-wins`, only the games of `gamba play` that the model won);
 * `gamba dataset label-positions FILES... --out DIR`: the positions of such games where the model was
 * to move, each with gtp-rhino's answer, as a dataset of labelled positions.
 */
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARD_GAMES } from '../../datasets/generate.js';
import { importJsonlDataset } from '../../datasets/import-jsonl.js';
import { importPgnDataset } from '../../datasets/import-pgn.js';
import { RHINO_LEVELS } from '../../datasets/generate-othello-selfplay.js';
import { labelPositions, type LabelledSide } from '../../datasets/label-positions.js';
import { signalExitCode } from '../../datasets/writer.js';
import { FIRST_TARGET_PLY, LAST_PLY } from '../train/run-spec.js';
import { UserError } from '../util/errors.js';
import { intRange, integerFlag } from '../util/flags.js';
import { ProgressBar, printResult } from '../util/output.js';

interface ImportArgs {
  files: string[];
  out: string;
  seed: number;
  'val-fraction': number;
  'shard-games': number;
  force: boolean;
  json: boolean;
}

interface ImportJsonlArgs extends ImportArgs {
  'model-wins': boolean;
}

interface LabelPositionsArgs extends ImportArgs {
  level: number;
  side: LabelledSide;
  plies?: string;
  engine?: string;
  workers?: number;
}

/** The options both imports take: the input files, where the dataset goes, and its split. */
function importOptions<T>(yargs: Argv<T>, kind: string) {
  return yargs
    .positional('files', { type: 'string', array: true, demandOption: true, describe: `${kind} files` })
    .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the train/val assignment' })
    .option('val-fraction', { type: 'number', default: 0.05, describe: 'share of games held out for validation' })
    .option('shard-games', { type: 'number', default: DEFAULT_SHARD_GAMES, describe: 'most games per shard file' })
    .option('force', { type: 'boolean', default: false, describe: 'replace an existing output directory' });
}

/** The checked settings of an import, refused in one line before anything is read. */
function importSettings(args: ImportArgs, kind: string) {
  const seed = integerFlag('seed', args.seed, 0);
  const shardGames = integerFlag('shard-games', args['shard-games'], 1, 0xffffffff);
  const valFraction = args['val-fraction'];
  if (typeof valFraction !== 'number' || !(valFraction >= 0 && valFraction <= 1)) {
    throw new UserError(`--val-fraction: expected a number from 0 to 1, got ${String(valFraction)}`);
  }
  const files = args.files.map(String);
  if (files.length === 0) throw new UserError(`name at least one ${kind} file (or /dev/stdin)`);
  return { files, seed, shardGames, valFraction, force: args.force };
}

export const importPgnCommand: CommandModule<object, ImportArgs> = {
  command: 'import-pgn <files..>',
  describe: 'Import PGN files (streamed; .gz read; /dev/stdin for a pipe) as a chess dataset of 1024-character game strings',
  builder: (yargs) =>
    importOptions(yargs, 'PGN')
      .option('json', { type: 'boolean', default: false, describe: 'print {"imported","skipped","reasons"} as JSON' })
      .example('$0 dataset import-pgn lichess_2013-01.pgn --out data/lichess', '')
      .example('zstdcat lichess_db_standard_rated_2024-01.pgn.zst | $0 dataset import-pgn /dev/stdin --out data/lichess-2024-01', '') as unknown as Argv<ImportArgs>,
  handler: async (args) => {
    const settings = importSettings(args, 'PGN');
    let read = 0;
    const start = performance.now();
    const { summary } = await importPgnDataset(args.out, {
      ...settings,
      onProgress: (n) => {
        read = n;
        if (process.stderr.isTTY) process.stderr.write(`\rimport-pgn: ${n} games read`);
      },
    });
    if (process.stderr.isTTY && read > 0) process.stderr.write('\n');
    const seconds = Number(((performance.now() - start) / 1000).toFixed(3));
    printResult(args.json, { ...summary, out: args.out, seconds }, () => {
      const lines = [
        `wrote ${args.out}: ${summary.imported} games imported (train ${summary.train}, val ${summary.val}; ` +
          `${summary.truncated} cut to fit 1024 characters), ${summary.skipped} skipped, ${seconds}s`,
      ];
      for (const [reason, n] of Object.entries(summary.reasons)) {
        if (n > 0) lines.push(`  skipped ${reason}: ${n} (first: ${summary.examples[reason as keyof typeof summary.examples]})`);
      }
      return lines.join('\n');
    });
  },
};

export const importJsonlCommand: CommandModule<object, ImportJsonlArgs> = {
  command: 'import-jsonl <files..>',
  describe: 'Import Othello games, one {"moves":["f5","d6",...]} a line (dataset export, gamba play\'s games.jsonl; .gz read), as an Othello dataset; every move is checked legal',
  builder: (yargs) =>
    importOptions(yargs, 'JSONL')
      .option('model-wins', { type: 'boolean', default: false, describe: 'keep only the finished games the model won (gamba play\'s games.jsonl): its wins, to learn from with train --winner-moves' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"read","imported","skipped","train","val"} as JSON' })
      .example('$0 dataset import-jsonl runs/agent/vs-greedy/games.jsonl --model-wins --out data/agent-wins', '') as unknown as Argv<ImportJsonlArgs>,
  handler: async (args) => {
    const { summary } = await importJsonlDataset(args.out, { ...importSettings(args, 'JSONL'), modelWins: args['model-wins'] });
    printResult(args.json, { ...summary, out: args.out }, () =>
      `wrote ${args.out}: ${summary.imported} of ${summary.read} games imported (train ${summary.train}, val ${summary.val})` +
      (args['model-wins'] ? `; ${summary.skipped} the model did not win left out` : ''));
  },
};

export const labelPositionsCommand: CommandModule<object, LabelPositionsArgs> = {
  command: 'label-positions <files..>',
  describe: 'The positions of Othello games (gamba play\'s games.jsonl) where the model was to move, each answered by gtp-rhino, as a dataset of labelled positions for train --labelled-positions (DAgger)',
  builder: (yargs) =>
    importOptions(yargs, 'JSONL')
      .option('level', { type: 'number', default: 3, describe: `the gtp-rhino level that answers every position, ${RHINO_LEVELS.join('-')} (a position takes about 60 ms at level 3 on one core)` })
      .option('side', { choices: ['model', 'both'] as const, default: 'model' as const, describe: 'model: the positions where the side gamba play\'s modelColor names was to move; both: every position' })
      .option('plies', { type: 'string', describe: 'only the positions after LO to HI moves, e.g. 30-50 (passes not counted; 60 moves fill the board)' })
      .option('engine', { type: 'string', describe: 'the GTP engine (default /usr/games/gtp-rhino)' })
      .option('workers', { type: 'number', describe: 'engine processes (default: all cores)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' })
      .example('$0 dataset label-positions runs/agent/vs-rhino/games.jsonl --level 3 --out data/agent-labels', '') as unknown as Argv<LabelPositionsArgs>,
  handler: async (args) => {
    const settings = importSettings(args, 'JSONL');
    const level = integerFlag('level', args.level, RHINO_LEVELS[0], RHINO_LEVELS[1]);
    const plies = args.plies === undefined ? undefined : intRange('plies', args.plies, [FIRST_TARGET_PLY, LAST_PLY], 'number of moves');
    const engines = integerFlag('workers', args.workers ?? availableParallelism(), 1, 1024);
    let progress: ProgressBar | null = null;
    const start = performance.now();
    const result = await labelPositions(args.out, {
      ...settings,
      side: args.side,
      ...(plies ? { plies } : {}),
      level,
      engines,
      enginePath: args.engine,
      onProgress: (done, total) => (progress ??= new ProgressBar('label-positions', total)).update(done),
    });
    (progress as ProgressBar | null)?.finish();
    const { manifest } = result;
    const summary = {
      out: args.out,
      source: manifest.source,
      gamesRead: result.gamesRead,
      answered: result.games,
      positions: manifest.counts.train + manifest.counts.val,
      ...(result.interrupted ? { interrupted: result.interrupted } : {}),
      train: manifest.counts.train,
      val: manifest.counts.val,
      engines: result.engines,
      seconds: Number(((performance.now() - start) / 1000).toFixed(3)),
    };
    printResult(args.json, summary, () =>
      `wrote ${args.out}: ${summary.positions} positions of ${result.gamesRead} games labelled by ${result.engine} level ${level} (train ${summary.train}, val ${summary.val}; ` +
      `${result.games - summary.positions} answers that end the game left out)` +
      (result.interrupted ? `, ${result.interrupted} ended the run` : '') + `, ${summary.seconds}s with ${result.engines} engine process(es)`);
    if (result.interrupted) process.exitCode = signalExitCode(result.interrupted);
  },
};
