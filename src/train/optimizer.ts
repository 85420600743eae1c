/**
 * AdamW (Loshchilov & Hutter) over the backend's fused `adamwUpdate`, with global-norm gradient clipping.
 *
 *   g <- g * min(1, clip / ||g||)              (||g|| over all parameters together)
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * ( m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)  +  wd * p )
 *
 * Weight decay applies to the weight matrices and not to the embeddings, norms, biases, A_log or D, as
 * in mamba.py and nanoGPT (isDecayed in src/model/packing.ts). The moments live on the backend, packed
 * like the parameters; a checkpoint downloads them (exportState) and a resume uploads them.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { PackedParameters } from '../model/packing.js';
import type { OptimizerSnapshot } from './checkpoint.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  /** Optimizer steps taken (t in the bias correction). */
  step = 0;
  /** The moments, packed in the parameters' layout. */
  private m: Tensor;
  private v: Tensor;

  constructor(
    private readonly backend: Backend,
    private readonly packed: PackedParameters,
    readonly config: AdamWConfig,
  ) {
    this.m = backend.zeros([packed.size]);
    this.v = backend.zeros([packed.size]);
  }

  /**
   * Queues one AdamW step at learning rate `lr` after the global-norm clip at `clip` (0 = none), all on
   * the backend: nothing is read back. The gradients carry the loss scale `lossScale`, which the clip
   * divides out; a non-finite gradient makes the device skip the step (though `step` counts it: the
   * host learns of the skip only when it reads the result). Returns the 2-element tensor
   * [clip factor, gradient norm] for the caller to read when it likes (and dispose).
   *
   * The sum of squares and the update each run once over the packed tensors of all parameters.
   */
  clipAndUpdate(lr: number, clip: number, lossScale = 1): Tensor {
    const squares = this.backend.sumOfSquares(this.packed.allGrads);
    const scale = this.backend.clipScale([squares], clip, lossScale);
    this.backend.dispose(squares);
    this.step++;
    this.backend.adamwUpdate(this.packed.allParams, this.packed.allGrads, this.m, this.v, {
      lr,
      beta1: this.config.beta1,
      beta2: this.config.beta2,
      eps: this.config.eps,
      weightDecay: this.config.weightDecay,
      decayEnd: this.packed.decayEnd,
      step: this.step,
      gradScale: scale,
    });
    return scale;
  }

  async exportState(): Promise<OptimizerSnapshot> {
    const m = await this.packed.download(this.m);
    const v = await this.packed.download(this.v);
    return { step: this.step, m, v };
  }

  loadState(snapshot: OptimizerSnapshot): void {
    const m = this.packed.pack(snapshot.m, 'optimizer moment m of');
    const v = this.packed.pack(snapshot.v, 'optimizer moment v of');
    this.step = snapshot.step;
    this.backend.dispose(this.m);
    this.backend.dispose(this.v);
    this.m = this.backend.upload(m, [this.packed.size]);
    this.v = this.backend.upload(v, [this.packed.size]);
  }
}
