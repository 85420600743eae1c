/**
 * `gamba play`: a checkpoint against an opponent. Chess: a UCI engine (Stockfish) with the anchors'
 * protocol (src/eval/play-chess.ts); Othello: random, greedy or gtp-rhino (src/eval/play-othello.ts);
 * either game: a person at the terminal (src/eval/human-seat.ts).
 * Every game is appended to the output directory as it finishes (games.pgn for chess, games.jsonl for
 * Othello), and summary.json holds the totals; a dead engine stops the match with a one-line error,
 * the finished games kept. `--parallel N` plays N games at once against N engine processes.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UciEngine, engineCommand } from '../../games/chess/uci.js';
import { CHESS_VOCAB_SIZE } from '../../games/chess/vocabulary.js';
import { GtpEngine, RHINO_PATH } from '../../games/othello/gtp.js';
import { VOCAB_SIZE as OTHELLO_VOCAB_SIZE } from '../../games/othello/notation.js';
import { createBackend, type BackendName } from '../backend/index.js';
import { HumanSeat } from '../eval/human-seat.js';
import { DEFAULT_TEMPERATURE, eloAgainstSkill, MATCH_SUMMARY_FILE, MATCHES_DIR, tally } from '../eval/match-summary.js';
import { playChessMatch, CHESS_MOVE_CAP, type ChessTemperature } from '../eval/play-chess.js';
import { playOthelloMatch } from '../eval/play-othello.js';
import type { LanguageModel } from '../model/language-model.js';
import { createModel } from '../model/models.js';
import { CONFIG_FILE } from '../train/checkpoint.js';
import { loadCheckpoint } from '../train/load-checkpoint.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { startAll } from '../util/start-all.js';
import { note, printResult } from '../util/output.js';
import { writeFileAtomic } from '../util/write-file-atomic.js';

interface PlayArgs {
  game: 'chess' | 'othello';
  checkpoint: string;
  opponent?: 'stockfish' | 'random' | 'greedy' | 'rhino' | 'human';
  games?: number;
  color?: 'white' | 'black' | 'both';
  seed: number;
  out?: string;
  force: boolean;
  json: boolean;
  backend: BackendName;
  temperature?: string;
  skill?: number;
  movetime?: number;
  nodes?: number;
  threads?: number;
  engine?: string;
  level?: number;
  'legal-only'?: boolean;
  unrestricted?: boolean;
  symmetries?: boolean;
  'opening-moves'?: number;
  parallel?: number;
}

export const playCommand: CommandModule<object, PlayArgs> = {
  command: 'play',
  describe: 'Play a checkpoint against Stockfish (chess) or random/greedy/gtp-rhino (Othello)',
  builder: (yargs) =>
    yargs
      .option('game', { choices: ['chess', 'othello'] as const, demandOption: true, describe: 'which game' })
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory' })
      .option('opponent', { choices: ['stockfish', 'random', 'greedy', 'rhino', 'human'] as const, describe: 'chess: stockfish (default) or human; othello: random (default), greedy, rhino or human (you, at this terminal: moves in the game\'s notation, resign, quit)' })
      .option('games', { type: 'number', describe: 'games to play (default 10; 1 against a human)' })
      .option('color', { choices: ['white', 'black', 'both'] as const, describe: "the model's colour (chess: white by default; othello: black, white or both (default), alternating)" })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the sampling and the random opponents' })
      .option('out', { type: 'string', describe: 'directory for the games and summary.json (default: CHECKPOINT/matches/<game>-<opponent>-<time>)' })
      .option('force', { type: 'boolean', default: false, describe: 'write into a non-empty --out directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as one JSON object' })
      .option('backend', { choices: ['cpu', 'webgpu', 'auto'] as const, default: 'auto' as const, describe: 'compute backend' })
      .option('temperature', { type: 'string', describe: "sampling temperature: a number from 0 to 10, or (chess, the default) karvonen: 0.001 on the first try, 0.2 more a resample, at most 0.5, as the anchors' evaluation samples; othello default 0 = argmax" })
      .option('skill', { type: 'number', describe: 'chess: Stockfish Skill Level 0..20 (default 0)' })
      .option('movetime', { type: 'number', describe: 'chess: engine milliseconds per move (default 100, the anchors\' 0.1 s)' })
      .option('nodes', { type: 'number', describe: 'chess: engine nodes per move instead of --movetime (comparable across machines)' })
      .option('threads', { type: 'number', describe: 'chess: engine Threads (default 1)' })
      .option('engine', { type: 'string', describe: `engine path: a UCI engine for chess (default the npm stockfish package), a GTP engine for rhino (default ${RHINO_PATH})` })
      .option('level', { type: 'number', describe: 'othello rhino: AI level 1..5 (default 1)' })
      .option('legal-only', { type: 'boolean', describe: 'othello: choose among legal moves only (default)' })
      .option('unrestricted', { type: 'boolean', describe: "othello: the model's top token over the whole vocabulary; an illegal one forfeits" })
      .option('parallel', { type: 'number', describe: 'against stockfish or rhino: games played at once, each slot with its own engine process (the same games, in the same order; default 1)' })
      .option('opening-moves', { type: 'number', describe: 'othello: the first N moves of every game (both sides\', 0..20, default 0) drawn at random from the seed, the same against every opponent: a model playing its top move meets as many openings as games' })
      .option('symmetries', { type: 'boolean', describe: 'othello: read the model through the four board symmetries that keep the opening and average its move log-probabilities (four model steps a move)' })
      .example('$0 play --game chess --checkpoint runs/chess --opponent stockfish --skill 0 --nodes 1000 --games 20', '')
      .example('$0 play --game othello --checkpoint runs/quickstart --opponent rhino --games 10', '')
      .example('$0 play --game chess --checkpoint runs/chess --opponent human --color white', 'you play Black against the model') as unknown as Argv<PlayArgs>,
  handler: async (args) => {
    const seed = integerFlag('seed', args.seed, 0);
    const opponent = args.opponent ?? (args.game === 'chess' ? 'stockfish' : 'random');
    const games = integerFlag('games', args.games ?? (opponent === 'human' ? 1 : 10), 1, 1_000_000);
    if (args.game === 'chess' && opponent !== 'stockfish' && opponent !== 'human') throw new UserError(`--opponent ${opponent}: chess plays against stockfish (a UCI engine, see --engine) or human`);
    if (opponent === 'human') {
      for (const flag of ['skill', 'movetime', 'nodes', 'threads', 'engine', 'level', 'opening-moves'] as const) {
        if (args[flag] !== undefined) throw new UserError(`--${flag}: not for --opponent human`);
      }
    }
    if (args.game === 'othello' && opponent === 'stockfish') throw new UserError('--opponent stockfish: othello plays against random, greedy, rhino or human');
    const chessOnly = ['skill', 'movetime', 'nodes', 'threads'] as const;
    const othelloOnly = ['level', 'legal-only', 'unrestricted', 'symmetries', 'opening-moves'] as const;
    for (const flag of args.game === 'chess' ? othelloOnly : chessOnly) {
      if (args[flag] !== undefined) throw new UserError(`--${flag}: only for --game ${args.game === 'chess' ? 'othello' : 'chess'}`);
    }
    const parallel = integerFlag('parallel', args.parallel ?? 1, 1, 256);
    if (args.parallel !== undefined && opponent !== 'stockfish' && opponent !== 'rhino') throw new UserError(`--parallel: only against an engine (stockfish, rhino); ${opponent} plays one game at a time`);
    const temperature = temperatureFlag(args.temperature, args.game);
    // Every flag is checked before the output directory is made, so a refused one leaves nothing behind.
    const stockfish = args.game === 'chess' && opponent === 'stockfish' ? stockfishSettings(args) : undefined;
    const othello = args.game === 'othello' ? othelloSettings(args, opponent) : undefined;

    const checkpoint = loadCheckpoint(args.checkpoint, note);
    const configPath = join(args.checkpoint, CONFIG_FILE);
    if (checkpoint.game !== null && checkpoint.game !== args.game) throw new UserError(`${configPath}: a ${checkpoint.game} model, not ${args.game}`);
    const vocab = args.game === 'chess' ? CHESS_VOCAB_SIZE : OTHELLO_VOCAB_SIZE;
    if (checkpoint.config.vocab_size !== vocab) throw new UserError(`${configPath}: vocab_size ${checkpoint.config.vocab_size}, but ${args.game} models have ${vocab}`);

    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const out = args.out ?? join(args.checkpoint, MATCHES_DIR, `${args.game}-${opponent}${args.game === 'chess' && opponent === 'stockfish' ? `-skill${args.skill ?? 0}` : ''}-${stamp}`);
    if (existsSync(out) && readdirSync(out).length > 0 && !args.force) throw new UserError(`${out}: already exists and is not empty (use --force to write into it)`);
    mkdirSync(out, { recursive: true });

    const backend = await createBackend(args.backend);
    const model = createModel(backend, checkpoint.config, checkpoint.params);
    const modelName = checkpoint.preset ? `${args.checkpoint} (${checkpoint.preset})` : args.checkpoint;
    const human = opponent === 'human' ? new HumanSeat() : undefined;
    let summary: MatchOutcome;
    try {
      summary = othello
        ? await othelloMatch(args, { games, parallel, seed, temperature, out, model, opponent: opponent as 'random' | 'greedy' | 'rhino' | 'human', human }, othello)
        : await (human ? humanChessMatch(args, { games, parallel, seed, temperature, out, model, modelName }, human) : chessMatch(args, { games, parallel, seed, temperature, out, model, modelName }, stockfish!));
    } finally {
      human?.close();
    }
    const result = { ...summary.result, out, backend: backend.name };
    writeJsonAtomic(join(out, MATCH_SUMMARY_FILE), summary.error ? { ...result, error: summary.error } : result);
    if (summary.error) throw new UserError(`${summary.error} (the ${result.games} finished games are in ${join(out, summary.file)})`);
    printResult(args.json, result, () => summary.human);
  },
};

/** --temperature: a number from 0 to 10, or karvonen (chess only, and chess's default); Othello's default is 0. */
function temperatureFlag(value: string | undefined, game: PlayArgs['game']): ChessTemperature {
  if (value === undefined) return DEFAULT_TEMPERATURE[game];
  if (value === 'karvonen') {
    if (game !== 'chess') throw new UserError('--temperature karvonen: only for --game chess (an Othello model plays a number: 0 = its top move)');
    return 'karvonen';
  }
  const t = value.trim() === '' ? NaN : Number(value);
  if (!(t >= 0 && t <= 10)) throw new UserError(`--temperature: expected a number from 0 to 10${game === 'chess' ? ' or karvonen' : ''}, got ${value}`);
  return t;
}

