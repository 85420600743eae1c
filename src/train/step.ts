/**
 * One training step: forward + backward on a batch, the global gradient norm, clip, AdamW update, all
 * queued on the backend; the loss and norm are read afterwards (at once, or every few steps on a GPU).
 * Shared by the trainer, its --minutes calibration and `gamba bench train`, so all three time the same work.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { LanguageModel } from '../model/language-model.js';
import { boardTargets, type AuxBoardLoss } from './aux-board-loss.js';
import type { AdamW } from './optimizer.js';

export interface StepBatch {
  /** (batch, length) token ids. */
  inputs: Int32Array;
  /** (batch, length) next-token ids, -1 = ignored by the loss. */
  targets: Int32Array;
  batch: number;
  length: number;
}

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** With an auxiliary board loss: its head's cross-entropy (unweighted). */
  auxLoss?: number;
}

/** --aux-board-loss: the head's loss and its own AdamW, stepped with the model's. */
export interface AuxTraining {
  loss: AuxBoardLoss;
  optimizer: AdamW;
}

/** A step whose work is queued on the backend; its scalars are read later (readStep). */
export interface PendingStep {
  /** (1) the mean loss. */
  loss: Tensor;
  /** (2) [clip factor, gradient norm]. */
  clip: Tensor;
  /** With an auxiliary board loss: its (1) loss and its head's (2) clip result. */
  aux?: { loss: Tensor; clip: Tensor };
}

/**
 * Queues forward + backward, the clip and the AdamW update, without waiting for any of it; the
 * gradients are computed at loss scale `lossScale` (loss-scale.ts) and unscaled by the clip.
 */
export function queueTrainStep(model: LanguageModel, optimizer: AdamW, batch: StepBatch, lr: number, clip: number, lossScale = 1, aux?: AuxTraining): PendingStep {
  aux?.loss.setTargets(boardTargets(batch.inputs, batch.batch, batch.length));
  const loss = model.forwardBackward(batch.inputs, batch.targets, batch.batch, batch.length, lossScale, aux?.loss);
  const pending: PendingStep = { loss, clip: optimizer.clipAndUpdate(lr, clip, lossScale) };
  // The head is clipped on its own gradient norm, at the same threshold.
  if (aux) pending.aux = { loss: aux.loss.takeLoss(), clip: aux.optimizer.clipAndUpdate(lr, clip, lossScale) };
  return pending;
}

/** Waits for a queued step and reads its loss and gradient norm. */
export async function readStep(backend: Backend, pending: PendingStep): Promise<StepResult> {
  const loss = (await backend.download(pending.loss))[0];
  const gradNorm = (await backend.download(pending.clip))[1];
  backend.dispose(pending.loss);
  backend.dispose(pending.clip);
  if (!pending.aux) return { loss, gradNorm };
  const auxLoss = (await backend.download(pending.aux.loss))[0];
  backend.dispose(pending.aux.loss);
  backend.dispose(pending.aux.clip);
  return { loss, gradNorm, auxLoss };
}

/** One step, read at once. */
export async function trainStep(backend: Backend, model: LanguageModel, optimizer: AdamW, batch: StepBatch, lr: number, clip: number, lossScale = 1, aux?: AuxTraining): Promise<StepResult> {
  return readStep(backend, queueTrainStep(model, optimizer, batch, lr, clip, lossScale, aux));
}
