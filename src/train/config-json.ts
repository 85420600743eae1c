/**
 * config.json of a checkpoint: gamba's own model config (snake_case, as ModelConfig) plus the keys of
 * Hugging Face's config class of the architecture (`MambaConfig`, or `GPT2Config` for the transformer),
 * so `AutoModelForCausalLM.from_pretrained(dir)` loads the directory as is. Reading accepts either form: a
 * config written by `transformers` (no `d_model`) is mapped back.
 */
import type { GptConfig, MambaConfig, ModelConfig } from '../model/config.js';
import { UserError } from '../util/errors.js';

/** The game and preset a model was trained for; null for a model made elsewhere (the keys are left out). */
export interface CheckpointIdentity {
  game: string | null;
  preset: string | null;
}

/**
 * The fields Hugging Face's config classes type as float. transformers validates those types when it
 * loads a config, and refuses an integer there (`time_step_scale: 1`), so they are written as `1.0`.
 */
export const FLOAT_CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'layer_norm_epsilon',
  'initializer_range',
  'time_step_scale',
  'time_step_min',
  'time_step_max',
  'time_step_floor',
  'resid_pdrop',
  'embd_pdrop',
  'attn_pdrop',
]);

/**
 * config.json's text: JSON as JSON.stringify writes it, except that every field of FLOAT_CONFIG_FIELDS
 * holding a number is written as a float literal (a decimal point or an exponent), at any depth.
 */
export function configJsonText(json: Record<string, unknown>): string {
  // JSON.stringify has no way to write 1 as 1.0: mark those numbers, then write the marks out.
  const mark = '\u0000float:';
  const text = JSON.stringify(
    json,
    (key, value) => (FLOAT_CONFIG_FIELDS.has(key) && typeof value === 'number' && Number.isFinite(value) ? mark + floatLiteral(value) : value),
    2,
  );
  return text.replace(/"\\u0000float:([^"]+)"/g, '$1') + '\n';
}