interface Common {
  games: number;
  /** Games played at once, each against its own engine process. */
  parallel: number;
  seed: number;
  temperature: ChessTemperature;
  out: string;
  model: LanguageModel;
}

interface MatchOutcome {
  result: Record<string, unknown> & { games: number };
  human: string;
  error: string | null;
  file: string;
}

/** Stockfish's settings from the flags: checked in the handler, before the output directory is made. */
function stockfishSettings(args: PlayArgs) {
  const skill = integerFlag('skill', args.skill ?? 0, 0, 20);
  const threads = integerFlag('threads', args.threads ?? 1, 1, 1024);
  if (args.movetime !== undefined && args.nodes !== undefined) throw new UserError('--movetime and --nodes: give one engine limit, not both');
  const limit = args.nodes !== undefined ? { nodes: integerFlag('nodes', args.nodes, 1) } : { movetimeMs: integerFlag('movetime', args.movetime ?? 100, 1, 3_600_000) };
  return { skill, threads, limit };
}

async function chessMatch(args: PlayArgs, common: Common & { modelName: string }, settings: ReturnType<typeof stockfishSettings>): Promise<MatchOutcome> {
  const { skill, threads, limit } = settings;
  const engines = await startAll(common.parallel, () => UciEngine.start(engineCommand(args.engine)), (e) => e.quit());
  const engine = engines[0];
  const pgnFile = join(common.out, 'games.pgn');
  let match;
  try {
    for (const e of engines) {
      await e.setOption('Skill Level', skill);
      await e.setOption('Threads', threads);
    }
    const limitText = limit.nodes !== undefined ? `${limit.nodes} nodes` : `${limit.movetimeMs} ms`;
    match = await playChessMatch({
      model: common.model,
      modelName: common.modelName,
      engines,
      engineLabel: `${engine.name} (Skill ${skill}, ${limitText}/move)`,
      limit,
      games: common.games,
      color: args.color ?? 'white',
      seed: common.seed,
      temperature: common.temperature,
      onGame: (game) => appendFileSync(pgnFile, game.pgn + '\n'),
    });
  } finally {
    await Promise.all(engines.map((e) => e.quit()));
  }
  const games = match.games;
  const points = games.map((g) => g.modelPoints);
  const modelMoves = games.reduce((a, g) => a + g.modelMoves, 0);
  const legal = games.reduce((a, g) => a + g.legalFirstTry, 0);
  const engineMoves = games.reduce((a, g) => a + g.engineMoves, 0);
  const engineNodes = games.reduce((a, g) => a + g.engineNodes, 0);
  const engineMs = games.reduce((a, g) => a + g.engineMs, 0);
  const plies = games.reduce((a, g) => a + g.sans.length, 0);
  const t = tally(points);
  const elo = eloAgainstSkill(points, skill);
  const result = {
    ...t,
    legalFirstTry: modelMoves > 0 ? Number((legal / modelMoves).toFixed(4)) : null,
    modelMoves,
    meanPlies: games.length > 0 ? Number((plies / games.length).toFixed(1)) : 0,
    forfeits: games.filter((g) => g.termination === 'forfeit').length,
    capped: games.filter((g) => g.termination === 'move-cap' || g.termination === 'context-full').length,
    moveCap: CHESS_MOVE_CAP,
    elo,
    engine: {
      name: engine.name,
      path: engine.label,
      skill,
      threads,
      ...(limit.nodes !== undefined ? { nodes: limit.nodes } : { movetimeMs: limit.movetimeMs }),
      moves: engineMoves,
      nodesPerSec: engineMs > 0 ? Math.round(engineNodes / (engineMs / 1000)) : null,
      timePerMoveMs: engineMoves > 0 ? Number((engineMs / engineMoves).toFixed(1)) : null,
    },
    model: { checkpoint: args.checkpoint, color: args.color ?? 'white', temperature: common.temperature },
  };
  const human = [
    `${t.games} games vs ${engine.name} (Skill ${skill}): +${t.wins} =${t.draws} -${t.losses}, score ${(100 * t.score).toFixed(1)}%`,
    `legal on the first try: ${result.legalFirstTry === null ? '-' : (100 * result.legalFirstTry).toFixed(1) + '%'} of ${modelMoves} model moves; ` +
      `${result.forfeits} forfeit(s), ${result.capped} game(s) capped at ${CHESS_MOVE_CAP} moves; mean length ${result.meanPlies} plies`,
    elo ? `Elo estimate ${elo.estimate} (95% ${elo.low}..${elo.high}) against ~${elo.opponent} for Skill ${skill} at the anchors' 0.1 s/move` : `no Elo estimate (no reference rating for Skill ${skill})`,
    `engine: ${result.engine.nodesPerSec ?? '-'} nodes/s, ${result.engine.timePerMoveMs ?? '-'} ms/move, ${threads} thread(s); games in ${pgnFile}`,
  ].join('\n');
  return { result, human, error: match.error ? errorText(match.error) : null, file: 'games.pgn' };
}

