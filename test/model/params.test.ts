/**
 * Parameter names and shapes against the Hugging Face MambaForCausalLM definition (written out here from
 * modeling_mamba.py: MambaMixer registers A_log and D itself, then conv1d, in_proj, x_proj, dt_proj,
 * out_proj; MambaBlock has norm then mixer; MambaModel has embeddings, layers, norm_f), and the mamba.py
 * initialisation.
 */
import { describe, expect, it } from 'vitest';
import { configFromPreset, validateConfig, type MambaConfig } from '../../src/model/config.js';
import { initParameters, parameterShapes } from '../../src/model/params.js';
import { Rng } from '../../src/util/rng.js';

const mambaPreset = (name: string, vocab: number) => configFromPreset(name, vocab, 59) as MambaConfig;

/** HF shapes for hidden_size d, intermediate_size E, state_size N, time_step_rank R, conv_kernel K, vocab V. */
function hfParameters(layers: number, d: number, E: number, N: number, R: number, K: number, V: number, tied: boolean): [string, number[]][] {
  const out: [string, number[]][] = [['backbone.embeddings.weight', [V, d]]];
  for (let i = 0; i < layers; i++) {
    out.push(
      [`backbone.layers.${i}.norm.weight`, [d]],
      [`backbone.layers.${i}.mixer.A_log`, [E, N]],
      [`backbone.layers.${i}.mixer.D`, [E]],
      [`backbone.layers.${i}.mixer.conv1d.weight`, [E, 1, K]], // nn.Conv1d(E, E, K, groups=E)
      [`backbone.layers.${i}.mixer.conv1d.bias`, [E]],
      [`backbone.layers.${i}.mixer.in_proj.weight`, [2 * E, d]], // nn.Linear(d, 2E, bias=False)
      [`backbone.layers.${i}.mixer.x_proj.weight`, [R + 2 * N, E]], // nn.Linear(E, R + 2N, bias=False)
      [`backbone.layers.${i}.mixer.dt_proj.weight`, [E, R]], // nn.Linear(R, E, bias=True)
      [`backbone.layers.${i}.mixer.dt_proj.bias`, [E]],
      [`backbone.layers.${i}.mixer.out_proj.weight`, [d, E]], // nn.Linear(E, d, bias=False)
    );
  }
  out.push(['backbone.norm_f.weight', [d]]);
  if (!tied) out.push(['lm_head.weight', [V, d]]);
  return out;
}

describe('parameterShapes', () => {
  it('othello-base: the HF names and shapes, in state_dict order, lm_head omitted when tied', () => {
    const config = mambaPreset('othello-base', 61);
    expect(parameterShapes(config)).toEqual(hfParameters(8, 256, 512, 16, 16, 4, 61, true));
  });

  it('an untied config adds lm_head.weight [V, d]', () => {
    const config = { ...mambaPreset('tiny', 61), tie_embeddings: false };
    const t = mambaPreset('tiny', 61);
    expect(parameterShapes(config)).toEqual(hfParameters(t.n_layers, t.d_model, 2 * t.d_model, 16, Math.ceil(t.d_model / 16), 4, 61, false));
  });

  it('chess-base: 16 layers of d = 512, vocabulary 32', () => {
    const shapes = parameterShapes(mambaPreset('chess-base', 32));
    expect(shapes).toEqual(hfParameters(16, 512, 1024, 16, 32, 4, 32, true));
  });
});

describe('initParameters', () => {
  const config = validateConfig({ d_model: 64, n_layers: 4, d_state: 16, expand: 2, d_conv: 4, dt_rank: 4, vocab_size: 61, tie_embeddings: false, layer_norm_epsilon: 1e-5, pad_token_id: 0 }, 'test') as MambaConfig;
  const params = initParameters(config, new Rng(42));
  const mixer = (name: string) => params.get(`backbone.layers.1.mixer.${name}`)!;

  function std(x: Float32Array): number {
    let s = 0;
    for (const v of x) s += v * v;
    return Math.sqrt(s / x.length);
  }

  it('has every parameter at its shape', () => {
    for (const [name, shape] of parameterShapes(config)) expect(params.get(name)!.length, name).toBe(shape.reduce((a, b) => a * b, 1));
  });

  it('A_log = log(1..N) on every row, D = 1, norms = 1', () => {
    const aLog = mixer('A_log');
    for (let e = 0; e < 128; e++) for (let n = 0; n < 16; n++) expect(aLog[e * 16 + n]).toBeCloseTo(Math.log(n + 1), 6);
    expect(mixer('D').every((v) => v === 1)).toBe(true);
    expect(params.get('backbone.layers.2.norm.weight')!.every((v) => v === 1)).toBe(true);
    expect(params.get('backbone.norm_f.weight')!.every((v) => v === 1)).toBe(true);
  });

  it('softplus(dt_proj.bias) lies in [dt_min, dt_max] and spreads over it log-uniformly', () => {
    const dts = Array.from(mixer('dt_proj.bias'), (b) => Math.log1p(Math.exp(b)));
    for (const dt of dts) {
      expect(dt).toBeGreaterThanOrEqual(0.001 * (1 - 1e-5));
      expect(dt).toBeLessThanOrEqual(0.1 * (1 + 1e-5));
    }
    // log-uniform: the median of log(dt) sits near the middle of [log 0.001, log 0.1]
    const logs = dts.map(Math.log).sort((a, b) => a - b);
    expect(logs[64]).toBeGreaterThan(Math.log(0.01) - 0.6);
    expect(logs[64]).toBeLessThan(Math.log(0.01) + 0.6);
  });

  it('weights: std 0.02 (embeddings, in_proj, x_proj, lm_head), 0.02 / sqrt(n_layers) (out_proj), uniform bounds (dt_proj, conv1d)', () => {
    expect(std(params.get('backbone.embeddings.weight')!)).toBeCloseTo(0.02, 2);
    expect(std(params.get('lm_head.weight')!)).toBeCloseTo(0.02, 2);
    expect(std(mixer('in_proj.weight'))).toBeCloseTo(0.02, 2);
    expect(std(mixer('x_proj.weight'))).toBeCloseTo(0.02, 2);
    expect(std(mixer('out_proj.weight')) / 0.01).toBeCloseTo(1, 1);
    const dtW = mixer('dt_proj.weight');
    expect(Math.max(...dtW.map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(Math.max(...dtW.map(Math.abs))).toBeGreaterThan(0.45);
    const conv = mixer('conv1d.weight');
    expect(Math.max(...conv.map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(Math.max(...conv.map(Math.abs))).toBeGreaterThan(0.45);
  });

  it('is reproducible from the seed and differs between seeds', () => {
    const again = initParameters(config, new Rng(42));
    const other = initParameters(config, new Rng(43));
    expect(again.get('backbone.layers.3.mixer.in_proj.weight')).toEqual(params.get('backbone.layers.3.mixer.in_proj.weight'));
    expect(other.get('backbone.layers.3.mixer.in_proj.weight')).not.toEqual(params.get('backbone.layers.3.mixer.in_proj.weight'));
  });
});
