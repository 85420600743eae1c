/** `gamba generate <game>`: a synthetic dataset (games of uniformly random legal moves) as shards + manifest. */
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { DATASET_GAMES, GENERATABLE_GAMES } from '../../datasets/games.js';
import { DEFAULT_SHARD_GAMES, generateDataset } from '../../datasets/generate.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { ProgressBar, printResult } from '../util/output.js';

interface GenerateArgs {
  game: string;
  games: number;
  seed: number;
  out: string;
  workers?: number;
  'val-fraction': number;
  'shard-games': number;
  force: boolean;
  json: boolean;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate <game>',
  describe: 'Generate a synthetic dataset (every move uniform over the legal moves)',
  builder: (yargs) =>
    yargs
      .positional('game', { choices: GENERATABLE_GAMES, describe: 'game to generate', demandOption: true })
      .option('games', { type: 'number', demandOption: true, describe: 'number of games' })
      .option('seed', { type: 'number', demandOption: true, describe: 'random seed (same seed and --games, same bytes)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
      .option('workers', { type: 'number', describe: 'worker threads (default: all cores)' })
      .option('val-fraction', { type: 'number', default: 0.05, describe: 'share of games held out for validation' })
      .option('shard-games', { type: 'number', default: DEFAULT_SHARD_GAMES, describe: 'most games per shard file' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing output directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print the manifest summary as JSON' }) as unknown as Argv<GenerateArgs>,
  handler: async (args) => {
    const games = integerFlag('games', args.games, 1, 2 ** 40);
    const seed = integerFlag('seed', args.seed, 0);
    const workers = integerFlag('workers', args.workers ?? availableParallelism(), 1, 1024);
    const shardGames = integerFlag('shard-games', args['shard-games'], 1, 0xffffffff);
    const valFraction = args['val-fraction'];
    if (typeof valFraction !== 'number' || !(valFraction >= 0 && valFraction <= 1)) {
      throw new UserError(`--val-fraction: expected a number from 0 to 1, got ${String(valFraction)}`);
    }
    const progress = new ProgressBar(`generate ${args.game}`, games);
    const start = performance.now();
    const { manifest, workers: used } = await generateDataset(args.out, {
      game: DATASET_GAMES[args.game],
      games,
      seed,
      valFraction,
      workers,
      shardGames,
      force: args.force,
      onProgress: (done) => progress.update(done),
    });
    progress.finish();
    const seconds = (performance.now() - start) / 1000;
    const bytes = manifest.shards.reduce((sum, s) => sum + s.bytes, 0);
    const summary = {
      out: args.out,
      game: manifest.game,
      seed,
      games,
      train: manifest.counts.train,
      val: manifest.counts.val,
      shards: manifest.shards.length,
      bytes,
      workers: used,
      seconds: Number(seconds.toFixed(3)),
    };
    printResult(args.json, summary, () =>
      `wrote ${args.out}: ${games} ${manifest.game} games (train ${summary.train}, val ${summary.val}) in ${summary.shards} shard(s), ` +
      `${bytes} bytes, ${summary.seconds}s on ${used} worker(s)`,
    );
  },
};
