import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchStream, lengthBuckets, maskedInputsTargets, neededLength, type Batch } from '../../datasets/batches.js';
import { openDataset } from '../../datasets/reader.js';
import { RECORD_LENGTH, syntheticRecords, tempDir, writeSyntheticDataset } from './synthetic-records.js';

const GAMES = 50;
const train = syntheticRecords(GAMES, 7);
const dir = tempDir('batches');
writeSyntheticDataset(dir, train, syntheticRecords(3, 8), 16);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Index of the training game whose first L tokens are `inputs` row b (records are distinct by their first tokens). */
function gameOfRow(batch: Batch, b: number): number {
  const row = batch.inputs.subarray(b * batch.length, (b + 1) * batch.length);
  for (let g = 0; g < GAMES; g++) {
    const record = train.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH);
    if (row.every((x, t) => x === record[t])) return g;
  }
  throw new Error(`batch row ${b} is no training game`);
}

describe('BatchStream', () => {
  it('makes (B, 59) inputs = tokens 0..58 and targets = tokens 1..59 with padding as -1', () => {
    const stream = new BatchStream(openDataset(dir), 'train', 8, 1);
    const batch = stream.next();
    expect(batch.batch).toBe(8);
    expect(batch.length).toBe(RECORD_LENGTH - 1);
    expect(batch.inputs).toHaveLength(8 * 59);
    expect(batch.targets).toHaveLength(8 * 59);
    let padded = 0;
    for (let b = 0; b < 8; b++) {
      const record = train.subarray(gameOfRow(batch, b) * RECORD_LENGTH);
      for (let t = 0; t < 59; t++) {
        const target = batch.targets[b * 59 + t];
        if (record[t + 1] === 0) {
          expect(target).toBe(-1);
          padded++;
        } else expect(target).toBe(record[t + 1]);
      }
    }
    expect(padded).toBeGreaterThan(0);
  });

  it('visits every game once per epoch, in a different order each epoch and each seed', () => {
    const orderOf = (seed: number, batches: number, size: number): number[] => {
      const stream = new BatchStream(openDataset(dir), 'train', size, seed);
      const order: number[] = [];
      for (let i = 0; i < batches; i++) {
        const batch = stream.next();
        for (let b = 0; b < size; b++) order.push(gameOfRow(batch, b));
      }
      return order;
    };
    const twoEpochs = orderOf(3, 10, 10);
    const first = twoEpochs.slice(0, GAMES);
    const second = twoEpochs.slice(GAMES);
    expect([...first].sort((a, b) => a - b)).toEqual([...Array(GAMES).keys()]);
    expect([...second].sort((a, b) => a - b)).toEqual([...Array(GAMES).keys()]);
    expect(second).not.toEqual(first);
    expect(orderOf(4, 5, 10)).not.toEqual(first);
    expect(orderOf(3, 5, 10)).toEqual(first);
  });

  it('resumes from a JSON position on exactly the same batches, across epoch boundaries', () => {
    const reference = new BatchStream(openDataset(dir), 'train', 7, 11);
    const batches = Array.from({ length: 20 }, () => reference.next());
    for (const resumeAt of [0, 3, 7, 8, 15]) {
      const stream = new BatchStream(openDataset(dir), 'train', 7, 11);
      for (let i = 0; i < resumeAt; i++) stream.next();
      const saved = JSON.parse(JSON.stringify(stream.getPosition()));
      const resumed = new BatchStream(openDataset(dir), 'train', 7, 999);
      resumed.setPosition(saved);
      for (let i = resumeAt; i < 20; i++) {
        const batch = resumed.next();
        expect(batch.inputs).toEqual(batches[i].inputs);
        expect(batch.targets).toEqual(batches[i].targets);
      }
    }
  });

  it('refuses an invalid position and an empty split', () => {
    const stream = new BatchStream(openDataset(dir), 'train', 4, 1);
    expect(() => stream.setPosition({ epoch: 0, cursor: GAMES + 1, rngState: [1, 2, 3, 4] })).toThrow(/invalid batch position/);
    expect(() => stream.setPosition({ epoch: 0, cursor: 0, rngState: [1, 2, 3] as never })).toThrow(/invalid batch position/);
    const empty = tempDir('batches-empty');
    writeSyntheticDataset(empty, syntheticRecords(2, 1), new Uint8Array(0), 16);
    expect(() => new BatchStream(openDataset(empty), 'val', 4, 1)).toThrow(/val split has no games/);
    rmSync(empty, { recursive: true, force: true });
  });
});

