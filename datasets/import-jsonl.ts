/**
 * `gamba dataset import-jsonl`: Othello games, one JSON object a line with the moves in order
 * (`{"moves":["f5","d6",...]}`, as `dataset export` and `gamba play`'s games.jsonl write them), into an
 * Othello dataset. Every game is replayed, passes implied as in the records; a move that is not a
 * square or not legal there stops the import with the file and line. With `modelWins`, only the games
 * of `gamba play` that the model won on the board are kept: its own wins, to learn from with
 * `train --winner-moves`. Games go to train or val in file order, by draws from `new Rng(seed)`.
 */
import { SQUARE_TO_TOKEN } from '../games/othello/notation.js';
import { UserError } from '../src/util/errors.js';
import type { DatasetManifest } from './format.js';
import { DATASET_GAMES, recordShape } from './games.js';
import { readJsonlGames, type GameLine } from './jsonl-games.js';
import { DatasetWriter, SplitAppender, buildDatasetDirectory } from './writer.js';

export interface ImportJsonlOptions {
  files: string[];
  seed: number;
  valFraction: number;
  shardGames: number;
  force: boolean;
  /** Keep only the finished games that the model won (lines from `gamba play`). */
  modelWins: boolean;
}

export interface ImportJsonlSummary {
  read: number;
  imported: number;
  /** With modelWins: the games the model lost, drew, forfeited or resigned. */
  skipped: number;
  train: number;
  val: number;
}

export async function importJsonlDataset(outDir: string, options: ImportJsonlOptions): Promise<{ manifest: DatasetManifest; summary: ImportJsonlSummary }> {
  return buildDatasetDirectory(outDir, options.force, async (tmpDir) => {
    const othello = DATASET_GAMES.othello;
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(othello),
      source: options.modelWins ? 'jsonl, the model\'s wins' : 'jsonl',
      seed: options.seed,
      valFraction: options.valFraction,
      chunkGames: 1,
      shardGames: options.shardGames,
    });
    const games = new SplitAppender(writer, othello.recordLength, othello.padToken, options.seed, options.valFraction);
    let read = 0;
    let imported = 0;
    // every line is checked, the games left out too: a bad file is refused whatever it holds
    for await (const { line, squares } of readJsonlGames(options.files, options.modelWins ? ['modelColor', 'result', 'termination'] : [], '--model-wins')) {
      read++;
      if (options.modelWins && !wonByModel(line)) continue;
      games.add((records, offset) => squares.forEach((sq, i) => (records[offset + i] = SQUARE_TO_TOKEN[sq])));
      imported++;
    }
    if (imported === 0) {
      throw new UserError(`${options.files.join(', ')}: no game to import (${read} read${options.modelWins ? ', none a finished game the model won' : ''})`);
    }
    const manifest = games.finish();
    return { manifest, summary: { read, imported, skipped: read - imported, train: manifest.counts.train, val: manifest.counts.val } };
  });
}

const wonByModel = (game: GameLine): boolean => game.termination === 'finished' && game.result === game.modelColor;
