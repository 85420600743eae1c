/** `gamba dataset import-pgn FILES... --out DIR`: standard chess games from PGN into a chess dataset. */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARD_GAMES } from '../../datasets/generate.js';
import { importPgnDataset } from '../../datasets/import-pgn.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
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

export const importPgnCommand: CommandModule<object, ImportArgs> = {
  command: 'import-pgn <files..>',
  describe: 'Import PGN files (streamed; .gz read; /dev/stdin for a pipe) as a chess dataset of 1024-character game strings',
  builder: (yargs) =>
    yargs
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'PGN files' })
      .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the train/val assignment' })
      .option('val-fraction', { type: 'number', default: 0.05, describe: 'share of games held out for validation' })
      .option('shard-games', { type: 'number', default: DEFAULT_SHARD_GAMES, describe: 'most games per shard file' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing output directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"imported","skipped","reasons"} as JSON' })
      .example('$0 dataset import-pgn lichess_2013-01.pgn --out data/lichess', '')
      .example('zstdcat lichess_db_standard_rated_2024-01.pgn.zst | $0 dataset import-pgn /dev/stdin --out data/lichess-2024-01', '') as unknown as Argv<ImportArgs>,
  handler: async (args) => {
    const seed = integerFlag('seed', args.seed, 0);
    const shardGames = integerFlag('shard-games', args['shard-games'], 1, 0xffffffff);
    const valFraction = args['val-fraction'];
    if (typeof valFraction !== 'number' || !(valFraction >= 0 && valFraction <= 1)) {
      throw new UserError(`--val-fraction: expected a number from 0 to 1, got ${String(valFraction)}`);
    }
    const files = args.files.map(String);
    if (files.length === 0) throw new UserError('name at least one PGN file (or /dev/stdin)');
    let read = 0;
    const start = performance.now();
    const { summary } = await importPgnDataset(args.out, {
      files,
      seed,
      valFraction,
      shardGames,
      force: args.force,
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
