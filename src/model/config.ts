/**
 * The Mamba model config (snake_case: it is written as-is into a checkpoint's config.json) and the
 * named presets. Presets are data: a preset is only a set of field values.
 */
import { UserError } from '../util/errors.js';

export interface MambaConfig {
  /** d: width of the residual stream. */
  d_model: number;
  n_layers: number;
  /** N: SSM state size per channel. */
  d_state: number;
  /** E = expand * d_model channels inside a block. */
  expand: number;
  /** Kernel width of the causal depthwise conv1d. */
  d_conv: number;
  /** R: rank of the delta projection (mamba.py's default is ceil(d_model / 16)). */
  dt_rank: number;
  vocab_size: number;
  /** lm_head shares the embedding matrix. */
  tie_embeddings: boolean;
  /** RMSNorm epsilon of every norm, norm_f included. */
  layer_norm_epsilon: number;
  pad_token_id: number;
}

/** The preset fields; the vocabulary comes from the dataset. */
export type MambaPreset = Omit<MambaConfig, 'vocab_size'>;

function preset(d_model: number, n_layers: number, d_state = 16): MambaPreset {
  return {
    d_model,
    n_layers,
    d_state,
    expand: 2,
    d_conv: 4,
    dt_rank: Math.ceil(d_model / 16),
    tie_embeddings: true,
    layer_norm_epsilon: 1e-5,
    pad_token_id: 0,
  };
}

export const PRESETS: Readonly<Record<string, MambaPreset>> = {
  /** Tests: small enough for gradient checks and seconds-long training runs. */
  tiny: preset(64, 2),
  /**
   * The CPU quickstart. At equal time on a 2-core CPU (SIMD kernels, batch 16, lr 1e-2, no weight
   * decay), d=96 x 2 layers with d_state 8 reached 85.0% legal moves where d=64 reached 83.3% (d_state
   * 8) and 81.9% (d_state 16), and d=64 x 3 layers 80.3%. Over a whole quickstart, d=128 reached 89.1%
   * against d=96's 89.5%. Later equal-time runs at a third of the quickstart's budget had d=112 with
   * d_state 4 ahead by half a point (88.1% over 3 seeds against 87.5% over 2), but over a whole
   * quickstart it reached 90.07% against d=96's 90.38%.
   */
  quickstart: preset(96, 2, 8),
  /** Othello on a GPU: the size of the Othello-GPT / othello_mamba comparisons. */
  'othello-base': preset(256, 8),
  /** Chess (1024-character games). */
  'chess-base': preset(512, 16),
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/** The config of a named preset for a vocabulary of `vocabSize` tokens. */
export function configFromPreset(name: string, vocabSize: number): MambaConfig {
  const p = Object.prototype.hasOwnProperty.call(PRESETS, name) ? PRESETS[name] : undefined;
  if (!p) throw new UserError(`unknown model preset '${name}' (expected one of: ${presetNames().join(', ')})`);
  return validateConfig({ ...p, vocab_size: vocabSize }, `preset ${name}`);
}

/** E, the channel count inside a block. */
export function innerSize(config: MambaConfig): number {
  return config.expand * config.d_model;
}

const POSITIVE_INTEGERS = ['d_model', 'n_layers', 'd_state', 'expand', 'd_conv', 'dt_rank', 'vocab_size'] as const;

/**
 * Checks a parsed config object field by field and returns it as a MambaConfig; `file` names where it
 * came from in the UserError for a missing or bad field.
 */
export function validateConfig(obj: unknown, file: string): MambaConfig {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UserError(`${file}: the model config is not a JSON object`);
  const o = obj as Record<string, unknown>;
  for (const key of POSITIVE_INTEGERS) {
    const v = o[key];
    if (v === undefined) throw new UserError(`${file}: model config field '${key}' is missing`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`${file}: model config field '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (typeof o.tie_embeddings !== 'boolean') throw new UserError(`${file}: model config field 'tie_embeddings' must be true or false, got ${JSON.stringify(o.tie_embeddings)}`);
  const eps = o.layer_norm_epsilon;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) throw new UserError(`${file}: model config field 'layer_norm_epsilon' must be a number in (0, 1), got ${JSON.stringify(eps)}`);
  const pad = o.pad_token_id;
  const vocab = o.vocab_size as number;
  if (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0 || pad >= vocab) throw new UserError(`${file}: model config field 'pad_token_id' must be an integer in 0..${vocab - 1}, got ${JSON.stringify(pad)}`);
  return {
    d_model: o.d_model as number,
    n_layers: o.n_layers as number,
    d_state: o.d_state as number,
    expand: o.expand as number,
    d_conv: o.d_conv as number,
    dt_rank: o.dt_rank as number,
    vocab_size: vocab,
    tie_embeddings: o.tie_embeddings,
    layer_norm_epsilon: eps,
    pad_token_id: pad,
  };
}
