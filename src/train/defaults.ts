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
  // Full-schedule runs of equal time on the quickstart's data: batch 16 beat 32 and 8; weight decay
  // 0.1 cost 2 to 4 points of legal-move rate against none; lr 1e-2 beat 2e-2 and 5e-3 at batch 16.
  quickstart: { batch: 16, lr: 1e-2, weightDecay: 0, valEvery: 200, valGames: 128 },
  'othello-base': { batch: 64, lr: 1e-3 },
  'chess-base': { batch: 16, lr: 6e-4 },
  'chess-mamba-12m': { batch: 64, lr: 1e-3 },
  'quickstart-gpt': { batch: 16, lr: 3e-3, weightDecay: 0, valEvery: 200, valGames: 128 },
  // The 25M transformers: nanoGPT's default peak rate.
  'othello-gpt': { lr: 6e-4 },
  'chess-gpt': { batch: 16, lr: 6e-4 },
};

export function trainingDefaults(preset: string): TrainingDefaults {
  return { ...COMMON, ...(BY_PRESET[preset] ?? {}) };
}
