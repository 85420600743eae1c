import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { squareOfToken } from '../../games/othello/notation.js';
import { DATASET_GAMES } from '../../datasets/games.js';
import { generateDataset, type GenerateOptions } from '../../datasets/generate.js';
import { openDataset } from '../../datasets/reader.js';
import { tempDir } from './synthetic-records.js';

const root = tempDir('generate');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const options = (games: number, seed: number, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
  game: DATASET_GAMES.othello,
  games,
  seed,
  valFraction: 0.1,
  workers: 1,
  shardGames: 1_000_000,
  force: false,
  ...extra,
});

/** File name -> SHA-256 of its bytes, for every file in `dir` (a cheap byte-for-byte comparison). */
function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

describe('synthetic Othello generation', () => {
  it('is a pure function of seed and game count (split included)', async () => {
    await generateDataset(join(root, 'a'), options(9000, 5));
    await generateDataset(join(root, 'b'), options(9000, 5));
    await generateDataset(join(root, 'c'), options(9000, 6));
    const a = filesOf(join(root, 'a'));
    expect(filesOf(join(root, 'b'))).toEqual(a);
    const c = filesOf(join(root, 'c'));
    expect(c['train-00000.bin']).not.toBe(a['train-00000.bin']);
    const manifest = JSON.parse(readFileSync(join(root, 'a', 'manifest.json'), 'utf8'));
    expect(manifest.counts.train + manifest.counts.val).toBe(9000);
    // val is a 10% random share: binomial(9000, 0.1) has sd 28.5.
    expect(Math.abs(manifest.counts.val - 900)).toBeLessThan(150);
  });

  it('starts a larger dataset of the same seed with the smaller one, split for split', async () => {
    await generateDataset(join(root, 'small'), options(5000, 5));
    const small = openDataset(join(root, 'small'));
    const large = openDataset(join(root, 'a'));
    for (const split of ['train', 'val'] as const) {
      const n = small.count(split);
      expect(Buffer.from(large.readGames(split, 0, n)).equals(Buffer.from(small.readGames(split, 0, n)))).toBe(true);
    }
  });

  it('writes complete legal games, moves uniform over the legal moves', async () => {
    await generateDataset(join(root, 'legal'), options(4000, 9, { shardGames: 1500 }));
    const dataset = openDataset(join(root, 'legal'));
    expect(dataset.manifest.shards.length).toBeGreaterThan(2);
    const firstMoves = new Map<number, number>();
    for (const split of ['train', 'val'] as const) {
      for (const record of dataset.iterateGames(split)) {
        const board = OthelloBoard.initial();
        let t = 0;
        for (; t < record.length && record[t] !== 0; t++) board.play(squareOfToken(record[t]));
        expect(board.isOver()).toBe(true);
        for (; t < record.length; t++) expect(record[t]).toBe(0);
        firstMoves.set(record[0], (firstMoves.get(record[0]) ?? 0) + 1);
      }
    }
    // Four legal first moves, each ~1000 of 4000 (sd ~27): a biased picker would be far off.
    expect(firstMoves.size).toBe(4);
    for (const count of firstMoves.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  it('refuses to overwrite without force and replaces with force', async () => {
    const dir = join(root, 'a');
    await expect(generateDataset(dir, options(100, 1))).rejects.toThrow(/already exists \(use --force/);
    await generateDataset(dir, options(100, 1, { force: true }));
    expect(openDataset(dir).count('train') + openDataset(dir).count('val')).toBe(100);
    expect(readdirSync(root).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });

  it('made the checked-in samples with the command in datasets/README.md', async () => {
    const readme = readFileSync('datasets/README.md', 'utf8');
    expect(readme).toContain('npx gamba generate othello --games 20000 --val-fraction 0.05 --seed 1 --out datasets/samples/othello');
    await generateDataset(join(root, 'samples'), options(20000, 1, { valFraction: 0.05 }));
    expect(filesOf(join(root, 'samples'))).toEqual(filesOf('datasets/samples/othello'));
  });
});
