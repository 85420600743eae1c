/**
 * Dynamic loss scaling for mixed precision, as PyTorch's GradScaler does it: the loss gradient is
 * multiplied by S before the backward pass, so the small activation gradients that the f16 matmul
 * operands would round to zero stay representable, and the clip divides S out again before AdamW
 * (backend.clipScale). S is a power of two, so in float32 the scaling changes no bit but the exponent.
 *
 * A step whose gradient comes out non-finite (an f16 overflow) is skipped on the device (clipScale
 * answers 0 and adamwUpdate leaves everything as it was) and S is halved; after GROWTH_INTERVAL clean
 * steps in a row S doubles. The f32 path keeps S = 1 and treats a non-finite gradient as divergence.
 * The scaler's state is part of the trainer state, so a resumed run scales exactly as an unbroken one.
 */
import type { Precision } from '../backend/backend.js';

/** PyTorch's defaults: start at 2^16, double after 2000 clean steps. */
const INITIAL_SCALE = 2 ** 16;
const GROWTH_INTERVAL = 2000;
const MAX_SCALE = 2 ** 24;

export interface LossScaleState {
  scale: number;
  /** Clean steps since the last change of scale. */
  cleanSteps: number;
}

export class LossScaler {
  private constructor(
    readonly dynamic: boolean,
    private state: LossScaleState,
  ) {}

  /** A fresh scaler: dynamic for mixed precision, a fixed 1 for f32. */
  static start(precision: Precision): LossScaler {
    return precision === 'mixed' ? new LossScaler(true, { scale: INITIAL_SCALE, cleanSteps: 0 }) : new LossScaler(false, { scale: 1, cleanSteps: 0 });
  }

  /** A scaler continuing from a saved state (none: a fresh one). */
  static resume(precision: Precision, saved: LossScaleState | undefined): LossScaler {
    const scaler = LossScaler.start(precision);
    if (saved && scaler.dynamic) scaler.state = { ...saved };
    return scaler;
  }

  /** The S of the next step queued. */
  get scale(): number {
    return this.state.scale;
  }

  /**
   * Takes the outcome of a step that ran at scale `stepScale`, in step order: false when its gradient
   * overflowed (the device skipped it), true when it was applied. An overflow halves the scale, once:
   * steps queued at the old scale before the overflow was read do not halve it again. Throws nothing;
   * the caller decides what an overflow at scale 1, or in f32, means.
   */
  afterStep(stepScale: number, gradientFinite: boolean): boolean {
    if (!gradientFinite) {
      if (this.dynamic && stepScale <= this.state.scale) this.state = { scale: Math.max(1, this.state.scale / 2), cleanSteps: 0 };
      return false;
    }
    if (!this.dynamic) return true;
    this.state.cleanSteps++;
    if (this.state.cleanSteps >= GROWTH_INTERVAL) this.state = { scale: Math.min(MAX_SCALE, this.state.scale * 2), cleanSteps: 0 };
    return true;
  }

  /** What the trainer state records (undefined for f32, whose scale never changes). */
  saved(): LossScaleState | undefined {
    return this.dynamic ? { ...this.state } : undefined;
  }
}
