/**
 * AdamW (Loshchilov & Hutter) over the backend's fused `adamwUpdate`, with global-norm gradient clipping.
 *
 *   g <- g * min(1, clip / ||g||)              (||g|| over all parameters together)
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * ( m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)  +  wd * p )
 *
 * Weight decay applies to the weight matrices (in_proj, conv1d, x_proj, dt_proj, out_proj, and lm_head
 * when untied) and not to the embeddings, norms, biases, A_log or D, as in mamba.py and nanoGPT. The
 * moments live on the backend; a checkpoint downloads them (exportState) and a resume uploads them.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { OptimizerSnapshot } from './checkpoint.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Whether AdamW's weight decay applies to the parameter `name` (Hugging Face naming). */
export function isDecayed(name: string): boolean {
  if (name === 'backbone.embeddings.weight' || name === 'transformer.wte.weight' || name === 'transformer.wpe.weight') return false;
  if (name.endsWith('.bias') || name.endsWith('norm.weight') || name.endsWith('norm_f.weight') || /\.ln_\w+\.weight$/.test(name)) return false;
  if (name.endsWith('.A_log') || name.endsWith('.D')) return false;
  return name.endsWith('.weight');
}

export class AdamW {
  /** Optimizer steps taken (t in the bias correction). */
  step = 0;
  private readonly m = new Map<string, Tensor>();
  private readonly v = new Map<string, Tensor>();

  constructor(
    private readonly backend: Backend,
    private readonly params: Map<string, Tensor>,
    private readonly grads: Map<string, Tensor>,
    readonly config: AdamWConfig,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, backend.zeros(p.shape));
      this.v.set(name, backend.zeros(p.shape));
    }
  }

  /**
   * Queues one AdamW step at learning rate `lr` after the global-norm clip at `clip` (0 = none), all on
   * the backend: nothing is read back. The gradients carry the loss scale `lossScale`, which the clip
   * divides out; a non-finite gradient makes the device skip the step (though `step` counts it: the
   * host learns of the skip only when it reads the result). Returns the 2-element tensor
   * [clip factor, gradient norm] for the caller to read when it likes (and dispose).
   */
  clipAndUpdate(lr: number, clip: number, lossScale = 1): Tensor {
    const squares = [...this.grads.values()].map((g) => this.backend.sumOfSquares(g));
    const scale = this.backend.clipScale(squares, clip, lossScale);
    for (const s of squares) this.backend.dispose(s);
    this.step++;
    for (const [name, p] of this.params) {
      this.backend.adamwUpdate(p, this.grads.get(name)!, this.m.get(name)!, this.v.get(name)!, {
        lr,
        beta1: this.config.beta1,
        beta2: this.config.beta2,
        eps: this.config.eps,
        weightDecay: isDecayed(name) ? this.config.weightDecay : 0,
        step: this.step,
        gradScale: scale,
      });
    }
    return scale;
  }

  async exportState(): Promise<OptimizerSnapshot> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const name of this.params.keys()) {
      m.set(name, await this.backend.download(this.m.get(name)!));
      v.set(name, await this.backend.download(this.v.get(name)!));
    }
    return { step: this.step, m, v };
  }

  loadState(snapshot: OptimizerSnapshot): void {
    this.step = snapshot.step;
    for (const [name, p] of this.params) {
      this.backend.dispose(this.m.get(name)!);
      this.backend.dispose(this.v.get(name)!);
      this.m.set(name, this.backend.upload(snapshot.m.get(name)!, p.shape));
      this.v.set(name, this.backend.upload(snapshot.v.get(name)!, p.shape));
    }
  }
}
