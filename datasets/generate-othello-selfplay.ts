/**
 * `gamba generate othello --source rhino`: gtp-rhino self-play at mixed strength, the games an Othello
 * model learns to win from (random games teach it only the rules). Game i draws its settings from
 * `new Rng(seed, i)`: train or val, 1 to 8 opening moves uniformly random among the legal ones (so
 * games differ; `openingMoves` sets the range), then a gtp-rhino level for each side, uniform over the range asked for (1-3 by
 * default: on one core of this machine a game takes about 0.15 s at level 1, 0.2 s at 2, 2 s at 3,
 * 36 s at 4, and level 5 thinks longer than 30 s over a single endgame move). gtp-rhino takes its level on the command
 * line, so each engine slot keeps one process per level it has needed, started when first asked for;
 * every process of a game is told every move it did not make itself. Passes are silent, as in the
 * records.
 *
 * With `against`, one side of every game is that opponent instead, a fixed gtp-rhino level or greedy
 * (the move that flips the most discs, ties drawn from the game's rng), on a colour drawn per game:
 * games that show how the drawn levels beat it.
 *
 * gtp-rhino with its opening book's variation off (`--book 0`; the variation is drawn from the clock)
 * and its evaluator's randomness at its default 0 is deterministic: the same seed gives the same bytes,
 * whatever the number of engines or threads (the engines, their threads, the game order and a dying
 * engine are engine-selfplay.ts's). `book` turns the variation on, as `gamba play --opponent rhino` meets
 * it (gtp-rhino's default is 2): the games then open as the matches do and differ run to run.
 */
import { OthelloBoard } from '../games/othello/board.js';
import { GtpEngine, RHINO_PATH, colorToMove } from '../games/othello/gtp.js';
import { SQUARE_TO_TOKEN } from '../games/othello/notation.js';
import { greedyPlayer } from '../games/othello/players.js';
import { Rng } from '../src/util/rng.js';
import { generateEngineSelfPlay, type EngineSelfPlayResult, type SelfPlayEngine, type SelfPlayRunOptions, type SelfPlaySource } from './engine-selfplay.js';
import type { Split } from './format.js';
import { DATASET_GAMES } from './games.js';

/** gtp-rhino's levels, and the range drawn from by default. */
export const RHINO_LEVELS: readonly [number, number] = [1, 5];
export const DEFAULT_RHINO_LEVELS: readonly [number, number] = [1, 3];
/**
 * Random opening moves before the engines play, drawn per game: by default, and the bounds. At least one:
 * gtp-rhino draws its own first move from the clock (the four are one move up to symmetry).
 */
export const DEFAULT_OPENING_MOVES: readonly [number, number] = [1, 8];
export const OPENING_MOVES: readonly [number, number] = [1, 20];
/** gtp-rhino's opening book variations, none to very high. */
export const RHINO_BOOK_VARIATIONS: readonly [number, number] = [0, 5];

/** A side of a self-play game: a gtp-rhino level, or the greedy player. */
export type OthelloSelfPlayer = number | 'greedy';

/** How the games are drawn: the levels, the fixed opponent, the range of random opening moves. */
export interface OthelloSelfPlayDraws {
  /** Lowest and highest level drawn (default DEFAULT_RHINO_LEVELS). */
  levels?: readonly [number, number];
  /** One side of every game, on a colour drawn per game (default: both sides drawn from the levels). */
  against?: OthelloSelfPlayer;
  /** Lowest and highest number of random opening moves (default DEFAULT_OPENING_MOVES). */
  openingMoves?: readonly [number, number];
}

export interface OthelloSelfPlayOptions extends SelfPlayRunOptions, OthelloSelfPlayDraws {
  /** The GTP engine (default: Debian grhino's gtp-rhino). */
  enginePath?: string;
  /** gtp-rhino's opening book variation, 0-5 (default 0: none, the only setting that repeats its bytes). */
  book?: number;
}

export interface OthelloSelfPlaySettings {
  split: Split;
  openingMoves: number;
  /** gtp-rhino level per side, 1..5, or 'greedy' (only as the `against` side). */
  black: OthelloSelfPlayer;
  white: OthelloSelfPlayer;
  /** Draws the random opening moves. */
  rng: Rng;
}

/** The settings of game `index` (see the file comment). */
export function othelloSelfPlaySettings(seed: number, index: number, valFraction: number, draws: OthelloSelfPlayDraws = {}): OthelloSelfPlaySettings {
  const { levels = DEFAULT_RHINO_LEVELS, against, openingMoves: [fewest, most] = DEFAULT_OPENING_MOVES } = draws;
  const rng = new Rng(seed, index);
  const split: Split = rng.nextFloat() < valFraction ? 'val' : 'train';
  const openingMoves = fewest + rng.nextInt(most - fewest + 1);
  const [lo, hi] = levels;
  const black = lo + rng.nextInt(hi - lo + 1);
  const white = lo + rng.nextInt(hi - lo + 1);
  if (against === undefined) return { split, openingMoves, black, white, rng };
  // Drawn after both levels, so that games without `against` keep the draws (and bytes) they had.
  return rng.nextInt(2) === 0 ? { split, openingMoves, black: against, white, rng } : { split, openingMoves, black, white: against, rng };
}

