/**
 * One training step, as the story goes: forward + backward on a batch, read the loss, measure the
 * global gradient norm, clip, AdamW update. Shared by the trainer, its --minutes calibration and
 * `gamba bench train`, so all three time the same work.
 */
import type { Backend } from '../backend/backend.js';
import type { MambaLM } from '../model/mamba.js';
import { clipScale, type AdamW } from './optimizer.js';

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

export async function trainStep(backend: Backend, model: MambaLM, optimizer: AdamW, batch: StepBatch, lr: number, clip: number): Promise<StepResult> {
  const lossTensor = model.forwardBackward(batch.inputs, batch.targets, batch.batch, batch.length);
  const loss = (await backend.download(lossTensor))[0];
  backend.dispose(lossTensor);
  const gradNorm = await optimizer.gradientNorm();
  optimizer.update(lr, clipScale(gradNorm, clip));
  return { loss, gradNorm };
}
