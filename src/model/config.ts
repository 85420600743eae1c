/**
 * The model configs (snake_case: they are written as-is into a checkpoint's config.json) of the two
 * architectures, the Mamba and the transformer baseline (a GPT-2 decoder), and the named presets. Presets
 * are data: a preset is only a set of field values.
 */
import { UserError } from '../util/errors.js';

export type Architecture = 'mamba' | 'transformer';
export const ARCHITECTURES: readonly Architecture[] = ['mamba', 'transformer'];

export interface MambaConfig {
  architecture: 'mamba';
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

/**
 * The transformer baseline: GPT-2's decoder (learned positions, pre-LayerNorm blocks of causal multi-head
 * attention and a 4x GELU MLP, final LayerNorm, head tied to the token embedding).
 */
export interface GptConfig {
  architecture: 'transformer';
  d_model: number;
  n_layers: number;
  n_heads: number;
  /** Longest sequence: rows of the position embedding. */
  n_positions: number;
  vocab_size: number;
  /** LayerNorm epsilon of every norm, ln_f included. */
  layer_norm_epsilon: number;
  pad_token_id: number;
}

export type ModelConfig = MambaConfig | GptConfig;

/**
 * The preset fields. The vocabulary comes from the dataset, and so does a transformer's context (its
 * n_positions: the inputs of one record, record length - 1: 59 for Othello, 1023 for chess).
 */
export type MambaPreset = Omit<MambaConfig, 'vocab_size'>;
export type GptPreset = Omit<GptConfig, 'vocab_size' | 'n_positions'>;
export type ModelPreset = MambaPreset | GptPreset;

function mamba(d_model: number, n_layers: number, d_state = 16): MambaPreset {
  return {
    architecture: 'mamba',
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

function gpt(d_model: number, n_layers: number, n_heads: number): GptPreset {
  return { architecture: 'transformer', d_model, n_layers, n_heads, layer_norm_epsilon: 1e-5, pad_token_id: 0 };
}

export const PRESETS: Readonly<Record<string, ModelPreset>> = {
  /** Tests: small enough for gradient checks and seconds-long training runs. */
  tiny: mamba(64, 2),
  /**
   * The CPU quickstart. At equal time on a 2-core CPU (SIMD kernels, batch 16, lr 1e-2, no weight
   * decay), d=96 x 2 layers with d_state 8 reached 85.0% legal moves where d=64 reached 83.3% (d_state
   * 8) and 81.9% (d_state 16), and d=64 x 3 layers 80.3%. Over a whole quickstart, d=128 reached 89.1%
   * against d=96's 89.5%. Later equal-time runs at a third of the quickstart's budget had d=112 with
   * d_state 4 ahead by half a point (88.1% over 3 seeds against 87.5% over 2), but over a whole
   * quickstart it reached 90.07% against d=96's 90.38%.
   */
  quickstart: mamba(96, 2, 8),
  /** Othello on a GPU: the size of the Othello-GPT / othello_mamba comparisons. */
  'othello-base': mamba(256, 8),
  /** othello_mamba's Mambas: 16 layers of d 288 (about 9M parameters) and 408 (about 17M). */
  'othello-mamba-9m': mamba(288, 16),
  'othello-mamba-17m': mamba(408, 16),
  /** Chess (1024-character games). */
  'chess-base': mamba(512, 16),
  /** Chess at the size of HaileyStorm's 11M Mamba, for what H200 minutes can train (11.6M). */
  'chess-mamba-12m': mamba(384, 12),
  /** The CPU quickstart's transformer (and the tests'): about as many parameters as `quickstart` (135k against 133k). */
  'quickstart-gpt': gpt(72, 2, 4),
  /** The transformer matched in parameters to othello-base (3.6M against 3.5M). */
  'othello-base-gpt': gpt(192, 8, 8),
  /** othello_mamba's transformer baselines: about 11M and 21M parameters. */
  'othello-gpt-11m': gpt(320, 9, 8),
  'othello-gpt-21m': gpt(384, 12, 8),
  /** Li et al.'s Othello-GPT: 8 layers, d=512, 8 heads (25M). */
  'othello-gpt': gpt(512, 8, 8),
  /** Karvonen's chess GPT: 8 layers, d=512, 8 heads, context 1023 (25M). */
  'chess-gpt': gpt(512, 8, 8),
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/** The preset `name`, or a UserError listing the presets. */
export function presetByName(name: string): ModelPreset {
  const p = Object.prototype.hasOwnProperty.call(PRESETS, name) ? PRESETS[name] : undefined;
  if (!p) throw new UserError(`unknown model preset '${name}' (expected one of: ${presetNames().join(', ')})`);
  return p;
}

/** The largest state size N a run may ask for: the GPU scan holds a channel's N states in one workgroup of 256 threads. */
export const MAX_STATE_SIZE = 256;

/** What a run may change of its preset: a Mamba's state size (`gamba train --d-state`, the d_state sweep). */
export interface PresetOverrides {
  d_state?: number;
}

/**
 * The config of a named preset for a vocabulary of `vocabSize` tokens and sequences of at most `context`
 * tokens (a transformer's n_positions; a Mamba has no such limit), with `overrides` applied.
 */
export function configFromPreset(name: string, vocabSize: number, context: number, overrides: PresetOverrides = {}): ModelConfig {
  const p = presetByName(name);
  if (overrides.d_state !== undefined && p.architecture === 'transformer') throw new UserError(`--d-state: preset ${name} is a transformer, which has no SSM state`);
  const fields = p.architecture === 'transformer'
    ? { ...p, vocab_size: vocabSize, n_positions: context }
    : { ...p, vocab_size: vocabSize, ...(overrides.d_state === undefined ? {} : { d_state: overrides.d_state }) };
  return validateConfig(fields, `preset ${name}`);
}

/** E, the channel count inside a Mamba block. */
export function innerSize(config: MambaConfig): number {
  return config.expand * config.d_model;
}

const POSITIVE_INTEGERS: Record<Architecture, readonly string[]> = {
  mamba: ['d_model', 'n_layers', 'd_state', 'expand', 'd_conv', 'dt_rank', 'vocab_size'],
  transformer: ['d_model', 'n_layers', 'n_heads', 'n_positions', 'vocab_size'],
};

/**
 * Checks a parsed config object field by field and returns it as a ModelConfig; `file` names where it
 * came from in the UserError for a missing or bad field. A config without `architecture` is a Mamba's
 * (checkpoints from before the transformer have none).
 */
export function validateConfig(obj: unknown, file: string): ModelConfig {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UserError(`${file}: the model config is not a JSON object`);
  const o = obj as Record<string, unknown>;
  const architecture = o.architecture ?? 'mamba';
  if (architecture !== 'mamba' && architecture !== 'transformer') {
    throw new UserError(`${file}: model config field 'architecture' must be one of ${ARCHITECTURES.map((a) => `"${a}"`).join(', ')}, got ${JSON.stringify(architecture)}`);
  }
  for (const key of POSITIVE_INTEGERS[architecture]) {
    const v = o[key];
    if (v === undefined) throw new UserError(`${file}: model config field '${key}' is missing`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`${file}: model config field '${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const eps = o.layer_norm_epsilon;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) throw new UserError(`${file}: model config field 'layer_norm_epsilon' must be a number in (0, 1), got ${JSON.stringify(eps)}`);
  const pad = o.pad_token_id;
  const vocab = o.vocab_size as number;
  if (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0 || pad >= vocab) throw new UserError(`${file}: model config field 'pad_token_id' must be an integer in 0..${vocab - 1}, got ${JSON.stringify(pad)}`);
  if (architecture === 'transformer') {
    const d = o.d_model as number;
    const heads = o.n_heads as number;
    if (d % heads !== 0) throw new UserError(`${file}: model config field 'd_model' (${d}) must be a multiple of 'n_heads' (${heads})`);
    return { architecture, d_model: d, n_layers: o.n_layers as number, n_heads: heads, n_positions: o.n_positions as number, vocab_size: vocab, layer_norm_epsilon: eps, pad_token_id: pad };
  }
  if (typeof o.tie_embeddings !== 'boolean') throw new UserError(`${file}: model config field 'tie_embeddings' must be true or false, got ${JSON.stringify(o.tie_embeddings)}`);
  return {
    architecture,
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