/** How the manifest's source names the `against` side: `level 1`, `greedy`. */
const selfPlayerName = (player: OthelloSelfPlayer): string => (player === 'greedy' ? 'greedy' : `level ${player}`);

/** gtp-rhino at `level` with its opening book's variation `book` (drawn from the clock unless 0). */
function rhinoArgs(level: number, book: number): string[] {
  return ['--level', String(level), '--book', String(book)];
}

/** One engine slot: a gtp-rhino process per level, started when a game first needs it. */
export class RhinoLevels implements SelfPlayEngine {
  private readonly byLevel = new Map<number, GtpEngine>();

  private constructor(readonly path: string, readonly book: number, readonly first: GtpEngine, firstLevel: number) {
    this.byLevel.set(firstLevel, first);
  }

  /** Starts the slot with its level-3 process (gtp-rhino's default), which also names the engine. */
  static async start(path: string, book = 0): Promise<RhinoLevels> {
    return new RhinoLevels(path, book, await GtpEngine.start(path, rhinoArgs(3, book)), 3);
  }

  async level(level: number): Promise<GtpEngine> {
    let engine = this.byLevel.get(level);
    if (!engine) {
      engine = await GtpEngine.start(this.path, rhinoArgs(level, this.book));
      this.byLevel.set(level, engine);
    }
    return engine;
  }

  async quit(): Promise<void> {
    await Promise.all([...this.byLevel.values()].map((e) => e.quit()));
  }

  kill(): void {
    for (const engine of this.byLevel.values()) engine.kill();
  }
}

/** Plays one self-play game; returns its moves (squares, passes left out). */
export async function playOthelloSelfPlayGame(slot: RhinoLevels, settings: OthelloSelfPlaySettings): Promise<number[]> {
  const side = async (player: OthelloSelfPlayer): Promise<GtpEngine | 'greedy'> => (player === 'greedy' ? 'greedy' : slot.level(player));
  const players = { black: await side(settings.black), white: await side(settings.white) };
  const engines = [...new Set([players.black, players.white])].filter((p): p is GtpEngine => p !== 'greedy');
  for (const engine of engines) await engine.clearBoard();
  const board = OthelloBoard.initial();
  const moves: number[] = [];
  while (!board.isOver()) {
    const color = colorToMove(board);
    let square: number;
    let madeBy: GtpEngine | null = null;
    if (moves.length < settings.openingMoves) {
      const legal = board.legalMoves();
      square = legal[settings.rng.nextInt(legal.length)];
    } else {
      const player = players[color];
      if (player === 'greedy') {
        square = greedyPlayer(board, settings.rng);
      } else {
        madeBy = player;
        square = await player.legalMove(board, moves);
      }
    }
    for (const engine of engines) if (engine !== madeBy) await engine.play(color, square);
    board.play(square);
    moves.push(square);
  }
  return moves;
}

/** The options a worker thread needs to play the same games (engine-selfplay.ts). */
export interface OthelloSelfPlaySourceOptions extends OthelloSelfPlayDraws {
  enginePath: string;
  levels: readonly [number, number];
  openingMoves: readonly [number, number];
  book: number;
  seed: number;
  valFraction: number;
}

/** gtp-rhino self-play as engine-selfplay.ts runs it, on any thread. */
export function selfPlaySource(options: OthelloSelfPlaySourceOptions): SelfPlaySource<RhinoLevels> {
  const { enginePath, levels, against, openingMoves, book, seed, valFraction } = options;
  // The defaults keep the source text it had before the flags that change them.
  const againstText = against === undefined ? '' : ` against ${selfPlayerName(against)}`;
  const openingText = openingMoves.join() === DEFAULT_OPENING_MOVES.join() ? '' : `, ${openingMoves[0]}-${openingMoves[1]} random opening moves`;
  const bookText = book === 0 ? '' : `, book variation ${book}`;
  const game = DATASET_GAMES.othello;
  return {
    game,
    startEngine: () => RhinoLevels.start(enginePath, book),
    sourceOf: (slot) => `rhino-selfplay (${slot.first.name} ${slot.first.version}, levels ${levels[0]}-${levels[1]}${againstText}${openingText}${bookText})`,
    engineName: (slot) => `${slot.first.name} ${slot.first.version}`,
    playGame: async (slot, index) => {
      const settings = othelloSelfPlaySettings(seed, index, valFraction, options);
      const moves = await playOthelloSelfPlayGame(slot, settings);
      const record = new Uint8Array(game.recordLength);
      moves.forEach((square, i) => (record[i] = SQUARE_TO_TOKEN[square]));
      return { split: settings.split, record, plies: moves.length };
    },
  };
}

export async function generateOthelloSelfPlay(outDir: string, options: OthelloSelfPlayOptions): Promise<EngineSelfPlayResult> {
  const sourceOptions: OthelloSelfPlaySourceOptions = {
    enginePath: options.enginePath ?? RHINO_PATH,
    levels: options.levels ?? DEFAULT_RHINO_LEVELS,
    against: options.against,
    openingMoves: options.openingMoves ?? DEFAULT_OPENING_MOVES,
    book: options.book ?? 0,
    seed: options.seed,
    valFraction: options.valFraction,
  };
  return generateEngineSelfPlay(outDir, options, selfPlaySource(sourceOptions), { url: import.meta.url, options: sourceOptions });
}
