/**
 * `gamba dataset label-positions`: the positions of Othello games (JSON lines, as `gamba play` writes
 * them) where the model was to move, each answered by gtp-rhino at one level, into an Othello dataset
 * of labelled positions: a record holds the moves that led to the position, then the engine's move
 * there, and stops (the game is not over). `train --labelled-positions` learns only that last move, so
 * a model learns the engine's answer in the positions its own play reaches (DAgger), not only in those
 * of engine games. Passes are silent, as in the records. Two kinds of position are left out: one with
 * no move before it (the model playing Black's first move), as the first move of a record is never a
 * target, and one whose answer ends the game, as its record would be a whole game.
 *
 * The positions are labelled by engine-selfplay.ts's engine slots (one gtp-rhino process each, on as
 * many threads as it takes), position i being its "game" i, and are written in file order. All the
 * positions of one game go to the same split, drawn from `new Rng(seed, game)`. gtp-rhino with its
 * book variation off is deterministic, so the same files, level and seed give the same bytes.
 */
import { OthelloBoard } from '../games/othello/board.js';
import { RHINO_PATH, colorToMove } from '../games/othello/gtp.js';
import { SQUARE_TO_TOKEN } from '../games/othello/notation.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/util/rng.js';
import { generateEngineSelfPlay, type EngineSelfPlayResult, type SelfPlayRunOptions, type SelfPlaySource } from './engine-selfplay.js';
import type { Split } from './format.js';
import { RhinoLevels } from './generate-othello-selfplay.js';
import { DATASET_GAMES } from './games.js';
import { readJsonlGames } from './jsonl-games.js';

/** Whose positions are labelled: the side gamba play's `modelColor` names, or every position. */
export type LabelledSide = 'model' | 'both';

export interface LabelPositionsOptions extends Omit<SelfPlayRunOptions, 'games' | 'onProgress'> {
  files: string[];
  side: LabelledSide;
  /** Only the positions after LO to HI moves (passes not counted); every position if not given. */
  plies?: readonly [number, number];
  /** The gtp-rhino level that answers every position. */
  level: number;
  enginePath?: string;
  onProgress?: (labelled: number, positions: number) => void;
}

/** What a worker thread needs to label the same positions: plain data only (structured clone). */
export interface LabelSourceOptions {
  enginePath: string;
  level: number;
  /** The games' moves, as squares. */
  games: number[][];
  /** Per game, its split. */
  splits: Split[];
  /** Position i: game positions[2i], before its move positions[2i + 1]. */
  positions: Int32Array;
  files: string[];
  plies?: readonly [number, number];
}

/** `games` counts the positions answered; those written are the manifest's counts. */
export interface LabelPositionsResult extends EngineSelfPlayResult {
  /** Games read from the files. */
  gamesRead: number;
}

/** The positions of `files` to label, each game's split drawn in file order. */
export async function positionsToLabel(files: string[], side: LabelledSide, seed: number, valFraction: number, plies?: readonly [number, number]): Promise<Pick<LabelSourceOptions, 'games' | 'splits' | 'positions'>> {
  const games: number[][] = [];
  const splits: Split[] = [];
  const positions: number[] = [];
  // the position before the first move is never labelled: the first move of a record is no target
  const [lo, hi] = plies ?? [1, Infinity];
  for await (const { where, squares, line } of readJsonlGames(files, side === 'model' ? ['modelColor'] : [], '--side model')) {
    const game = games.length;
    if (side === 'model' && line.modelColor !== 'black' && line.modelColor !== 'white') throw new UserError(`${where}: modelColor ${JSON.stringify(line.modelColor)} is not black or white`);
    const board = OthelloBoard.initial();
    squares.forEach((square, t) => {
      if (t >= lo && t <= hi && (side === 'both' || colorToMove(board) === line.modelColor)) positions.push(game, t);
      board.play(square);
    });
    games.push(squares);
    splits.push(new Rng(seed, game).nextFloat() < valFraction ? 'val' : 'train');
  }
  if (positions.length === 0) throw new UserError(`${files.join(', ')}: no position to label (${games.length} games read${plies ? `, plies ${plies.join('-')}` : ''})`);
  return { games, splits, positions: Int32Array.from(positions) };
}

/** Labelling as engine-selfplay.ts runs it, on any thread. */
export function selfPlaySource(options: LabelSourceOptions): SelfPlaySource<RhinoLevels> {
  const game = DATASET_GAMES.othello;
  const { games, splits, positions, level } = options;
  return {
    game,
    startEngine: () => RhinoLevels.start(options.enginePath),
    sourceOf: (slot) => `positions of ${options.files.join(', ')}${options.plies ? ` after ${options.plies.join('-')} moves` : ''} labelled by ${slot.first.name} ${slot.first.version} level ${level}`,
    engineName: (slot) => `${slot.first.name} ${slot.first.version}`,
    playGame: async (slot, index) => {
      const g = positions[2 * index];
      const prefix = games[g].slice(0, positions[2 * index + 1]);
      const engine = await slot.level(level);
      await engine.clearBoard();
      const board = OthelloBoard.initial();
      for (const square of prefix) {
        await engine.play(colorToMove(board), square);
        board.play(square);
      }
      const answer = await engine.legalMove(board, prefix);
      board.play(answer);
      if (board.isOver()) return { split: splits[g], record: null, plies: 0 };
      const record = new Uint8Array(game.recordLength);
      [...prefix, answer].forEach((square, i) => (record[i] = SQUARE_TO_TOKEN[square]));
      return { split: splits[g], record, plies: 1 };
    },
  };
}

export async function labelPositions(outDir: string, options: LabelPositionsOptions): Promise<LabelPositionsResult> {
  const found = await positionsToLabel(options.files, options.side, options.seed, options.valFraction, options.plies);
  const sourceOptions: LabelSourceOptions = { enginePath: options.enginePath ?? RHINO_PATH, level: options.level, files: options.files, ...(options.plies ? { plies: options.plies } : {}), ...found };
  const count = found.positions.length / 2;
  const run = { ...options, games: count, onProgress: (done: number) => options.onProgress?.(done, count) };
  const result = await generateEngineSelfPlay(outDir, run, selfPlaySource(sourceOptions), { url: import.meta.url, options: sourceOptions });
  return { ...result, gamesRead: found.games.length };
}
