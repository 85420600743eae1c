/**
 * `gamba bench generate`: end-to-end speed of `gamba generate othello` (generation, ordering, shard
 * writing and hashing) into a temporary directory that is deleted afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { DATASET_GAMES } from '../../datasets/games.js';
import { DEFAULT_SHARD_GAMES, generateDataset } from '../../datasets/generate.js';
import { integerFlag } from '../util/flags.js';
import { ProgressBar, printResult } from '../util/output.js';

interface BenchGenerateArgs {
  games: number;
  workers?: number;
  seed: number;
  json: boolean;
}

export const benchGenerateCommand: CommandModule<object, BenchGenerateArgs> = {
  command: 'generate',
  describe: 'Synthetic Othello games per second, shard writing included',
  builder: (yargs) =>
    yargs
      .option('games', { type: 'number', default: 1_000_000, describe: 'games to generate' })
      .option('workers', { type: 'number', describe: 'worker threads (default: all cores)' })
      .option('seed', { type: 'number', default: 1, describe: 'random seed' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"gamesPerSec", "workers", "games"} as JSON' }) as unknown as Argv<BenchGenerateArgs>,
  handler: async (args) => {
    const games = integerFlag('games', args.games, 1, 2 ** 40);
    const workers = integerFlag('workers', args.workers ?? availableParallelism(), 1, 1024);
    const seed = integerFlag('seed', args.seed, 0);
    const scratch = mkdtempSync(join(tmpdir(), 'gamba-bench-generate-'));
    const progress = new ProgressBar('bench generate', games);
    try {
      const start = performance.now();
      const result = await generateDataset(join(scratch, 'dataset'), {
        game: DATASET_GAMES.othello,
        games,
        seed,
        valFraction: 0.05,
        workers,
        shardGames: DEFAULT_SHARD_GAMES,
        force: false,
        onProgress: (done) => progress.update(done),
      });
      const seconds = (performance.now() - start) / 1000;
      progress.finish();
      const gamesPerSec = Math.round(games / seconds);
      printResult(args.json, { gamesPerSec, workers: result.workers, games, seconds: Number(seconds.toFixed(3)) }, () =>
        `generate othello: ${games} games in ${seconds.toFixed(2)} s = ${gamesPerSec} games/s on ${result.workers} worker(s)`,
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};
