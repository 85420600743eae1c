import { describe, expect, it } from 'vitest';
import { configFromPreset, PRESETS, validateConfig } from '../../src/model/config.js';
import { UserError } from '../../src/util/errors.js';

describe('presets', () => {
  it('othello-base is d = 256 x 8 layers and chess-base d = 512 x 16, both with the Mamba defaults', () => {
    expect(configFromPreset('othello-base', 61)).toEqual({
      d_model: 256, n_layers: 8, d_state: 16, expand: 2, d_conv: 4, dt_rank: 16, vocab_size: 61, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0,
    });
    const chess = configFromPreset('chess-base', 32);
    expect([chess.d_model, chess.n_layers, chess.dt_rank, chess.vocab_size]).toEqual([512, 16, 32, 32]);
  });

  it('tiny is small enough for the CPU: d_model <= 96, d_state 16', () => {
    expect(PRESETS.tiny.d_model).toBeLessThanOrEqual(96);
    expect(PRESETS.tiny.d_state).toBe(16);
  });

  it('an unknown preset is a UserError listing the presets', () => {
    expect(() => configFromPreset('huge', 61)).toThrow(UserError);
    expect(() => configFromPreset('huge', 61)).toThrow(/unknown model preset 'huge' \(expected one of: tiny, quickstart, othello-base, chess-base\)/);
  });
});

describe('validateConfig', () => {
  const good = configFromPreset('tiny', 61);
  it('accepts a good config and keeps only the model fields', () => {
    expect(validateConfig({ ...good, game: 'othello' }, 'c.json')).toEqual(good);
  });

  it.each([
    ['d_model', 0, /c\.json: model config field 'd_model' must be a positive integer, got 0/],
    ['n_layers', 2.5, /'n_layers' must be a positive integer, got 2\.5/],
    ['d_state', '16', /'d_state' must be a positive integer, got "16"/],
    ['vocab_size', undefined, /c\.json: model config field 'vocab_size' is missing/],
    ['tie_embeddings', 'yes', /'tie_embeddings' must be true or false/],
    ['layer_norm_epsilon', -1, /'layer_norm_epsilon' must be a number in \(0, 1\)/],
    ['pad_token_id', 61, /'pad_token_id' must be an integer in 0\.\.60, got 61/],
  ])('rejects %s = %j naming the file and field', (field, value, message) => {
    const bad: Record<string, unknown> = { ...good, [field]: value };
    if (value === undefined) delete bad[field];
    expect(() => validateConfig(bad, 'c.json')).toThrow(UserError);
    expect(() => validateConfig(bad, 'c.json')).toThrow(message);
  });

  it('rejects something that is not an object', () => {
    expect(() => validateConfig([1], 'c.json')).toThrow(/c\.json: the model config is not a JSON object/);
  });
});
