/**
 * `gamba generate <game>`: a synthetic dataset as shards + manifest: games of uniformly random legal
 * moves (`--source random`), or engine self-play at mixed strength: Stockfish for chess
 * (`--source stockfish`), gtp-rhino for Othello (`--source rhino`).
 */
import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { DATASET_GAMES, GENERATABLE_GAMES } from '../../datasets/games.js';
import { DEFAULT_SHARD_GAMES, generateDataset } from '../../datasets/generate.js';
import { DEFAULT_NODE_EXPONENTS, SKILL_LEVELS, generateChessSelfPlay, nodeExponents, nodeRangeText } from '../../datasets/generate-chess-selfplay.js';
import { DEFAULT_OPENING_MOVES, DEFAULT_RHINO_LEVELS, OPENING_MOVES, RHINO_BOOK_VARIATIONS, RHINO_LEVELS, generateOthelloSelfPlay, type OthelloSelfPlayer } from '../../datasets/generate-othello-selfplay.js';
import { signalExitCode } from '../../datasets/writer.js';
import { UserError } from '../util/errors.js';
import { intRange, integerFlag, positiveNumber } from '../util/flags.js';
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
  source: 'random' | 'stockfish' | 'rhino';
  engine?: string;
  levels?: string;
  against?: string;
  book?: number;
  'opening-moves'?: string;
  nodes?: string;
  skills?: string;
  minutes?: number;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate <game>',
  describe: 'Generate a dataset: random legal games, or engine self-play (--source stockfish for chess, rhino for Othello)',
  builder: (yargs) =>
    yargs
      .positional('game', { choices: GENERATABLE_GAMES, describe: 'game to generate', demandOption: true })
      .option('games', { type: 'number', demandOption: true, describe: 'number of games' })
      .option('seed', { type: 'number', demandOption: true, describe: 'random seed (same seed and --games, same bytes)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output dataset directory' })
      .option('source', { choices: ['random', 'stockfish', 'rhino'] as const, default: 'random' as const, describe: 'random: every move uniform over the legal moves; stockfish (chess), rhino (Othello): engine self-play at mixed strength' })
      .option('engine', { type: 'string', describe: 'the engine for --source stockfish (a UCI engine; default the npm stockfish package) or rhino (a GTP engine; default /usr/games/gtp-rhino)' })
      .option('levels', { type: 'string', describe: `--source rhino: the gtp-rhino levels drawn per side and game, LO-HI within ${RHINO_LEVELS.join('-')} (default ${DEFAULT_RHINO_LEVELS.join('-')}: level 4 takes half a minute a game, 5 longer than the engine timeout)` })
      .option('against', { type: 'string', describe: `--source rhino: one side of every game is this opponent, on a colour drawn per game, the other side's level drawn from --levels: a gtp-rhino level (${RHINO_LEVELS.join('-')}) or greedy (the move that flips the most discs)` })
      .option('opening-moves', { type: 'string', describe: `--source rhino: random opening moves before the engines play, drawn per game, LO-HI or one number within ${OPENING_MOVES.join('-')} (default ${DEFAULT_OPENING_MOVES.join('-')}; 1 lets the engines play the rest of the opening)` })
      .option('book', { type: 'number', describe: `--source rhino: gtp-rhino's opening book variation, ${RHINO_BOOK_VARIATIONS.join('-')} (default 0: none, the same bytes run to run; gamba play meets gtp-rhino's default 2, drawn from the clock, so the games then differ run to run)` })
      .option('nodes', { type: 'string', describe: `--source stockfish: the node budget per move, drawn log-uniformly per side and game from LO-HI (default ${nodeRangeText(DEFAULT_NODE_EXPONENTS)}; fewer nodes, weaker and faster games)` })
      .option('skills', { type: 'string', describe: `--source stockfish: the Skill Levels drawn per side and game, LO-HI or one level within ${SKILL_LEVELS.join('-')} (default all; 20 alone gives the same bytes run to run)` })
      .option('minutes', { type: 'number', describe: '--source stockfish or rhino: start no game after this many minutes (the games started finish; the dataset is the first games of the full run)' })
      .option('workers', { type: 'number', describe: 'worker threads, or engine slots for --source stockfish or rhino (default: all cores)' })
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
    const engineGame = { stockfish: 'chess', rhino: 'othello' } as const;
    if (args.source !== 'random' && args.game !== engineGame[args.source]) throw new UserError(`--source ${args.source}: only for ${engineGame[args.source]} (${args.game} has --source random${args.game === 'chess' ? ' and stockfish' : ' and rhino'})`);
    if (args.engine !== undefined && args.source === 'random') throw new UserError('--engine: only with --source stockfish or rhino');
    for (const flag of ['levels', 'against', 'opening-moves', 'book'] as const) if (args[flag] !== undefined && args.source !== 'rhino') throw new UserError(`--${flag}: only with --source rhino`);
    const minutes = positiveNumber('minutes', args.minutes);
    if (minutes !== undefined && args.source === 'random') throw new UserError('--minutes: only with --source stockfish or rhino');
    for (const flag of ['nodes', 'skills'] as const) if (args[flag] !== undefined && args.source !== 'stockfish') throw new UserError(`--${flag}: only with --source stockfish`);
    const levels = args.levels === undefined ? undefined : intRange('levels', args.levels, RHINO_LEVELS);
    const against = args.against === undefined ? undefined : selfPlayer(args.against);
    const openingMoves = args['opening-moves'] === undefined ? undefined : intRange('opening-moves', args['opening-moves'], OPENING_MOVES, 'number');
    const book = args.book === undefined ? undefined : integerFlag('book', args.book, RHINO_BOOK_VARIATIONS[0], RHINO_BOOK_VARIATIONS[1]);
    const skills = args.skills === undefined ? undefined : intRange('skills', args.skills, SKILL_LEVELS);
    const nodes = args.nodes === undefined ? undefined : nodeRange(args.nodes);
    const progress = new ProgressBar(`generate ${args.game}`, games);
    const start = performance.now();
    if (args.source !== 'random') {
      const options = { games, seed, valFraction, shardGames, force: args.force, engines: workers, minutes, enginePath: args.engine, onProgress: (done: number) => progress.update(done) };
      const result = args.source === 'stockfish' ? await generateChessSelfPlay(args.out, { ...options, nodes, skills }) : await generateOthelloSelfPlay(args.out, { ...options, levels, against, openingMoves, book });
      progress.finish();
      const seconds = (performance.now() - start) / 1000;
      const { manifest } = result;
      const summary = {
        out: args.out,
        game: manifest.game,
        source: manifest.source,
        seed,
        games: result.games,
        ...(minutes !== undefined || result.interrupted ? { asked: games, timedOut: result.timedOut } : {}),
        ...(result.interrupted ? { interrupted: result.interrupted } : {}),
        train: manifest.counts.train,
        val: manifest.counts.val,
        shards: manifest.shards.length,
        bytes: manifest.shards.reduce((sum, s) => sum + s.bytes, 0),
        engines: result.engines,
        threads: result.threads,
        meanPlies: Number((result.plies / result.games).toFixed(1)),
        seconds: Number(seconds.toFixed(3)),
      };
      printResult(args.json, summary, () =>
        `wrote ${args.out}: ${result.games} ${manifest.game} games of ${result.engine} self-play (train ${summary.train}, val ${summary.val}), ` +
        (result.timedOut ? `the first ${result.games} of ${games}: --minutes ${minutes} ended the run, ` : '') +
        (result.interrupted ? `${result.games} of ${games}: ${result.interrupted} ended the run, ` : '') +
        `${summary.meanPlies} plies per game on average, ${summary.seconds}s with ${result.engines} engine process(es)` +
        (result.threads > 0 ? ` on ${result.threads} threads` : ''),
      );
      // The games are kept, but the run did not finish: say so to the shell as the signal would have.
      if (result.interrupted) process.exitCode = signalExitCode(result.interrupted);
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

/** `--against 1` or `--against greedy`: a gtp-rhino level or the greedy player. */
function selfPlayer(text: string): OthelloSelfPlayer {
  if (text === 'greedy') return 'greedy';
  const level = Number(text);
  if (!/^\d+$/.test(text) || level < RHINO_LEVELS[0] || level > RHINO_LEVELS[1]) {
    throw new UserError(`--against ${text}: expected greedy or a gtp-rhino level from ${RHINO_LEVELS[0]} to ${RHINO_LEVELS[1]}`);
  }
  return level;
}

/** `--nodes 50-2000`: a node budget range for Stockfish (1 to 10^9 nodes), as powers of ten. */
function nodeRange(text: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  const lo = match ? Number(match[1]) : NaN;
  const hi = match ? Number(match[2]) : NaN;
  if (!(lo >= 1 && hi <= 1e9 && lo <= hi)) throw new UserError(`--nodes ${text}: expected a range LO-HI of nodes per move from 1 to 1000000000, e.g. 50-2000`);
  return nodeExponents(lo, hi);
}
