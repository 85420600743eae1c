/**
 * Test data for the format code: records of random in-vocabulary tokens with random-length 0 padding,
 * each made distinct by its first tokens, written through DatasetWriter into a fresh temp directory.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/util/rng.js';
import { DatasetWriter } from '../../datasets/writer.js';
import type { DatasetManifest } from '../../datasets/format.js';

export const RECORD_LENGTH = 60;
export const VOCAB = 61;

/** n records of RECORD_LENGTH tokens: record i starts with tokens encoding i (so all differ), then random moves, then padding. */
export function syntheticRecords(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n * RECORD_LENGTH);
  for (let i = 0; i < n; i++) {
    const row = i * RECORD_LENGTH;
    const moves = 3 + rng.nextInt(RECORD_LENGTH - 2); // 3..60
    out[row] = 1 + (i % 60);
    out[row + 1] = 1 + (Math.floor(i / 60) % 60);
    out[row + 2] = 1 + (Math.floor(i / 3600) % 60);
    for (let t = 3; t < moves; t++) out[row + t] = 1 + rng.nextInt(VOCAB - 1);
  }
  return out;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gamba-test-${prefix}-`));
}

/** Writes train/val records into `dir` (which must exist), in appends of `appendGames` games. */
export function writeSyntheticDataset(
  dir: string,
  train: Uint8Array,
  val: Uint8Array,
  shardGames: number,
  appendGames = 5,
): DatasetManifest {
  const writer = new DatasetWriter(dir, {
    game: 'othello',
    vocabSize: VOCAB,
    recordLength: RECORD_LENGTH,
    padToken: 0,
    source: 'test',
    seed: 0,
    valFraction: 0,
    chunkGames: appendGames,
    shardGames,
  });
  for (const [split, records] of [['train', train], ['val', val]] as const) {
    for (let g = 0; g * RECORD_LENGTH < records.length; g += appendGames) {
      writer.append(split, records.subarray(g * RECORD_LENGTH, Math.min(records.length, (g + appendGames) * RECORD_LENGTH)));
    }
  }
  return writer.finish();
}

/** A one-game dataset of another game (chess) in the same record length, in a new directory `dir`. */
export function writeChessDataset(dir: string): void {
  mkdirSync(dir);
  const writer = new DatasetWriter(dir, {
    game: 'chess', vocabSize: 32, recordLength: RECORD_LENGTH, padToken: 0, source: 'test', seed: 0, valFraction: 0, chunkGames: 1, shardGames: 10,
  });
  writer.append('train', new Uint8Array(RECORD_LENGTH).fill(1));
  writer.finish();
}
