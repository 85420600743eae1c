/**
 * One training step: forward + backward on a batch, the global gradient norm, clip, AdamW update, all
 * queued on the backend; the loss and norm are read afterwards (at once, or every few steps on a GPU).
 * Shared by the trainer, its --minutes calibration and `gamba bench train`, so all three time the same work.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { LanguageModel } from '../model/language-model.js';
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
}

/** A step whose work is queued on the backend; its scalars are read later (readStep). */
export interface PendingStep {
  /** (1) the mean loss. */
  loss: Tensor;
  /** (2) [clip factor, gradient norm]. */
  clip: Tensor;
}

/**
 * Queues forward + backward, the clip and the AdamW update, without waiting for any of it; the
 * gradients are computed at loss scale `lossScale` (loss-scale.ts) and unscaled by the clip.
 */
export function queueTrainStep(model: LanguageModel, optimizer: AdamW, batch: StepBatch, lr: number, clip: number, lossScale = 1): PendingStep {
  const loss = model.forwardBackward(batch.inputs, batch.targets, batch.batch, batch.length, lossScale);
  return { loss, clip: optimizer.clipAndUpdate(lr, clip, lossScale) };
}

/** Waits for a queued step and reads its loss and gradient norm. */
export async function readStep(backend: Backend, pending: PendingStep): Promise<StepResult> {
  const loss = (await backend.download(pending.loss))[0];
  const gradNorm = (await backend.download(pending.clip))[1];
  backend.dispose(pending.loss);
  backend.dispose(pending.clip);
  return { loss, gradNorm };
}

/** One step, read at once. */
export async function trainStep(backend: Backend, model: LanguageModel, optimizer: AdamW, batch: StepBatch, lr: number, clip: number, lossScale = 1): Promise<StepResult> {
  return readStep(backend, queueTrainStep(model, optimizer, batch, lr, clip, lossScale));
}