/** The model against a person at the terminal (human-seat.ts): each game saved as PGN as it ends. */
async function humanChessMatch(args: PlayArgs, common: Common & { modelName: string }, seat: HumanSeat): Promise<MatchOutcome> {
  const pgnFile = join(common.out, 'games.pgn');
  const color = args.color ?? 'white';
  const match = await playChessMatch({
    model: common.model,
    modelName: common.modelName,
    engines: [seat.chessOpponent()],
    engineLabel: 'human',
    limit: {},
    games: common.games,
    color,
    seed: common.seed,
    temperature: common.temperature,
    onGame: (game) => {
      appendFileSync(pgnFile, game.pgn + '\n');
      seat.say(`game ${game.index + 1}: ${game.result} (${game.termination}) after ${game.sans.length} plies; saved to ${pgnFile}`);
    },
    stop: () => seat.quitRequested,
  });
  const t = tally(match.games.map((g) => g.modelPoints));
  const result = { ...t, opponent: { name: 'human' }, model: { checkpoint: args.checkpoint, color, temperature: common.temperature } };
  const human = `${t.games} game(s) vs you: the model +${t.wins} =${t.draws} -${t.losses}; games in ${pgnFile}`;
  return { result, human, error: match.error ? errorText(match.error) : null, file: 'games.pgn' };
}

