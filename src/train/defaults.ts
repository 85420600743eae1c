/**
 * Default training hyperparameters, per model preset (measured on the sample Othello set: see the
 * quickstart figures in the README). Flags override each of them.
 */
export interface TrainingDefaults {
  batch: number;
  lr: number;
  weightDecay: number;
  clip: number;
  valEvery: number;
  valGames: number;
  saveEvery: number;
}

const COMMON: TrainingDefaults = { batch: 64, lr: 1e-3, weightDecay: 0.1, clip: 1.0, valEvery: 100, valGames: 256, saveEvery: 500 };

const BY_PRESET: Record<string, Partial<TrainingDefaults>> = {
  tiny: { batch: 32, lr: 1e-2, valEvery: 200, valGames: 128 },
  // lr at 530 steps of batch 32: 1e-2 -> 62.9% legal, 2e-2 -> 71.1%, 4e-2 -> 72.0%, 8e-2 -> 68.2%;
  // a little below the best of that short run for the quickstart's ~2000 steps.
  quickstart: { batch: 32, lr: 3e-2, valEvery: 200, valGames: 128 },
  'othello-base': { batch: 64, lr: 1e-3 },
  'chess-base': { batch: 16, lr: 6e-4 },
};

export function trainingDefaults(preset: string): TrainingDefaults {
  return { ...COMMON, ...(BY_PRESET[preset] ?? {}) };
}