describe('BatchStream with length buckets', () => {
  const BUCKETS = lengthBuckets(3, RECORD_LENGTH, 4);
  const needed = (g: number) => neededLength(train.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH), 0);

  it('spaces the classes evenly up to the full row, each with the tokens of the full batch', () => {
    expect(BUCKETS).toEqual([{ length: 19, rows: 12 }, { length: 39, rows: 6 }, { length: 59, rows: 4 }]);
    // chess: 1,024-token records, 64 games a step, eight classes
    expect(lengthBuckets(8, 1024, 64)).toEqual([127, 255, 383, 511, 639, 767, 895, 1023].map((length, i) => ({ length, rows: [512, 256, 170, 128, 102, 85, 73, 64][i] })));
    expect(() => lengthBuckets(0, 60, 4)).toThrow('--length-buckets must be a positive integer, got 0');
    expect(() => lengthBuckets(60, 60, 4)).toThrow('--length-buckets 60: records of 60 tokens have at most 59 lengths');
  });

  it('cuts each batch to its class, holds only games that fit it, fills its last batch with empty rows, and visits every game once an epoch', () => {
    const stream = new BatchStream(openDataset(dir), 'train', 4, 3, null, 3);
    const seen: number[] = [];
    let filled = 0;
    while (seen.length < 2 * GAMES) {
      const batch = stream.next();
      const bucket = BUCKETS.find((b) => b.length === batch.length)!;
      expect(bucket).toBeDefined();
      expect(batch.batch).toBe(bucket.rows);
      expect(batch.inputs).toHaveLength(bucket.rows * bucket.length);
      const L = batch.length;
      for (let b = 0; b < batch.games; b++) {
        const row = batch.inputs.subarray(b * L, (b + 1) * L);
        const g = train.findIndex((_, i) => i % RECORD_LENGTH === 0 && row.every((x, t) => x === train[i + t])) / RECORD_LENGTH;
        expect(g).toBeGreaterThanOrEqual(0);
        seen.push(g);
        // in this class, not in a shorter one
        expect(needed(g)).toBeLessThanOrEqual(L);
        expect(BUCKETS.findIndex((x) => x.length >= needed(g))).toBe(BUCKETS.indexOf(bucket));
        // the same targets as the full-length row, cut
        const full = { inputs: new Int32Array(RECORD_LENGTH - 1), targets: new Int32Array(RECORD_LENGTH - 1) };
        maskedInputsTargets(train.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH), 0, 'token', null, full.inputs, full.targets, 0);
        expect(Array.from(batch.targets.subarray(b * L, (b + 1) * L))).toEqual(Array.from(full.targets.subarray(0, L)));
        expect(full.targets.subarray(L).every((t) => t === -1)).toBe(true);
      }
      for (let b = batch.games; b < batch.batch; b++) {
        filled++;
        expect(batch.targets.subarray(b * L, (b + 1) * L).every((t) => t === -1)).toBe(true);
      }
    }
    expect(seen).toHaveLength(2 * GAMES);
    expect([...seen.slice(0, GAMES)].sort((a, b) => a - b)).toEqual([...Array(GAMES).keys()]);
    expect([...seen.slice(GAMES)].sort((a, b) => a - b)).toEqual([...Array(GAMES).keys()]);
    expect(seen.slice(GAMES)).not.toEqual(seen.slice(0, GAMES));
    expect(filled).toBeGreaterThan(0);
  });

  it('starts every epoch with a full batch of the most tokens, so a GPU pool sizes its buffers for it first', () => {
    const stream = new BatchStream(openDataset(dir), 'train', 4, 5, null, 3);
    const most = Math.max(...BUCKETS.map((b) => b.rows * b.length));
    for (let epoch = 0; epoch < 3; epoch++) {
      const first = stream.next();
      expect([first.batch * first.length, first.games]).toEqual([most, first.batch]);
      let games = first.games;
      while (games < GAMES) games += stream.next().games;
      expect(games).toBe(GAMES);
    }
  });

  it('resumes from a JSON position on exactly the same batches, and refuses a position inside a batch', () => {
    const reference = new BatchStream(openDataset(dir), 'train', 4, 11, null, 3);
    const batches = Array.from({ length: 40 }, () => reference.next());
    for (const resumeAt of [0, 5, 13, 27]) {
      const stream = new BatchStream(openDataset(dir), 'train', 4, 11, null, 3);
      for (let i = 0; i < resumeAt; i++) stream.next();
      const resumed = new BatchStream(openDataset(dir), 'train', 4, 999, null, 3);
      resumed.setPosition(JSON.parse(JSON.stringify(stream.getPosition())));
      for (let i = resumeAt; i < 40; i++) {
        const batch = resumed.next();
        expect(batch.inputs).toEqual(batches[i].inputs);
        expect(batch.targets).toEqual(batches[i].targets);
        expect(batch.games).toBe(batches[i].games);
      }
    }
    const stream = new BatchStream(openDataset(dir), 'train', 4, 11, null, 3);
    const first = stream.next();
    const inside = { ...stream.getPosition(), cursor: first.games - 1 };
    expect(() => stream.setPosition(inside)).toThrow(`game ${first.games - 1} does not start a batch of this epoch's length buckets`);
  });
});

describe('maskedInputsTargets', () => {
  it('drops the targets whose move the mask marks (target t is move t + 1) and counts the rest', () => {
    const record = Uint8Array.from([5, 6, 7, 8, 0, 0]);
    const inputs = new Int32Array(5);
    const targets = new Int32Array(5);
    // moves 1 and 3 marked; move 0 is never a target
    const counted = maskedInputsTargets(record, 0, 'token', () => Uint8Array.from([1, 1, 0, 1, 0, 0]), inputs, targets, 0);
    expect(Array.from(targets)).toEqual([-1, 7, -1, -1, -1]);
    expect(counted).toBe(1);
    expect(Array.from(inputs)).toEqual([5, 6, 7, 8, 0]);
    expect(maskedInputsTargets(record, 0, 'token', () => null, inputs, targets, 0)).toBe(3);
    expect(Array.from(targets)).toEqual([6, 7, 8, -1, -1]);
  });
});
