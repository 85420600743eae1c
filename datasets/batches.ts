/**
 * Training batches for next-token prediction. Each epoch visits every game of a split once, in an order
 * shuffled from the stream's seed; a batch is `batchSize` games (a batch that runs past the end of an
 * epoch is completed from the next epoch's order). For a record of L tokens the model reads tokens
 * 0..L-2 and predicts tokens 1..L-1; padded targets become -1, which the loss ignores. Padding is every
 * pad token, or with the manifest's `padMode: "trailing"` (chess) only the pad run at a record's end.
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
export function maskedInputsTargets(record: Uint8Array, pad: number, padMode: PadMode, mask: TargetMask | null, inputs: Int32Array, targets: Int32Array, row: number): number {
  let counted = recordInputsTargets(record, pad, padMode, inputs, targets, row);
  const dropped = mask?.(record);
  if (!dropped) return counted;
  for (let t = 0; t + 1 < record.length; t++) {
    if (dropped[t + 1] && targets[row + t] !== -1) {
      targets[row + t] = -1;
      counted--;
    }
  }
  return counted;
}

export class BatchStream {
  readonly length: number;
  private readonly rng: Rng;
  private readonly count: number;
  private readonly order: Uint32Array;
  private readonly record: Uint8Array;
  private epoch = 0;
  private cursor = 0;
  private epochRngState: RngState;

  constructor(
    private readonly dataset: Dataset,
    private readonly split: Split,
    readonly batchSize: number,
    seed: number,
    /** Targets to leave out of the loss (train --winner-moves), or none. */
    readonly mask: TargetMask | null = null,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch size must be a positive integer, got ${batchSize}`);
    this.count = dataset.count(split);
    if (this.count === 0) throw new UserError(`${dataset.dir}: the ${split} split has no games`);
    this.length = dataset.recordLength - 1;
    this.rng = new Rng(seed);
    this.order = new Uint32Array(this.count);
    this.record = new Uint8Array(dataset.recordLength);
    this.epochRngState = this.rng.getState();
    this.shuffleEpoch();
  }

  next(): Batch {
    const B = this.batchSize;
    const L = this.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    const pad = this.dataset.manifest.padToken;
    const trailingPad = this.dataset.manifest.padMode === 'trailing';
    for (let b = 0; b < B; b++) {
      if (this.cursor === this.count) {
        this.epoch++;
        this.cursor = 0;
        this.epochRngState = this.rng.getState();
        this.shuffleEpoch();
      }
      this.dataset.readGamesInto(this.split, this.order[this.cursor++], 1, this.record, 0);
      maskedInputsTargets(this.record, pad, trailingPad ? 'trailing' : 'token', this.mask, inputs, targets, b * L);
    }
    return { inputs, targets, batch: B, length: L };
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
    this.epoch = epoch;
    this.cursor = cursor;
  }

  /** Draws this epoch's order of games from the RNG. */
  private shuffleEpoch(): void {
    for (let i = 0; i < this.count; i++) this.order[i] = i;
    this.rng.shuffle(this.order);
  }
}

/**
 * One record (L+1 tokens) as a training row: inputs[row..row+L) = tokens 0..L-1, targets = tokens
 * 1..L with padding as -1. Padding is every `pad` token (padMode 'token'), or only the run of `pad`
 * at the record's end ('trailing'). Returns the number of targets that are not padding.
 */
export function recordInputsTargets(record: Uint8Array, pad: number, padMode: PadMode, inputs: Int32Array, targets: Int32Array, row: number): number {
  const L = record.length - 1;
  let end = L + 1;
  if (padMode === 'trailing') while (end > 0 && record[end - 1] === pad) end--;
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