/** A finite number as a JSON literal that Python's json module reads as a float. */
export function floatLiteral(value: number): string {
  const text = JSON.stringify(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/** The config.json object for a model. */
export function checkpointConfigJson(config: ModelConfig, identity: CheckpointIdentity): Record<string, unknown> {
  return config.architecture === 'transformer' ? gptConfigJson(config, identity) : mambaConfigJson(config, identity);
}

function identityKeys(identity: CheckpointIdentity): Record<string, string> {
  return { ...(identity.game !== null ? { game: identity.game } : {}), ...(identity.preset !== null ? { preset: identity.preset } : {}) };
}

function gptConfigJson(config: GptConfig, identity: CheckpointIdentity): Record<string, unknown> {
  return {
    // gamba
    architecture: config.architecture,
    d_model: config.d_model,
    n_layers: config.n_layers,
    n_heads: config.n_heads,
    n_positions: config.n_positions,
    vocab_size: config.vocab_size,
    layer_norm_epsilon: config.layer_norm_epsilon,
    pad_token_id: config.pad_token_id,
    ...identityKeys(identity),
    // Hugging Face transformers GPT2Config
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: config.d_model,
    n_layer: config.n_layers,
    n_head: config.n_heads,
    n_inner: null,
    activation_function: 'gelu_new',
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: true,
    bos_token_id: config.pad_token_id,
    eos_token_id: config.pad_token_id,
    use_cache: true,
    torch_dtype: 'float32',
  };
}

function mambaConfigJson(config: MambaConfig, identity: CheckpointIdentity): Record<string, unknown> {
  return {
    // gamba
    architecture: config.architecture,
    d_model: config.d_model,
    n_layers: config.n_layers,
    d_state: config.d_state,
    expand: config.expand,
    d_conv: config.d_conv,
    dt_rank: config.dt_rank,
    vocab_size: config.vocab_size,
    tie_embeddings: config.tie_embeddings,
    layer_norm_epsilon: config.layer_norm_epsilon,
    pad_token_id: config.pad_token_id,
    ...identityKeys(identity),
    // Hugging Face transformers MambaConfig
    architectures: ['MambaForCausalLM'],
    model_type: 'mamba',
    hidden_size: config.d_model,
    num_hidden_layers: config.n_layers,
    state_size: config.d_state,
    intermediate_size: config.expand * config.d_model,
    conv_kernel: config.d_conv,
    time_step_rank: config.dt_rank,
    use_bias: false,
    use_conv_bias: true,
    hidden_act: 'silu',
    residual_in_fp32: true,
    tie_word_embeddings: config.tie_embeddings,
    // The games have no BOS/EOS tokens: padding stands in for both, as in HF's defaults.
    bos_token_id: config.pad_token_id,
    eos_token_id: config.pad_token_id,
    time_step_scale: 1.0,
    time_step_min: 0.001,
    time_step_max: 0.1,
    time_step_init_scheme: 'random',
    time_step_floor: 1e-4,
    initializer_range: 0.1,
    rescale_prenorm_residual: false,
    use_cache: true,
    torch_dtype: 'float32',
  };
}

/**
 * The model config recorded in a config.json object (gamba's keys, or Hugging Face's when gamba's are
 * absent) and the game and preset it names (null when it does not). Field checks are left to the
 * model's validateConfig; this only maps names and refuses a config with neither form.
 */
export function modelConfigFromJson(json: Record<string, unknown>, file: string): { config: Record<string, unknown>; game: string | null; preset: string | null } {
  const game = typeof json.game === 'string' ? json.game : null;
  const preset = typeof json.preset === 'string' ? json.preset : null;
  if ('d_model' in json) {
    const architecture = json.architecture ?? 'mamba';
    const keys = architecture === 'transformer' ? GPT_KEYS : MAMBA_KEYS;
    const config: Record<string, unknown> = { architecture };
    for (const key of keys) config[key] = json[key];
    return { config, game, preset };
  }
  if (json.model_type === 'gpt2' && typeof json.n_embd === 'number') return { config: gptConfigFromHuggingFace(json, file), game, preset };
  if (json.model_type === 'mamba' && typeof json.hidden_size === 'number') {
    const d = json.hidden_size;
    const intermediate = typeof json.intermediate_size === 'number' ? json.intermediate_size : 2 * d;
    const rank = json.time_step_rank === 'auto' || json.time_step_rank === undefined ? Math.ceil(d / 16) : json.time_step_rank;
    if (json.use_bias === true) throw new UserError(`${file}: use_bias true (projection biases) is not supported`);
    if (json.use_conv_bias === false) throw new UserError(`${file}: use_conv_bias false is not supported`);
    const config = {
      architecture: 'mamba',
      d_model: d,
      n_layers: json.num_hidden_layers,
      d_state: json.state_size ?? 16,
      expand: intermediate / d,
      d_conv: json.conv_kernel ?? 4,
      dt_rank: rank,
      vocab_size: json.vocab_size,
      tie_embeddings: json.tie_word_embeddings ?? true,
      layer_norm_epsilon: json.layer_norm_epsilon ?? 1e-5,
      pad_token_id: json.pad_token_id ?? 0,
    };
    return { config, game, preset };
  }
  throw new UserError(`${file}: not a model config gamba reads (neither gamba's d_model nor Hugging Face's model_type "mamba" or "gpt2")`);
}

const MAMBA_KEYS: readonly (keyof MambaConfig)[] = ['d_model', 'n_layers', 'd_state', 'expand', 'd_conv', 'dt_rank', 'vocab_size', 'tie_embeddings', 'layer_norm_epsilon', 'pad_token_id'];
const GPT_KEYS: readonly (keyof GptConfig)[] = ['d_model', 'n_layers', 'n_heads', 'n_positions', 'vocab_size', 'layer_norm_epsilon', 'pad_token_id'];

/** GPT2Config's keys as gamba's transformer config; a GPT-2 variant gpt.ts does not compute is refused. */
function gptConfigFromHuggingFace(json: Record<string, unknown>, file: string): Record<string, unknown> {
  const d = json.n_embd as number;
  const activation = json.activation_function ?? 'gelu_new';
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  if (activation !== 'gelu_new' && activation !== 'gelu_pytorch_tanh') throw new UserError(`${file}: activation_function ${JSON.stringify(activation)} is not supported (gamba's GPT uses the tanh GELU, "gelu_new")`);
  if (json.n_inner !== undefined && json.n_inner !== null && json.n_inner !== 4 * d) throw new UserError(`${file}: n_inner ${JSON.stringify(json.n_inner)} is not supported (gamba's GPT has an MLP of 4 n_embd = ${4 * d})`);
  if (json.tie_word_embeddings === false) throw new UserError(`${file}: tie_word_embeddings false is not supported (gamba's GPT ties lm_head to wte)`);
  if (json.scale_attn_by_inverse_layer_idx === true) throw new UserError(`${file}: scale_attn_by_inverse_layer_idx true is not supported`);
  if (json.scale_attn_weights === false) throw new UserError(`${file}: scale_attn_weights false is not supported`);
  return {
    architecture: 'transformer',
    d_model: d,
    n_layers: json.n_layer,
    n_heads: json.n_head,
    n_positions: json.n_positions,
    vocab_size: json.vocab_size,
    layer_norm_epsilon: json.layer_norm_epsilon ?? 1e-5,
    pad_token_id: json.pad_token_id ?? 0,
  };
}
