/**
 * `gamba train --aux-board-loss W [--aux-layer L]`: while the model learns the next move, a linear head
 * on its residual stream after layer L reads the Othello board (mine/theirs/empty for each of the 64
 * squares, relative to the player who just moved, as the probes' default target), and W times its
 * cross-entropy is added to the loss. Its gradient reaches the model through that layer's residual
 * stream (LanguageModel's ResidualLoss), so the layers up to L are pushed to keep the board linearly
 * readable. The head has its own parameters and AdamW state, saved beside the model in
 * aux-board-head.safetensors; it never takes part in eval, play, probes or export, and model.safetensors
 * keeps only the model's own tensors.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import { othelloLabels } from '../../games/othello/labels.js';
import type { ResidualLoss } from '../model/language-model.js';
import { PackedParameters } from '../model/packing.js';
import { Rng } from '../util/rng.js';

/** Squares and classes per square (0 empty, 1 mine, 2 theirs). */
const SQUARES = 64;
const CLASSES = 3;
const OUTPUTS = SQUARES * CLASSES;

/** The head's tensors: logits (M, 64 x 3) = x weight^T + bias, the classes of square s at 3s..3s+2. */
export function auxHeadShapes(dModel: number): [string, number[]][] {
  return [
    ['aux_board.weight', [OUTPUTS, dModel]],
    ['aux_board.bias', [OUTPUTS]],
  ];
}

/** A fresh head: weights normal with std 0.02 (GPT-2's init of a linear layer), bias 0. */
export function initAuxHead(dModel: number, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed, 7);
  const weight = new Float32Array(OUTPUTS * dModel);
  for (let i = 0; i < weight.length; i++) weight[i] = 0.02 * rng.normal();
  return new Map([
    ['aux_board.weight', weight],
    ['aux_board.bias', new Float32Array(OUTPUTS)],
  ]);
}

/** The residual layer the head reads when --aux-layer is not given: three quarters of the way up, where othello-base's board is read best (layer 6 of 8). */
export function defaultAuxLayer(nLayers: number): number {
  return Math.round(0.75 * nLayers);
}

/**
 * The board targets of a batch of Othello inputs (B, L) of tokens (0 = padding): (B x L x 64) class
 * ids, position t of row b holding the board after move t; -1 at padding positions (not counted).
 */
export function boardTargets(inputs: Int32Array, batch: number, length: number): Int32Array {
  const out = new Int32Array(batch * length * SQUARES).fill(-1);
  const row = new Uint8Array(length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) row[t] = inputs[b * length + t];
    // the labels are the class ids: 0 empty, MINE = 1, THEIRS = 2
    const { moves, mineTheirs } = othelloLabels(row);
    out.set(mineTheirs.subarray(0, moves * SQUARES), b * length * SQUARES);
  }
  return out;
}

export class AuxBoardLoss implements ResidualLoss {
  readonly packed: PackedParameters;
  private targets: Tensor | null = null;
  /** The last targets as given, read by counts(). */
  private hostTargets: Int32Array = new Int32Array(0);
  private lastLoss: Tensor | null = null;
  private readonly zeros: Tensor;
  private readonly weights: Tensor;

  constructor(
    private readonly backend: Backend,
    dModel: number,
    readonly layer: number,
    /** W: the head's cross-entropy is added to the loss times this. */
    readonly weight: number,
    values: Map<string, Float32Array>,
  ) {
    if (!(weight > 0 && Number.isFinite(weight))) throw new Error(`auxiliary board loss weight ${weight} must be a positive number`);
    this.packed = new PackedParameters(backend, auxHeadShapes(dModel), values);
    // The gradient is scaled by W through a column scaling (crossEntropy's own scale takes powers of two only).
    this.zeros = backend.zeros([CLASSES]);
    this.weights = backend.upload(new Float32Array(CLASSES).fill(weight), [CLASSES]);
  }

  /** The board targets of the next forwardBackward's batch (boardTargets). */
  setTargets(targets: Int32Array): void {
    if (this.targets) this.backend.dispose(this.targets);
    this.targets = this.backend.uploadInts(targets, [targets.length]);
    this.hostTargets = targets;
  }

  /** Whether any square of row m is labelled (asked only of the few rows that may be padding). */
  counts(m: number): boolean {
    return this.hostTargets.subarray(m * SQUARES, (m + 1) * SQUARES).some((t) => t !== -1);
  }

  /** The head's cross-entropy of the last backward (unweighted, a 1-element tensor the caller disposes). */
  takeLoss(): Tensor {
    const loss = this.lastLoss;
    if (!loss) throw new Error('AuxBoardLoss.takeLoss before a backward pass');
    this.lastLoss = null;
    return loss;
  }

  backward(x: Tensor, lossScale: number): Tensor {
    const be = this.backend;
    const [M] = x.shape;
    if (!this.targets || this.targets.shape[0] !== M * SQUARES) throw new Error(`auxiliary board loss: targets for ${this.targets ? this.targets.shape[0] / SQUARES : 0} positions, the batch has ${M}`);
    const weight = this.packed.params.get('aux_board.weight')!;
    const bias = this.packed.params.get('aux_board.bias')!;
    const raw = be.matmul(x, weight, { transB: true });
    const logits = be.biasAdd(raw, bias);
    be.dispose(raw);
    const { loss, dLogits } = be.crossEntropy(be.reshape(logits, [M * SQUARES, CLASSES]), this.targets, true, lossScale);
    be.dispose(logits);
    const scaled = be.shiftScaleColumns(dLogits!, this.zeros, this.weights);
    be.dispose(dLogits!);
    const d = be.reshape(scaled, [M, OUTPUTS]);
    be.matmul(d, x, { transA: true, into: this.packed.grads.get('aux_board.weight')! });
    be.biasGrad(d, this.packed.grads.get('aux_board.bias')!);
    const dx = be.matmul(d, weight);
    be.dispose(scaled);
    if (this.lastLoss) be.dispose(this.lastLoss);
    this.lastLoss = loss;
    return dx;
  }
}