/** --opening-moves' most: 20 drawn moves are a third of a game. */
const MAX_OPENING_MOVES = 20;

/** An Othello match's settings from the flags: checked in the handler, before the output directory is made. */
function othelloSettings(args: PlayArgs, opponent: string) {
  if (args['legal-only'] && args.unrestricted) throw new UserError('--legal-only and --unrestricted: choose one');
  const mode: 'unrestricted' | 'legal-only' = args.unrestricted ? 'unrestricted' : 'legal-only';
  if (args.engine !== undefined && opponent !== 'rhino') throw new UserError('--engine: only with --opponent rhino (for othello)');
  const level = integerFlag('level', args.level ?? 1, 1, 5);
  const openingMoves = integerFlag('opening-moves', args['opening-moves'] ?? 0, 0, MAX_OPENING_MOVES);
  return { mode, level, openingMoves };
}

async function othelloMatch(args: PlayArgs, common: Common & { opponent: 'random' | 'greedy' | 'rhino' | 'human'; human?: HumanSeat }, settings: ReturnType<typeof othelloSettings>): Promise<MatchOutcome> {
  const { mode, level, openingMoves } = settings;
  const engines = common.opponent === 'rhino' ? await startAll(common.parallel, () => GtpEngine.start(args.engine ?? RHINO_PATH, ['--level', String(level)]), (e) => e.quit()) : [];
  const engine = engines[0];
  const file = join(common.out, 'games.jsonl');
  let match;
  try {
    match = await playOthelloMatch({
      model: common.model,
      opponent: common.opponent,
      engines,
      games: common.games,
      color: args.color === 'white' || args.color === 'black' ? args.color : 'both',
      seed: common.seed,
      mode,
      // temperatureFlag gives Othello a number: karvonen is refused before anything is written.
      temperature: common.temperature as number,
      symmetries: args.symmetries ?? false,
      openingMoves,
      human: common.human,
      onGame: (game) => {
        appendFileSync(file, JSON.stringify(game) + '\n');
        common.human?.say(`game ${game.index + 1}: ${game.result === 'draw' ? 'draw' : `${game.result} wins`} (${game.termination}), X ${game.counts.black} O ${game.counts.white}; saved to ${file}`);
      },
    });
  } finally {
    await Promise.all(engines.map((e) => e.quit()));
  }
  const games = match.games;
  const t = tally(games.map((g) => g.modelPoints));
  const modelMoves = games.reduce((a, g) => a + g.modelMoves, 0);
  const illegal = games.reduce((a, g) => a + g.illegalMoves, 0);
  const result = {
    ...t,
    mode,
    illegalRate: mode === 'unrestricted' && modelMoves > 0 ? Number((illegal / modelMoves).toFixed(4)) : mode === 'unrestricted' ? null : 0,
    modelMoves,
    forfeits: games.filter((g) => g.termination === 'forfeit').length,
    meanMoves: games.length > 0 ? Number((games.reduce((a, g) => a + g.moves.length, 0) / games.length).toFixed(1)) : 0,
    ...(openingMoves > 0 ? { openingMoves } : {}),
    opponent: engine ? { name: common.opponent, engine: `${engine.name} ${engine.version}`, path: engine.label, level } : { name: common.opponent },
    model: { checkpoint: args.checkpoint, temperature: common.temperature, ...(args.symmetries ? { symmetries: true } : {}) },
  };
  const human = [
    `${t.games} games vs ${common.opponent}${engine ? ` (${engine.name} ${engine.version}, level ${level})` : ''}${openingMoves > 0 ? `, first ${openingMoves} moves drawn` : ''}, ${mode}: +${t.wins} =${t.draws} -${t.losses}, score ${(100 * t.score).toFixed(1)}%`,
    mode === 'unrestricted'
      ? `illegal moves: ${illegal} of ${modelMoves} model moves (${(100 * (result.illegalRate ?? 0)).toFixed(2)}%), ${result.forfeits} game(s) forfeited`
      : 'moves restricted to legal ones (use --unrestricted to measure the illegal rate)',
    `mean length ${result.meanMoves} moves; games in ${file}`,
  ].join('\n');
  return { result, human, error: match.error ? errorText(match.error) : null, file: 'games.jsonl' };
}

function errorText(error: unknown): string {
  if (error instanceof UserError) return error.message;
  throw error;
}

function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
