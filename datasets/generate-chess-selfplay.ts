/**
 * `gamba generate chess --source stockfish`: engine self-play at mixed strength. Several engine
 * processes (one per core by default, each with Threads 1) play games side by side. Game i draws its
 * settings from `new Rng(seed, i)`: train or val, 0..8 uniformly random opening plies, and for each side
 * a Skill Level, uniform over the range asked for (by default all of 0..20), and a node budget per
 * move, log-uniform over the range asked for (by default 100 to ~31,600 nodes, 10^2 to 10^4.5). The
 * engine then plays both sides until the game is over or its string fills the 1024-character block.
 * The ranges are named in the manifest's source; with the seed they give every game's settings.
 *
 * Same seed, same settings per game. The moves are the same bytes too when every Skill Level drawn is
 * 20 (`--skills 20`): Stockfish then plays its search's move, and a search of a fixed node budget on
 * one thread from a cleared hash is deterministic. Below 20 it picks among its candidate moves with a
 * generator seeded from the clock, so those games differ run to run.
 *
 * The engines, their threads, the game order and a dying engine are engine-selfplay.ts's.
 */
import { Chess, type Move } from 'chess.js';
import { writeGameRecord } from '../games/chess/game-string.js';
import { playUci, uciOfMove } from '../games/chess/san.js';
import { UciEngine, engineCommand } from '../games/chess/uci.js';
import { CHESS_BLOCK_LENGTH } from '../games/chess/vocabulary.js';
import { DATASET_GAMES } from './games.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { generateEngineSelfPlay, type EngineSelfPlayResult, type SelfPlayRunOptions, type SelfPlaySource } from './engine-selfplay.js';
import type { Split } from './format.js';

export interface SelfPlayOptions extends SelfPlayRunOptions {
  /** UCI engine path (default: the npm stockfish package). */
  enginePath?: string;
  /** Node budgets per move as powers of ten (default DEFAULT_NODE_EXPONENTS). */
  nodes?: readonly [number, number];
  /** Skill Levels drawn from (default SKILL_LEVELS). */
  skills?: readonly [number, number];
}

interface SideSettings {
  skill: number;
  nodes: number;
}

export interface SelfPlaySettings {
  split: Split;
  openingPlies: number;
  white: SideSettings;
  black: SideSettings;
  /** Draws for the random opening moves. */
  rng: Rng;
}

/** The node budgets drawn from by default, as powers of ten: 100 to ~31,600 nodes a move. */
export const DEFAULT_NODE_EXPONENTS: readonly [number, number] = [2, 4.5];

/** `--nodes LO-HI` as the powers of ten the draws work in (the default range keeps its exact draws). */
export function nodeExponents(lo: number, hi: number): [number, number] {
  return [Math.log10(lo), Math.log10(hi)];
}

/** The node range as it is printed and recorded: `100-31623`. */
export function nodeRangeText(exponents: readonly [number, number]): string {
  return exponents.map((e) => Math.round(10 ** e)).join('-');
}

/** Stockfish's Skill Levels, all drawn from by default. */
export const SKILL_LEVELS: readonly [number, number] = [0, 20];

/** The ranges a game's sides draw from: node budgets as powers of ten, and Skill Levels. */
export interface SelfPlayRanges {
  nodes?: readonly [number, number];
  skills?: readonly [number, number];
}

/** The settings of game `index` (see the file comment). */
export function selfPlaySettings(seed: number, index: number, valFraction: number, ranges: SelfPlayRanges = {}): SelfPlaySettings {
  const rng = new Rng(seed, index);
  const split: Split = rng.nextFloat() < valFraction ? 'val' : 'train';
  const openingPlies = rng.nextInt(9);
  const [lo, hi] = ranges.nodes ?? DEFAULT_NODE_EXPONENTS;
  const [skillLo, skillHi] = ranges.skills ?? SKILL_LEVELS;
  const side = (): SideSettings => ({ skill: skillLo + rng.nextInt(skillHi - skillLo + 1), nodes: Math.round(10 ** (lo + (hi - lo) * rng.nextFloat())) });
  const white = side();
  const black = side();
  return { split, openingPlies, white, black, rng };
}

