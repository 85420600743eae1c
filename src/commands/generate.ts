/**
 * `gamba generate <game>`: a synthetic dataset as shards + manifest: games of uniformly random legal
 * moves (`--source random`), or for chess engine self-play at mixed strength (`--source stockfish`).
 */
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { DATASET_GAMES, GENERATABLE_GAMES } from '../../datasets/games.js';
import { DEFAULT_SHARD_GAMES, generateDataset } from '../../datasets/generate.js';
import { generateChessSelfPlay } from '../../datasets/generate-chess-selfplay.js';
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
  source: 'random' | 'stockfish';
  engine?: string;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate <game>',
  describe: 'Generate a dataset: random legal games, or chess engine self-play (--source stockfish)',
  builder: (yargs) =>
    yargs
      .positional('game', { choices: GENERATABLE_GAMES, describe: 'game to generate', demandOption: true })
      .option('games', { type: 'number', demandOption: true, describe: 'number of games' })
      .option('seed', { type: 'number', demandOption: true, describe: 'random seed (same seed and --games, same bytes)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
      .option('source', { choices: ['random', 'stockfish'] as const, default: 'random' as const, describe: 'random: every move uniform over the legal moves; stockfish (chess): engine self-play at mixed strength' })
      .option('engine', { type: 'string', describe: 'UCI engine for --source stockfish (default: the npm stockfish package)' })
      .option('workers', { type: 'number', describe: 'worker threads, or engine processes for --source stockfish (default: all cores)' })
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
    if (args.source === 'stockfish' && args.game !== 'chess') throw new UserError(`--source stockfish: only for chess (${args.game} has --source random)`);
    if (args.engine !== undefined && args.source !== 'stockfish') throw new UserError('--engine: only with --source stockfish');
    const progress = new ProgressBar(`generate ${args.game}`, games);
    const start = performance.now();
    if (args.source === 'stockfish') {
      const result = await generateChessSelfPlay(args.out, {
        games,
        seed,
        valFraction,
        shardGames,
        force: args.force,
        engines: workers,
        enginePath: args.engine,
        onProgress: (done) => progress.update(done),
      });
      progress.finish();
      const seconds = (performance.now() - start) / 1000;
      const { manifest } = result;
      const summary = {
        out: args.out,
        game: manifest.game,
        source: manifest.source,
        seed,
        games,
        train: manifest.counts.train,
        val: manifest.counts.val,
        shards: manifest.shards.length,
        bytes: manifest.shards.reduce((sum, s) => sum + s.bytes, 0),
        engines: result.engines,
        meanPlies: Number((result.plies / games).toFixed(1)),
        seconds: Number(seconds.toFixed(3)),
      };
      printResult(args.json, summary, () =>
        `wrote ${args.out}: ${games} chess games of ${result.engine} self-play (train ${summary.train}, val ${summary.val}), ` +
        `${summary.meanPlies} plies per game on average, ${summary.seconds}s with ${result.engines} engine process(es)`,
      );
      return;
    }
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
