/**
 * Learning-rate schedule: linear warmup, then cosine decay to `minLr` at the run's horizon.
 *
 *   step s (0-based, the step about to be taken), horizon H, warmup W:
 *     s < W:       lr * (s + 1) / W
 *     W <= s < H:  minLr + (lr - minLr) * (1 + cos(pi * (s - W) / (H - W))) / 2
 *     s >= H:      minLr
 *
 * The schedule is a pure function of (step, horizon), so a resumed run takes exactly the same rates.
 */
export interface ScheduleConfig {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Floor of the cosine decay. */
  minLr: number;
  /** Warmup steps (>= 0). */
  warmup: number;
  /** Total steps of the run (the horizon the cosine ends on). */
  horizon: number;
}

export function learningRateAt(step: number, schedule: ScheduleConfig): number {
  const { lr, minLr, warmup, horizon } = schedule;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  if (step >= horizon) return minLr;
  const progress = (step - warmup) / Math.max(1, horizon - warmup);
  return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/** Default warmup: 5% of the horizon, at least 1 step, at most 1000. */
export function defaultWarmup(horizon: number): number {
  return Math.max(1, Math.min(1000, Math.round(horizon * 0.05)));
}
