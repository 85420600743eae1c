import { describe, expect, it } from 'vitest';
import { configFromPreset, PRESETS, validateConfig, type MambaConfig, type MambaPreset } from '../../src/model/config.js';
import { parameterCount, presetSummary } from '../../src/model/models.js';
import { UserError } from '../../src/util/errors.js';

describe('presets', () => {
  it('othello-base is d = 256 x 8 layers and chess-base d = 512 x 16, both with the Mamba defaults', () => {
    expect(configFromPreset('othello-base', 61, 59)).toEqual({
      architecture: 'mamba', d_model: 256, n_layers: 8, d_state: 16, expand: 2, d_conv: 4, dt_rank: 16, vocab_size: 61, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0,
    });
    const chess = configFromPreset('chess-base', 32, 1023) as MambaConfig;
    expect([chess.d_model, chess.n_layers, chess.dt_rank, chess.vocab_size]).toEqual([512, 16, 32, 32]);
  });

  it('tiny is small enough for the CPU: d_model <= 96, d_state 16', () => {
    expect(PRESETS.tiny.d_model).toBeLessThanOrEqual(96);
    expect((PRESETS.tiny as MambaPreset).d_state).toBe(16);
  });

  it('the transformers: Li\'s Othello-GPT and Karvonen\'s chess GPT (8 x 512, 8 heads) take their context from the dataset', () => {
    expect(configFromPreset('othello-gpt', 61, 59)).toEqual({
      architecture: 'transformer', d_model: 512, n_layers: 8, n_heads: 8, n_positions: 59, vocab_size: 61, layer_norm_epsilon: 1e-5, pad_token_id: 0,
    });
    expect(configFromPreset('chess-gpt', 32, 1023)).toMatchObject({ architecture: 'transformer', d_model: 512, n_layers: 8, n_heads: 8, n_positions: 1023 });
  });

  it('the othello_mamba comparison sizes: a transformer matched to othello-base, about 11M and 21M, and its 16-layer Mambas of about 9M and 17M', () => {
    const size = (preset: string) => parameterCount(configFromPreset(preset, 61, 59));
    const base = size('othello-base');
    expect(Math.abs(size('othello-base-gpt') - base) / base).toBeLessThan(0.03);
    expect(Math.abs(size('othello-gpt-11m') - 11e6) / 11e6).toBeLessThan(0.03);
    expect(Math.abs(size('othello-gpt-21m') - 21e6) / 21e6).toBeLessThan(0.03);
    expect(Math.abs(size('othello-mamba-9m') - 9e6) / 9e6).toBeLessThan(0.03);
    expect(Math.abs(size('othello-mamba-17m') - 17e6) / 17e6).toBeLessThan(0.03);
    expect(configFromPreset('othello-mamba-9m', 61, 59)).toMatchObject({ architecture: 'mamba', n_layers: 16, d_model: 288 });
    expect(Math.abs(size('quickstart-gpt') - size('quickstart')) / size('quickstart')).toBeLessThan(0.03);
    expect(presetSummary()).toContain('othello-base-gpt (transformer, 3.6M)');
    expect(presetSummary()).toContain('othello-base (mamba, 3.5M)');
  });

  it('the chess Mamba sized for H200 minutes: d 384 x 12 layers, about HaileyStorm\'s 11M', () => {
    const config = configFromPreset('chess-mamba-12m', 32, 1023);
    expect(config).toMatchObject({ architecture: 'mamba', n_layers: 12, d_model: 384, d_state: 16 });
    expect(Math.abs(parameterCount(config) - 11.6e6) / 11.6e6).toBeLessThan(0.01);
  });

  it('an unknown preset is a UserError listing the presets', () => {
    expect(() => configFromPreset('huge', 61, 59)).toThrow(UserError);
    expect(() => configFromPreset('huge', 61, 59)).toThrow(/unknown model preset 'huge' \(expected one of: tiny, quickstart, othello-base, othello-mamba-9m, othello-mamba-17m, chess-base, chess-mamba-12m, quickstart-gpt, /);
  });
});

describe('validateConfig', () => {
  const good = configFromPreset('tiny', 61, 59);
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

describe('validateConfig of a transformer', () => {
  const good = configFromPreset('quickstart-gpt', 61, 59);
  it('accepts its own preset, and a config without architecture is a Mamba (checkpoints from before the transformer)', () => {
    expect(validateConfig({ ...good, preset: 'quickstart-gpt' }, 'c.json')).toEqual(good);
    const { architecture: _, ...older } = configFromPreset('tiny', 61, 59);
    expect(validateConfig(older, 'c.json').architecture).toBe('mamba');
  });

  it.each([
    ['architecture', 'rnn', /c\.json: model config field 'architecture' must be one of "mamba", "transformer", got "rnn"/],
    ['n_heads', 0, /'n_heads' must be a positive integer, got 0/],
    ['n_positions', undefined, /c\.json: model config field 'n_positions' is missing/],
    ['n_heads', 5, /c\.json: model config field 'd_model' \(72\) must be a multiple of 'n_heads' \(5\)/],
  ])('rejects %s = %j naming the file and field', (field, value, message) => {
    const bad: Record<string, unknown> = { ...good, [field]: value };
    if (value === undefined) delete bad[field];
    expect(() => validateConfig(bad, 'c.json')).toThrow(UserError);
    expect(() => validateConfig(bad, 'c.json')).toThrow(message);
  });
});
