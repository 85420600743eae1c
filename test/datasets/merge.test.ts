/**
 * `gamba dataset merge` (datasets/merge.ts): the games of several datasets, split by split in the order
 * given, in one checked dataset; datasets of another record format, a corrupt shard, a single input or an
 * existing output are refused with the file named and nothing written.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeDatasets } from '../../datasets/merge.js';
import { openDataset, readManifest } from '../../datasets/reader.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { syntheticRecords, tempDir, writeChessDataset, writeSyntheticDataset } from './synthetic-records.js';

const root = tempDir('merge');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dataset(name: string, trainGames: number, valGames: number, seed: number, shardGames: number) {
  const dir = join(root, name);
  mkdirSync(dir);
  const train = syntheticRecords(trainGames, seed);
  const val = syntheticRecords(valGames, seed + 1000);
  writeSyntheticDataset(dir, train, val, shardGames);
  return { dir, train, val };
}

const a = dataset('a', 23, 4, 1, 10);
const b = dataset('b', 11, 0, 2, 100);
const c = dataset('c', 5, 3, 3, 2);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('dataset merge', () => {
  it('holds every train game and every held-out game of the inputs, in the order given, in checked shards', async () => {
    const out = join(root, 'abc');
    const manifest = await mergeDatasets([a.dir, b.dir, c.dir], out, false);
    expect(manifest.counts).toEqual({ train: 39, val: 7 });
    expect(manifest.valFraction).toBeCloseTo(7 / 46, 12);
    expect(manifest.source).toBe(`merge of ${a.dir} (test, seed 0, 27 games); ${b.dir} (test, seed 0, 11 games); ${c.dir} (test, seed 0, 8 games)`);
    const merged = openDataset(out);
    expect(merged.readGames('train', 0, 39)).toEqual(concat(a.train, b.train, c.train));
    expect(merged.readGames('val', 0, 7)).toEqual(concat(a.val, c.val));
    merged.close();
    // The widest input's shard size: 39 train games in one shard.
    expect(manifest.shards.map((s) => s.file)).toEqual(['train-00000.bin', 'val-00000.bin']);
  });

  it('is a command: gamba dataset merge DIRS --out DIR', () => {
    requireBuiltCli();
    const out = join(root, 'cli');
    const run = gamba('dataset', 'merge', a.dir, c.dir, '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).counts).toEqual({ train: 28, val: 7 });
    expect(readManifest(out).counts).toEqual({ train: 28, val: 7 });
    const again = gamba('dataset', 'merge', a.dir, c.dir, '--out', out);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already exists \(use --force/);
  });

  it('refuses datasets of another record format, naming the file, and writes nothing', async () => {
    const other = join(root, 'other');
    writeChessDataset(other);
    const out = join(root, 'refused');
    await expect(mergeDatasets([a.dir, other], out, false)).rejects.toThrow(`${other}: game is "chess", but ${a.dir} has "othello"`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('refuses a corrupt input shard and a single input', async () => {
    const broken = dataset('broken', 6, 1, 9, 10);
    writeFileSync(join(broken.dir, 'train-00000.bin'), Buffer.from('GAMBASHD'));
    await expect(mergeDatasets([a.dir, broken.dir], join(root, 'x'), false)).rejects.toThrow(join(broken.dir, 'train-00000.bin'));
    await expect(mergeDatasets([a.dir], join(root, 'y'), false)).rejects.toThrow('name at least two dataset directories');
    expect(existsSync(join(root, 'x')) || existsSync(join(root, 'y'))).toBe(false);
  });
});
