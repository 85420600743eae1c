/**
 * `gamba generate othello --source rhino`: gtp-rhino self-play at mixed strength, the games an Othello
 * model learns to win from (random games teach it only the rules). Game i draws its settings from
 * `new Rng(seed, i)`: train or val, 1 to 8 opening moves uniformly random among the legal ones (so
 * games differ), then a gtp-rhino level for each side, uniform over the range asked for (1-3 by
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
 * engine are engine-selfplay.ts's).
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
const MAX_OPENING_MOVES = 8;

/** A side of a self-play game: a gtp-rhino level, or the greedy player. */
export type OthelloSelfPlayer = number | 'greedy';

export interface OthelloSelfPlayOptions extends SelfPlayRunOptions {
  /** The GTP engine (default: Debian grhino's gtp-rhino). */
  enginePath?: string;
  /** Lowest and highest level drawn (default DEFAULT_RHINO_LEVELS). */
  levels?: readonly [number, number];
  /** One side of every game, on a colour drawn per game (default: both sides drawn from the levels). */
  against?: OthelloSelfPlayer;
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
export function othelloSelfPlaySettings(seed: number, index: number, valFraction: number, levels: readonly [number, number] = DEFAULT_RHINO_LEVELS, against?: OthelloSelfPlayer): OthelloSelfPlaySettings {
  const rng = new Rng(seed, index);
  const split: Split = rng.nextFloat() < valFraction ? 'val' : 'train';
  const openingMoves = 1 + rng.nextInt(MAX_OPENING_MOVES);
  const [lo, hi] = levels;
  const black = lo + rng.nextInt(hi - lo + 1);
  const white = lo + rng.nextInt(hi - lo + 1);
  if (against === undefined) return { split, openingMoves, black, white, rng };
  // Drawn after both levels, so that games without `against` keep the draws (and bytes) they had.
  return rng.nextInt(2) === 0 ? { split, openingMoves, black: against, white, rng } : { split, openingMoves, black, white: against, rng };
}

/** How the manifest's source names the `against` side: `level 1`, `greedy`. */
const selfPlayerName = (player: OthelloSelfPlayer): string => (player === 'greedy' ? 'greedy' : `level ${player}`);

/** gtp-rhino at `level`, its opening book without variation (the variation is drawn from the clock). */
function rhinoArgs(level: number): string[] {
  return ['--level', String(level), '--book', '0'];
}

/** One engine slot: a gtp-rhino process per level, started when a game first needs it. */
export class RhinoLevels implements SelfPlayEngine {
  private readonly byLevel = new Map<number, GtpEngine>();

  private constructor(readonly path: string, readonly first: GtpEngine, firstLevel: number) {
    this.byLevel.set(firstLevel, first);
  }

  /** Starts the slot with its level-3 process (gtp-rhino's default), which also names the engine. */
  static async start(path: string): Promise<RhinoLevels> {
    return new RhinoLevels(path, await GtpEngine.start(path, rhinoArgs(3)), 3);
  }

  async level(level: number): Promise<GtpEngine> {
    let engine = this.byLevel.get(level);
    if (!engine) {
      engine = await GtpEngine.start(this.path, rhinoArgs(level));
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
export interface OthelloSelfPlaySourceOptions {
  enginePath: string;
  levels: readonly [number, number];
  against?: OthelloSelfPlayer;
  seed: number;
  valFraction: number;
}

/** gtp-rhino self-play as engine-selfplay.ts runs it, on any thread. */
export function selfPlaySource(options: OthelloSelfPlaySourceOptions): SelfPlaySource<RhinoLevels> {
  const { enginePath, levels, against, seed, valFraction } = options;
  const againstText = against === undefined ? '' : ` against ${selfPlayerName(against)}`;
  const game = DATASET_GAMES.othello;
  return {
    game,
    startEngine: () => RhinoLevels.start(enginePath),
    sourceOf: (slot) => `rhino-selfplay (${slot.first.name} ${slot.first.version}, levels ${levels[0]}-${levels[1]}${againstText})`,
    engineName: (slot) => `${slot.first.name} ${slot.first.version}`,
    playGame: async (slot, index) => {
      const settings = othelloSelfPlaySettings(seed, index, valFraction, levels, against);
      const moves = await playOthelloSelfPlayGame(slot, settings);
      const record = new Uint8Array(game.recordLength);
      moves.forEach((square, i) => (record[i] = SQUARE_TO_TOKEN[square]));
      return { split: settings.split, record, plies: moves.length };
    },
  };
}

export async function generateOthelloSelfPlay(outDir: string, options: OthelloSelfPlayOptions): Promise<EngineSelfPlayResult> {
  const sourceOptions: OthelloSelfPlaySourceOptions = {
    enginePath: options.enginePath ?? RHINO_PATH, levels: options.levels ?? DEFAULT_RHINO_LEVELS, against: options.against, seed: options.seed, valFraction: options.valFraction,
  };
  return generateEngineSelfPlay(outDir, options, selfPlaySource(sourceOptions), { url: import.meta.url, options: sourceOptions });
}
