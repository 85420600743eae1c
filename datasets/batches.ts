/**
 * Training batches for next-token prediction. Each epoch visits every game of a split once, in an order
 * shuffled from the stream's seed; a batch is `batchSize` games (a batch that runs past the end of an
 * epoch is completed from the next epoch's order). For a record of L tokens the model reads tokens
 * 0..L-2 and predicts tokens 1..L-1; padded targets become -1, which the loss ignores. Padding is every
 * pad token, or with the manifest's `padMode: "trailing"` (chess) only the pad run at a record's end.
 *
 * With length buckets (train --length-buckets N) a batch is instead games of one length class, cut to
 * that class's length: N lengths evenly spaced up to the record's, and as many games as make about the
 * same tokens as `batchSize` full records (a class of half the length takes twice the games). Each
 * epoch's shuffled order is grouped by class and cut into batches, whose order is shuffled in turn; the
 * last batch of a class is filled out with empty rows (no targets), so every step of a class has the same
 * shape. Chess games fill 56% of their 1,024-character records; eight classes bring that to about 91%.
 * A row cut after its game's last move gives the same loss and gradients as the full row (the model is
 * causal and padding has no target), so the classes change which games share a batch, not what a batch
 * of given games teaches.
 *
 * The position (epoch, cursor, and the RNG state the epoch's order was drawn from) is plain JSON, so a
 * training run saved in a checkpoint resumes on exactly the batches it would have seen.
 */
import { Rng, type RngState } from '../src/util/rng.js';
import { UserError } from '../src/util/errors.js';
import type { PadMode, Split } from './format.js';
import type { Dataset } from './reader.js';

export interface Batch {
  /** (batch, length) token ids: the first L-1 tokens of each game. */
  inputs: Int32Array;
  /** (batch, length) next-token ids, -1 where the game is over (padding). */
  targets: Int32Array;
  batch: number;
  length: number;
  /** Rows that hold a game (the rest, with length buckets, are empty rows that fill out a class's last batch). */
  games: number;
}

export interface BatchPosition {
  epoch: number;
  /** Games of this epoch's order already handed out. */
  cursor: number;
  /** RNG state before this epoch's order was shuffled. */
  rngState: RngState;
}

/**
 * A rule that drops targets of a record: given the record, 1 at the positions whose move is not to be
 * learned (see DatasetGame.loserMoves), or null to keep them all.
 */
export type TargetMask = (record: Uint8Array) => Uint8Array | null;

/**
 * recordInputsTargets, then the targets whose move `mask` drops set to -1 (the target at t is move
 * t + 1). Returns the targets still counted.
 */
export function maskedInputsTargets(record: Uint8Array, pad: number, padMode: PadMode, mask: TargetMask | null, inputs: Int32Array, targets: Int32Array, row: number, length = record.length - 1): number {
  let counted = recordInputsTargets(record, pad, padMode, inputs, targets, row, length);
  const dropped = mask?.(record);
  if (!dropped) return counted;
  for (let t = 0; t < length; t++) {
    if (dropped[t + 1] && targets[row + t] !== -1) {
      targets[row + t] = -1;
      counted--;
    }
  }
  return counted;
}

/** A length class of --length-buckets: rows cut to `length` inputs, `rows` of them a batch. */
export interface LengthBucket {
  length: number;
  rows: number;
}

/**
 * The `count` length classes of records of `recordLength` tokens at `batchSize` full rows a step: lengths
 * k (L + 1) / count - 1 for k = 1..count (L = recordLength - 1, so the last is L), each with as many rows
 * as fit the tokens of the full batch.
 */
export function lengthBuckets(count: number, recordLength: number, batchSize: number): LengthBucket[] {
  if (!Number.isInteger(count) || count < 1) throw new UserError(`--length-buckets must be a positive integer, got ${count}`);
  const L = recordLength - 1;
  if (count > L) throw new UserError(`--length-buckets ${count}: records of ${recordLength} tokens have at most ${L} lengths`);
  return Array.from({ length: count }, (_, i) => {
    const length = Math.round(((i + 1) * recordLength) / count) - 1;
    return { length, rows: Math.floor((batchSize * recordLength) / (length + 1)) };
  });
}

