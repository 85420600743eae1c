import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_FILE, writeCheckpoint } from '../../src/train/checkpoint.js';
import { checkpointConfigJson, configJsonText, modelConfigFromJson } from '../../src/train/config-json.js';
import { UserError } from '../../src/util/errors.js';
import { configFromPreset, validateConfig, type MambaConfig } from '../../src/model/config.js';

const GPT = configFromPreset('othello-base-gpt', 61, 59);

const CONFIG: MambaConfig = {
  architecture: 'mamba', d_model: 256, n_layers: 8, d_state: 16, expand: 2, d_conv: 4, dt_rank: 16, vocab_size: 61,
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

  it('writes every field transformers types as float with a decimal point or an exponent', () => {
    // MambaConfig's float fields in transformers 5 (its strict config validation refuses an int there).
    const floatFields = ['layer_norm_epsilon', 'initializer_range', 'time_step_scale', 'time_step_min', 'time_step_max', 'time_step_floor'];
    const dir = mkdtempSync(join(tmpdir(), 'gamba-config-'));
    try {
      writeCheckpoint(dir, { config: checkpointConfigJson(CONFIG, { game: 'othello', preset: 'othello-base' }), model: new Map() });
      const text = readFileSync(join(dir, CONFIG_FILE), 'utf8');
      for (const field of floatFields) {
        const literal = new RegExp(`"${field}": ([^,\\n]+)`).exec(text)?.[1];
        expect(literal, field).toBeDefined();
        expect(literal, field).toMatch(/^-?\d+(\.\d+([eE][-+]?\d+)?|[eE][-+]?\d+)$/);
      }
      expect(text).toContain('"time_step_scale": 1.0');
      // The same values come back, and nothing else changed.
      expect(JSON.parse(text)).toEqual(checkpointConfigJson(CONFIG, { game: 'othello', preset: 'othello-base' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes float fields as floats at any depth and leaves other integers alone', () => {
    const text = configJsonText({ n_layers: 8, nested: { initializer_range: 2, layer_norm_epsilon: 1e-21 }, time_step_min: 0.25 });
    expect(text).toBe('{\n  "n_layers": 8,\n  "nested": {\n    "initializer_range": 2.0,\n    "layer_norm_epsilon": 1e-21\n  },\n  "time_step_min": 0.25\n}\n');
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
      config: { architecture: 'mamba', d_model: 768, n_layers: 24, d_state: 16, expand: 2, d_conv: 4, dt_rank: 48, vocab_size: 50280, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0 },
      game: null,
      preset: null,
    });
  });

  it('refuses what it cannot load', () => {
    expect(() => modelConfigFromJson({ model_type: 'llama', hidden_size: 8 }, '/x/config.json')).toThrow(UserError);
    expect(() => modelConfigFromJson({ model_type: 'llama' }, '/x/config.json')).toThrow(/^\/x\/config\.json: not a model config gamba reads/);
    expect(() => modelConfigFromJson({ model_type: 'mamba', hidden_size: 8, use_bias: true }, 'c.json')).toThrow(/use_bias true/);
  });

  it('a transformer: the GPT2Config keys transformers reads, float fields as floats, and back', () => {
    const json = checkpointConfigJson(GPT, { game: 'othello', preset: 'othello-base-gpt' });
    expect(json).toMatchObject({
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 192, n_layer: 8, n_head: 8, n_positions: 59, vocab_size: 61,
      activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true, architecture: 'transformer',
    });
    const text = configJsonText(json);
    for (const field of ['layer_norm_epsilon', 'initializer_range', 'resid_pdrop', 'embd_pdrop', 'attn_pdrop']) {
      expect(new RegExp(`"${field}": ([^,\\n]+)`).exec(text)?.[1], field).toMatch(/^-?\d+(\.\d+([eE][-+]?\d+)?|[eE][-+]?\d+)$/);
    }
    expect(modelConfigFromJson(JSON.parse(text), 'config.json')).toEqual({ config: GPT, game: 'othello', preset: 'othello-base-gpt' });
  });

  it('maps a GPT2Config written by transformers, and refuses a GPT-2 variant gamba does not compute', () => {
    const hf = { model_type: 'gpt2', n_embd: 64, n_layer: 3, n_head: 4, n_positions: 128, vocab_size: 61, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', n_inner: null };
    const { config } = modelConfigFromJson(hf, 'c.json');
    expect(validateConfig(config, 'c.json')).toEqual({ architecture: 'transformer', d_model: 64, n_layers: 3, n_heads: 4, n_positions: 128, vocab_size: 61, layer_norm_epsilon: 1e-5, pad_token_id: 0 });
    expect(() => modelConfigFromJson({ ...hf, activation_function: 'relu' }, 'c.json')).toThrow(/^c\.json: activation_function "relu" is not supported/);
    expect(() => modelConfigFromJson({ ...hf, n_inner: 100 }, 'c.json')).toThrow(/n_inner 100 is not supported/);
    expect(() => modelConfigFromJson({ ...hf, tie_word_embeddings: false }, 'c.json')).toThrow(/tie_word_embeddings false is not supported/);
  });
});
