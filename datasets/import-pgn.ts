/**
 * `gamba dataset import-pgn`: PGN files (any size, streamed; `.gz` decompressed; `/dev/stdin` reads a pipe) into a
 * chess dataset. Each standard game from the initial position becomes one record (games/chess/
 * game-string.ts: its string in a 1024-character block, space padded, cut after the last whole move
 * that fits); every other game is skipped and counted under its reason (games/chess/standard-game.ts).
 * Games go to train or val in file order, by draws from `new Rng(seed)`.
 */
import { writeGameRecord } from '../games/chess/game-string.js';
import { readPgnGames } from '../games/chess/pgn.js';
import { SKIP_REASONS, standardGameOf, type SkipReason } from '../games/chess/standard-game.js';
import { CHESS_BLOCK_LENGTH } from '../games/chess/vocabulary.js';
import { DATASET_GAMES, recordShape } from './games.js';
import { UserError } from '../src/util/errors.js';
import type { DatasetManifest } from './format.js';
import { checkInputFiles, openText } from './input-files.js';
import { DatasetWriter, SplitAppender, buildDatasetDirectory } from './writer.js';

export interface ImportPgnOptions {
  files: string[];
  seed: number;
  valFraction: number;
  shardGames: number;
  force: boolean;
  /** Called every few hundred games with the number of games read so far. */
  onProgress?: (gamesRead: number) => void;
}

export interface ImportPgnSummary {
  imported: number;
  skipped: number;
  reasons: Record<SkipReason, number>;
  /** Imported games cut to fit the block (their first moves kept). */
  truncated: number;
  train: number;
  val: number;
  /** The first skipped game of each reason: where it is and what was wrong. */
  examples: Partial<Record<SkipReason, string>>;
}

export async function importPgnDataset(outDir: string, options: ImportPgnOptions): Promise<{ manifest: DatasetManifest; summary: ImportPgnSummary }> {
  checkInputFiles(options.files, 'PGN file');
  return buildDatasetDirectory(outDir, options.force, async (tmpDir) => {
    const writer = new DatasetWriter(tmpDir, {
      ...recordShape(DATASET_GAMES.chess),
      source: 'pgn',
      seed: options.seed,
      valFraction: options.valFraction,
      chunkGames: 1,
      shardGames: options.shardGames,
    });
    const reasons = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
    const examples: Partial<Record<SkipReason, string>> = {};
    const games = new SplitAppender(writer, CHESS_BLOCK_LENGTH, DATASET_GAMES.chess.padToken, options.seed, options.valFraction);
    let read = 0;
    let imported = 0;
    let truncated = 0;
    for (const file of options.files) {
      for await (const game of readPgnGames(openText(file))) {
        read++;
        if (read % 500 === 0) options.onProgress?.(read);
        const standard = standardGameOf(game);
        if (!standard.ok) {
          reasons[standard.reason]++;
          examples[standard.reason] ??= `${file}:${game.line}: ${standard.detail}`;
          continue;
        }
        const kept = games.add((records, offset) => writeGameRecord(standard.sans, records, offset));
        if (kept < standard.sans.length) truncated++;
        imported++;
      }
    }
    options.onProgress?.(read);
    const skipped = read - imported;
    if (imported === 0) {
      const why = Object.entries(reasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
      throw new UserError(`${options.files.join(', ')}: no standard chess game to import (${read} games read${why ? `; skipped: ${why}` : ''})`);
    }
    const manifest = games.finish();
    return { manifest, summary: { imported, skipped, reasons, truncated, train: manifest.counts.train, val: manifest.counts.val, examples } };
  });
}