/**
 * Inputs a record needs: up to its last target, which is its last token that is not padding (at least 1,
 * so that a record of padding alone still has a row).
 */
export function neededLength(record: Uint8Array, pad: number): number {
  return Math.max(1, contentEnd(record, pad) - 1);
}

/** Where a record's trailing run of `pad` begins (its length when it has none). */
function contentEnd(record: Uint8Array, pad: number): number {
  let end = record.length;
  while (end > 0 && record[end - 1] === pad) end--;
  return end;
}

export class BatchStream {
  /** Inputs of a full row (a record's length less one). */
  readonly length: number;
  private readonly rng: Rng;
  private readonly count: number;
  private readonly order: Uint32Array;
  private readonly record: Uint8Array;
  private epoch = 0;
  private cursor = 0;
  private epochRngState: RngState;
  /** With length buckets: the classes, each game's class, and this epoch's batches as runs of `order`. */
  private readonly buckets: LengthBucket[] | null = null;
  private readonly bucketOf: Uint16Array | null = null;
  private batchStarts: number[] = [];
  private batchBuckets: number[] = [];
  private batchIndex = 0;

  constructor(
    private readonly dataset: Dataset,
    private readonly split: Split,
    readonly batchSize: number,
    seed: number,
    /** Targets to leave out of the loss (train --winner-moves), or none. */
    readonly mask: TargetMask | null = null,
    /** --length-buckets: batches of games of one length class, cut to it (0: every row full length). */
    bucketCount = 0,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size must be a positive integer, got ${batchSize}`);
    this.count = dataset.count(split);
    if (this.count === 0) throw new UserError(`${dataset.dir}: the ${split} split has no games`);
    this.length = dataset.recordLength - 1;
    this.rng = new Rng(seed);
    this.order = new Uint32Array(this.count);
    this.record = new Uint8Array(dataset.recordLength);
    if (bucketCount > 0) {
      this.buckets = lengthBuckets(bucketCount, dataset.recordLength, batchSize);
      this.bucketOf = new Uint16Array(this.count);
      const pad = dataset.manifest.padToken;
      let game = 0;
      for (const record of dataset.iterateGames(split)) {
        const needed = neededLength(record, pad);
        this.bucketOf[game++] = this.buckets.findIndex((b) => b.length >= needed);
      }
    }
    this.epochRngState = this.rng.getState();
    this.shuffleEpoch();
  }

  next(): Batch {
    if (this.buckets) return this.nextOfBucket();
    const B = this.batchSize;
    const L = this.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    for (let b = 0; b < B; b++) {
      if (this.cursor === this.count) this.startEpoch();
      this.readRow(inputs, targets, b, L);
    }
    return { inputs, targets, batch: B, length: L, games: B };
  }

  /** The next batch of this epoch's length-bucketed order (a new epoch's first once this one is done). */
  private nextOfBucket(): Batch {
    if (this.cursor === this.count) this.startEpoch();
    const k = this.batchIndex++;
    const { length: L, rows } = this.buckets![this.batchBuckets[k]];
    const games = this.batchStarts[k + 1] - this.batchStarts[k];
    const inputs = new Int32Array(rows * L).fill(this.dataset.manifest.padToken);
    const targets = new Int32Array(rows * L).fill(-1);
    for (let b = 0; b < games; b++) this.readRow(inputs, targets, b, L);
    return { inputs, targets, batch: rows, length: L, games };
  }

  /** The game at the cursor as row b of (rows, L) inputs and targets; the cursor moves on. */
  private readRow(inputs: Int32Array, targets: Int32Array, b: number, L: number): void {
    const { padToken, padMode } = this.dataset.manifest;
    this.dataset.readGamesInto(this.split, this.order[this.cursor++], 1, this.record, 0);
    maskedInputsTargets(this.record, padToken, padMode === 'trailing' ? 'trailing' : 'token', this.mask, inputs, targets, b * L, L);
  }

  private startEpoch(): void {
    this.epoch++;
    this.cursor = 0;
    this.epochRngState = this.rng.getState();
    this.shuffleEpoch();
  }

  getPosition(): BatchPosition {
    return { epoch: this.epoch, cursor: this.cursor, rngState: [...this.epochRngState] as RngState };
  }

  /** Restores a position from getPosition() (possibly after a JSON round trip). */
  setPosition(position: BatchPosition): void {
    const { epoch, cursor, rngState } = position ?? ({} as BatchPosition);
    const okState = Array.isArray(rngState) && rngState.length === 4 && rngState.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isInteger(cursor) || cursor < 0 || cursor > this.count || !okState) {
      throw new UserError(`invalid batch position ${JSON.stringify(position)} for a split of ${this.count} games`);
    }
    this.rng.setState(rngState);
    this.epochRngState = this.rng.getState();
    this.shuffleEpoch();
    if (this.buckets && cursor < this.count) {
      this.batchIndex = this.batchStarts.indexOf(cursor);
      if (this.batchIndex < 0) throw new UserError(`invalid batch position ${JSON.stringify(position)}: game ${cursor} does not start a batch of this epoch's length buckets`);
    }
    this.epoch = epoch;
    this.cursor = cursor;
  }

  /**
   * Draws this epoch's order of games from the RNG; with length buckets, then groups it by class (each
   * class in the drawn order), cuts each class into batches and shuffles the batches.
   */
  private shuffleEpoch(): void {
    for (let i = 0; i < this.count; i++) this.order[i] = i;
    this.rng.shuffle(this.order);
    if (!this.buckets) return;
    const byBucket: number[][] = this.buckets.map(() => []);
    for (const game of this.order) byBucket[this.bucketOf![game]].push(game);
    const batches: { bucket: number; games: number[] }[] = [];
    const buckets = this.buckets;
    byBucket.forEach((games, bucket) => {
      const rows = buckets[bucket].rows;
      for (let i = 0; i < games.length; i += rows) batches.push({ bucket, games: games.slice(i, i + rows) });
    });
    const shuffled = Uint32Array.from(batches.keys());
    this.rng.shuffle(shuffled);
    // The epoch starts with a batch of the most tokens (a full batch of the longest class): a GPU pool
    // then makes its buffers at that size on the first step, and every other class's fit in them.
    const tokens = (k: number) => {
      const { rows, length } = buckets[batches[k].bucket];
      return batches[k].games.length === rows ? rows * length : 0;
    };
    let largest = 0;
    for (let i = 1; i < shuffled.length; i++) if (tokens(shuffled[i]) > tokens(shuffled[largest])) largest = i;
    [shuffled[0], shuffled[largest]] = [shuffled[largest], shuffled[0]];
    this.batchStarts = [0];
    this.batchBuckets = [];
    let at = 0;
    for (const k of shuffled) {
      for (const game of batches[k].games) this.order[at++] = game;
      this.batchStarts.push(at);
      this.batchBuckets.push(batches[k].bucket);
    }
    this.batchIndex = 0;
  }
}

/**
 * One record (L+1 tokens) as a training row: inputs[row..row+L) = tokens 0..L-1, targets = tokens
 * 1..L with padding as -1. Padding is every `pad` token (padMode 'token'), or only the run of `pad`
 * at the record's end ('trailing'). A shorter `length` cuts the row (it must still hold every target
 * that is not padding: neededLength). Returns the number of targets that are not padding.
 */
export function recordInputsTargets(record: Uint8Array, pad: number, padMode: PadMode, inputs: Int32Array, targets: Int32Array, row: number, length = record.length - 1): number {
  const L = length;
  const end = padMode === 'trailing' ? contentEnd(record, pad) : record.length;
  let counted = 0;
  for (let t = 0; t < L; t++) {
    inputs[row + t] = record[t];
    const next = record[t + 1];
    const padding = padMode === 'trailing' ? t + 1 >= end : next === pad;
    targets[row + t] = padding ? -1 : next;
    if (!padding) counted++;
  }
  return counted;
}