/**
 * The draws by rule (fifty moves, insufficient material, threefold repetition): what isGameOver asks
 * beyond mate and stalemate, without its legal-move generation, which cost a tenth of a millisecond a
 * ply. Mate shows in the mating move's SAN (`#`), and the engine answers `(none)` when stalemated.
 */
function drawnByRule(chess: Chess): boolean {
  return chess.isDrawByFiftyMoves() || chess.isInsufficientMaterial() || chess.isThreefoldRepetition();
}

/** Plays one self-play game on `engine`; returns its SAN moves (as many as fit in a block). */
export async function playSelfPlayGame(engine: UciEngine, settings: SelfPlaySettings): Promise<string[]> {
  const chess = new Chess();
  const sans: string[] = [];
  const ucis: string[] = [];
  let chars = 1;
  let skill = -1;
  await engine.newGame();
  while (!drawnByRule(chess)) {
    const ply = sans.length;
    let move: Move | null;
    if (ply < settings.openingPlies) {
      // the SAN list comes in the verbose list's order (same draw, same move) at a tenth of its cost:
      // the verbose one builds a FEN for every move
      const moves = chess.moves();
      if (moves.length === 0) break;
      move = chess.move(moves[settings.rng.nextInt(moves.length)]);
    } else {
      const side = ply % 2 === 0 ? settings.white : settings.black;
      if (side.skill !== skill) {
        await engine.setOption('Skill Level', side.skill, false);
        skill = side.skill;
      }
      const uci = (await engine.bestMove(ucis, { nodes: side.nodes })).move;
      if (uci === null) break;
      move = playUci(chess, uci);
      if (!move) throw new UserError(`engine ${engine.label} played ${uci}, which is not legal in ${chess.fen()}`);
    }
    const overhead = (ply === 0 ? 0 : 1) + (ply % 2 === 0 ? String(ply / 2 + 1).length + 1 : 0);
    if (chars + overhead + move.san.length > CHESS_BLOCK_LENGTH) break;
    chars += overhead + move.san.length;
    sans.push(move.san);
    ucis.push(uciOfMove(move));
    if (move.san.endsWith('#')) break;
  }
  return sans;
}

/** The options a worker thread needs to play the same games (engine-selfplay.ts). */
export interface ChessSelfPlaySourceOptions {
  enginePath?: string;
  nodes: readonly [number, number];
  skills: readonly [number, number];
  seed: number;
  valFraction: number;
}

/** Stockfish self-play as engine-selfplay.ts runs it, on any thread. */
export function selfPlaySource(options: ChessSelfPlaySourceOptions): SelfPlaySource<UciEngine> {
  const command = engineCommand(options.enginePath);
  return {
    game: DATASET_GAMES.chess,
    startEngine: async () => {
      const engine = await UciEngine.start(command);
      await engine.setOption('Threads', 1);
      return engine;
    },
    sourceOf: (engine) => `stockfish-selfplay (${engine.name}, nodes ${nodeRangeText(options.nodes)}, skills ${options.skills.join('-')})`,
    engineName: (engine) => engine.name,
    playGame: async (engine, index) => {
      const settings = selfPlaySettings(options.seed, index, options.valFraction, options);
      const sans = await playSelfPlayGame(engine, settings);
      const record = new Uint8Array(CHESS_BLOCK_LENGTH);
      writeGameRecord(sans, record, 0);
      return { split: settings.split, record, plies: sans.length };
    },
  };
}

export async function generateChessSelfPlay(outDir: string, options: SelfPlayOptions): Promise<EngineSelfPlayResult> {
  const sourceOptions: ChessSelfPlaySourceOptions = {
    enginePath: options.enginePath, nodes: options.nodes ?? DEFAULT_NODE_EXPONENTS, skills: options.skills ?? SKILL_LEVELS,
    seed: options.seed, valFraction: options.valFraction,
  };
  return generateEngineSelfPlay(outDir, options, selfPlaySource(sourceOptions), { url: import.meta.url, options: sourceOptions });
}
