/**
 * The games a dataset can hold, and what the dataset code needs from each: the record shape, a
 * synthetic game writer (for `gamba generate`) and a way to spell a record's moves (for export).
 */
import type { Rng } from '../src/util/rng.js';
import { MAX_MOVES, PAD_TOKEN, VOCAB_SIZE, squareName, squareOfToken } from '../games/othello/notation.js';
import { writeRandomGame } from '../games/othello/synthetic.js';

export interface DatasetGame {
  name: string;
  vocabSize: number;
  recordLength: number;
  padToken: number;
  /** How `writeRandomGame` picks moves, recorded in the manifest as `source`. */
  syntheticSource: string;
  /** Writes one synthetic game at out[offset..offset+recordLength), padded; returns its move count. */
  writeRandomGame(rng: Rng, out: Uint8Array, offset: number): number;
  /** The moves of one record in the game's usual notation. */
  moveNames(record: Uint8Array): string[];
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
};

export const DATASET_GAMES: Record<string, DatasetGame> = { othello };

/** Names accepted by `gamba generate <game>`. */
export const GENERATABLE_GAMES = ['othello'] as const;
