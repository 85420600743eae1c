import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARD_HEADER_BYTES, decodeShardHeader } from '../../datasets/format.js';
import { openDataset } from '../../datasets/reader.js';
import { RECORD_LENGTH, syntheticRecords, tempDir, writeSyntheticDataset } from './synthetic-records.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('dataset round trip (writer -> reader)', () => {
  const train = syntheticRecords(103, 1);
  const val = syntheticRecords(17, 2);
  const dir = tempDir('roundtrip');
  dirs.push(dir);
  // 10 games per shard and appends of 7: appends straddle shard boundaries.
  const manifest = writeSyntheticDataset(dir, train, val, 10, 7);

  it('cuts shards at the bound and counts every game', () => {
    expect(manifest.counts).toEqual({ train: 103, val: 17 });
    expect(manifest.shards.filter((s) => s.split === 'train').map((s) => s.games)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(manifest.shards.filter((s) => s.split === 'val').map((s) => s.games)).toEqual([10, 7]);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', ...manifest.shards.map((s) => s.file)].sort());
  });

  it('stores each shard as header + raw records with the checksum of the records', () => {
    let trainOffset = 0;
    for (const shard of manifest.shards.filter((s) => s.split === 'train')) {
      const bytes = readFileSync(join(dir, shard.file));
      expect(bytes.length).toBe(shard.bytes);
      const header = decodeShardHeader(bytes.subarray(0, SHARD_HEADER_BYTES), shard.file);
      expect(header).toMatchObject({ version: 1, recordLength: RECORD_LENGTH, vocabSize: 61, tokenBytes: 1, games: shard.games });
      const records = bytes.subarray(SHARD_HEADER_BYTES);
      expect(Buffer.compare(records, Buffer.from(train.subarray(trainOffset, trainOffset + records.length)))).toBe(0);
      expect(createHash('sha256').update(records).digest('hex')).toBe(shard.sha256);
      expect(header.sha256).toBe(shard.sha256);
      trainOffset += records.length;
    }
    expect(trainOffset).toBe(train.length);
  });

  it('reads back every range byte for byte, across shard boundaries', () => {
    const dataset = openDataset(dir);
    expect(dataset.count('train')).toBe(103);
    expect(dataset.count('val')).toBe(17);
    for (const [start, count] of [[0, 103], [0, 1], [9, 2], [15, 30], [99, 4], [102, 1], [40, 0]]) {
      const got = dataset.readGames('train', start, count);
      expect(Buffer.compare(Buffer.from(got), Buffer.from(train.subarray(start * RECORD_LENGTH, (start + count) * RECORD_LENGTH)))).toBe(0);
    }
    expect(Buffer.from(dataset.readGames('val', 0, 17)).equals(Buffer.from(val))).toBe(true);
    expect(() => dataset.readGames('train', 100, 4)).toThrow(/out of range/);
    dataset.close();
  });

  it('iterates a split in order, one record at a time', () => {
    const dataset = openDataset(dir);
    const records = [...dataset.iterateGames('train')];
    expect(records).toHaveLength(103);
    expect(records.every((r) => r.length === RECORD_LENGTH)).toBe(true);
    expect(Buffer.concat(records.map((r) => Buffer.from(r))).equals(Buffer.from(train))).toBe(true);
    dataset.close();
  });

  it('handles a split with no games', () => {
    const empty = tempDir('empty-split');
    dirs.push(empty);
    const m = writeSyntheticDataset(empty, syntheticRecords(4, 3), new Uint8Array(0), 10);
    expect(m.counts).toEqual({ train: 4, val: 0 });
    expect(m.shards).toHaveLength(1);
    const dataset = openDataset(empty);
    expect(dataset.readGames('val', 0, 0)).toHaveLength(0);
    expect([...dataset.iterateGames('val')]).toHaveLength(0);
  });
});
