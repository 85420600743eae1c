/**
 * One chunk of a synthetic dataset, the unit of parallel generation. Game stream and split are fixed by
 * (seed, chunk index) alone: chunk c draws its games from `new Rng(seed, 2c)` and its train/val choices
 * from `new Rng(seed, 2c + 1)`, so the same seed gives the same games and the same split whatever the
 * number of workers, and a larger dataset of the same seed starts with the smaller one's games.
 */
import { Rng } from '../src/util/rng.js';
import type { DatasetGame } from './games.js';

/** Games per chunk. Part of the seed -> games mapping: changing it changes every dataset. */
export const CHUNK_GAMES = 4096;

export interface ChunkRequest {
  game: string;
  seed: number;
  chunkIndex: number;
  /** Games in this chunk: CHUNK_GAMES except for the last chunk. */
  games: number;
  valFraction: number;
}

export interface ChunkResult {
  chunkIndex: number;
  /** Train games of the chunk, in game order: (trainGames, recordLength). */
  train: Uint8Array;
  /** Val games of the chunk, in game order: (valGames, recordLength). */
  val: Uint8Array;
}

export function generateChunk(game: DatasetGame, request: ChunkRequest): ChunkResult {
  const { seed, chunkIndex, games, valFraction } = request;
  const L = game.recordLength;
  const gameRng = new Rng(seed, 2 * chunkIndex);
  const splitRng = new Rng(seed, 2 * chunkIndex + 1);
  const records = new Uint8Array(games * L);
  const isVal = new Uint8Array(games);
  let valGames = 0;
  for (let i = 0; i < games; i++) {
    game.writeRandomGame(gameRng, records, i * L);
    isVal[i] = splitRng.nextFloat() < valFraction ? 1 : 0;
    valGames += isVal[i];
  }
  if (valGames === 0) return { chunkIndex, train: records, val: new Uint8Array(0) };
  const train = new Uint8Array((games - valGames) * L);
  const val = new Uint8Array(valGames * L);
  let t = 0;
  let v = 0;
  for (let i = 0; i < games; i++) {
    const record = records.subarray(i * L, (i + 1) * L);
    if (isVal[i]) val.set(record, v++ * L);
    else train.set(record, t++ * L);
  }
  return { chunkIndex, train, val };
}
