/**
 * The games a dataset can hold, and what the dataset code needs from each: the record shape, a
 * synthetic game writer (for `gamba generate`) and a way to spell a record's moves (for export).
 */
import type { Rng } from '../src/util/rng.js';
import { gameStringOfRecord, movesOfGameString, writeGameRecord } from '../games/chess/game-string.js';
import { randomChessGame } from '../games/chess/random-game.js';
import { CHESS_BLOCK_LENGTH, CHESS_VOCAB_SIZE, SPACE_TOKEN } from '../games/chess/vocabulary.js';
import { MAX_MOVES, PAD_TOKEN, VOCAB_SIZE, squareName, squareOfToken } from '../games/othello/notation.js';
import { labelledPositionPrefix, loserMoves } from '../games/othello/labels.js';
import { writeRandomGame } from '../games/othello/synthetic.js';
import type { PadMode } from './format.js';

export interface DatasetGame {
  name: string;
  vocabSize: number;
  recordLength: number;
  padToken: number;
  /** Which pad tokens are padding (see DatasetManifest.padMode); absent means 'token'. */
  padMode?: PadMode;
  /** How `writeRandomGame` picks moves, recorded in the manifest as `source`. */
  syntheticSource: string;
  /** Writes one synthetic game at out[offset..offset+recordLength), padded; returns its move count. */
  writeRandomGame(rng: Rng, out: Uint8Array, offset: number): number;
  /** The moves of one record in the game's usual notation. */
  moveNames(record: Uint8Array): string[];
  /** One record as one line of text (`dataset export --format text`). */
  gameText(record: Uint8Array): string;
  /**
   * 1 at the record positions of the moves the losing side made, null for a draw (`train
   * --winner-moves`); absent where a record does not say who won.
   */
  loserMoves?(record: Uint8Array): Uint8Array | null;
  /**
   * 1 at the moves before the last of a record that stops before the game is over (a labelled
   * position: only the engine's answer at its end is learned, `train --labelled-positions`), null for
   * a whole game; absent where records are always whole games.
   */
  labelledPositionPrefix?(record: Uint8Array): Uint8Array | null;
  /**
   * Whether record position t is the move played after t moves (passes silent), so that `train
   * --plies` can pick moves by their place in the game; absent where a move spans several tokens.
   */
  tokenPerMove?: boolean;
}

const othello: DatasetGame = {
  name: 'othello',
  vocabSize: VOCAB_SIZE,
  recordLength: MAX_MOVES,
  padToken: PAD_TOKEN,
  syntheticSource: 'uniform-random',
  writeRandomGame,
  moveNames(record) {
    const moves: string[] = [];
    for (const token of record) {
      if (token === PAD_TOKEN) break;
      moves.push(squareName(squareOfToken(token)));
    }
    return moves;
  },
  gameText(record) {
    return this.moveNames(record).join(' ');
  },
  loserMoves,
  labelledPositionPrefix,
  tokenPerMove: true,
};

/** Chess: one game per 1024-character block in the anchors' string format (games/chess/game-string.ts). */
const chess: DatasetGame = {
  name: 'chess',
  vocabSize: CHESS_VOCAB_SIZE,
  recordLength: CHESS_BLOCK_LENGTH,
  padToken: SPACE_TOKEN,
  padMode: 'trailing',
  syntheticSource: 'uniform-random',
  writeRandomGame(rng, out, offset) {
    return writeGameRecord(randomChessGame(rng, CHESS_BLOCK_LENGTH), out, offset, CHESS_BLOCK_LENGTH);
  },
  moveNames(record) {
    return movesOfGameString(gameStringOfRecord(record));
  },
  gameText(record) {
    return gameStringOfRecord(record);
  },
};

export const DATASET_GAMES: Record<string, DatasetGame> = { othello, chess };

/** Names accepted by `gamba generate <game>`. */
export const GENERATABLE_GAMES = ['othello', 'chess'] as const;

/** The record fields of a dataset description for `game`, as DatasetWriter takes them. */
export function recordShape(game: DatasetGame): { game: string; vocabSize: number; recordLength: number; padToken: number; padMode?: PadMode } {
  return {
    game: game.name,
    vocabSize: game.vocabSize,
    recordLength: game.recordLength,
    padToken: game.padToken,
    // Written only when it differs from the default, so Othello manifests stay as they were.
    ...(game.padMode === 'trailing' ? { padMode: game.padMode } : {}),
  };
}
