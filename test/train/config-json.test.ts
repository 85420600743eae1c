import { describe, expect, it } from 'vitest';
import { checkpointConfigJson, modelConfigFromJson } from '../../src/train/config-json.js';
import { UserError } from '../../src/util/errors.js';

const CONFIG = {
  d_model: 256, n_layers: 8, d_state: 16, expand: 2, d_conv: 4, dt_rank: 16, vocab_size: 61,
  tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0,
};

describe('config.json', () => {
  it('carries the Hugging Face MambaConfig keys transformers reads', () => {
    const json = checkpointConfigJson(CONFIG, { game: 'othello', preset: 'othello-base' });
    expect(json).toMatchObject({
      model_type: 'mamba', architectures: ['MambaForCausalLM'], hidden_size: 256, num_hidden_layers: 8, state_size: 16,
      intermediate_size: 512, conv_kernel: 4, time_step_rank: 16, use_bias: false, use_conv_bias: true,
      layer_norm_epsilon: 1e-5, tie_word_embeddings: true, pad_token_id: 0, vocab_size: 61, hidden_act: 'silu',
      game: 'othello', preset: 'othello-base',
    });
  });

  it('reads its own config back', () => {
    const back = modelConfigFromJson(checkpointConfigJson(CONFIG, { game: 'othello', preset: 'tiny' }), 'config.json');
    expect(back).toEqual({ config: CONFIG, game: 'othello', preset: 'tiny' });
  });

  it('maps a config written by transformers (no gamba keys)', () => {
    const hf = {
      model_type: 'mamba', hidden_size: 768, num_hidden_layers: 24, state_size: 16, expand: 2, intermediate_size: 1536,
      conv_kernel: 4, time_step_rank: 'auto', vocab_size: 50280, use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5,
      pad_token_id: 0, tie_word_embeddings: true,
    };
    expect(modelConfigFromJson(hf, 'c.json')).toEqual({
      config: { d_model: 768, n_layers: 24, d_state: 16, expand: 2, d_conv: 4, dt_rank: 48, vocab_size: 50280, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0 },
      game: null,
      preset: null,
    });
  });

  it('refuses what it cannot load', () => {
    expect(() => modelConfigFromJson({ model_type: 'llama', hidden_size: 8 }, '/x/config.json')).toThrow(UserError);
    expect(() => modelConfigFromJson({ model_type: 'llama' }, '/x/config.json')).toThrow(/^\/x\/config\.json: not a Mamba model config/);
    expect(() => modelConfigFromJson({ model_type: 'mamba', hidden_size: 8, use_bias: true }, 'c.json')).toThrow(/use_bias true/);
  });
});
