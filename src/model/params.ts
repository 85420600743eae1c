/**
 * The model's parameter tensors: Hugging Face `MambaForCausalLM` names and shapes (so checkpoints load
 * in `transformers` and back), and their initialisation as in mamba.py / mamba-ssm.
 *
 * Weight matrices are [out, in] as in PyTorch (a linear layer is y = x W^T). With d = d_model,
 * E = expand * d, N = d_state, R = dt_rank, K = d_conv, V = vocab_size:
 *   backbone.embeddings.weight                  [V, d]
 *   backbone.layers.{i}.norm.weight             [d]
 *   backbone.layers.{i}.mixer.A_log             [E, N]
 *   backbone.layers.{i}.mixer.D                 [E]
 *   backbone.layers.{i}.mixer.conv1d.weight     [E, 1, K]
 *   backbone.layers.{i}.mixer.conv1d.bias       [E]
 *   backbone.layers.{i}.mixer.in_proj.weight    [2E, d]     rows: in_x (E), then z (E)
 *   backbone.layers.{i}.mixer.x_proj.weight     [R + 2N, E] rows: dt (R), B (N), C (N)
 *   backbone.layers.{i}.mixer.dt_proj.weight    [E, R]
 *   backbone.layers.{i}.mixer.dt_proj.bias      [E]
 *   backbone.layers.{i}.mixer.out_proj.weight   [d, E]
 *   backbone.norm_f.weight                      [d]
 *   lm_head.weight                              [V, d]      only when the embeddings are not tied
 * The order is the PyTorch state_dict order of the HF module (a module's own parameters before its
 * submodules').
 */
import type { Rng } from '../util/rng.js';
import { innerSize, type MambaConfig } from './config.js';

export type ParameterShape = [name: string, shape: number[]];

/** Every parameter's name and shape, in a stable order. */
export function parameterShapes(config: MambaConfig): ParameterShape[] {
  const d = config.d_model;
  const E = innerSize(config);
  const N = config.d_state;
  const R = config.dt_rank;
  const K = config.d_conv;
  const V = config.vocab_size;
  const shapes: ParameterShape[] = [['backbone.embeddings.weight', [V, d]]];
  for (let i = 0; i < config.n_layers; i++) {
    const p = `backbone.layers.${i}`;
    shapes.push(
      [`${p}.norm.weight`, [d]],
      [`${p}.mixer.A_log`, [E, N]],
      [`${p}.mixer.D`, [E]],
      [`${p}.mixer.conv1d.weight`, [E, 1, K]],
      [`${p}.mixer.conv1d.bias`, [E]],
      [`${p}.mixer.in_proj.weight`, [2 * E, d]],
      [`${p}.mixer.x_proj.weight`, [R + 2 * N, E]],
      [`${p}.mixer.dt_proj.weight`, [E, R]],
      [`${p}.mixer.dt_proj.bias`, [E]],
      [`${p}.mixer.out_proj.weight`, [d, E]],
    );
  }
  shapes.push(['backbone.norm_f.weight', [d]]);
  if (!config.tie_embeddings) shapes.push(['lm_head.weight', [V, d]]);
  return shapes;
}

/** Standard deviation of the linear and embedding weights (mamba.py's base_std, HF's 0.02). */
export const INIT_STD = 0.02;
/** Range of the initial step sizes delta, sampled log-uniformly (mamba-ssm's dt_min, dt_max, dt_init_floor). */
export const DT_MIN = 0.001;
export const DT_MAX = 0.1;
export const DT_FLOOR = 1e-4;

function normal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.nextFloat() - 1) * bound;
  return out;
}

/**
 * Fresh parameters, drawn from `rng` in parameterShapes order:
 * - embeddings, in_proj, x_proj (and an untied lm_head): normal, std 0.02;
 * - out_proj: normal, std 0.02 / sqrt(n_layers), so the residual stream does not grow with depth
 *   (one residual branch per Mamba layer, hence n_layers rather than mamba.py's 2 * n_layers);
 * - conv1d weight and bias: PyTorch's Conv1d default, uniform +-1/sqrt(fan_in), fan_in = d_conv;
 * - dt_proj.weight: uniform +-dt_rank^-0.5; dt_proj.bias: softplus^-1(dt), dt log-uniform in
 *   [dt_min, dt_max] floored at 1e-4, so softplus(bias) starts inside that range;
 * - A_log[e, n] = log(n + 1) (S4D-real), D = 1, norms = 1.
 */
export function initParameters(config: MambaConfig, rng: Rng): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  const N = config.d_state;
  for (const [name, shape] of parameterShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const leaf = name.slice(name.lastIndexOf('mixer.') >= 0 ? name.lastIndexOf('mixer.') + 6 : 0);
    let value: Float32Array;
    if (name === 'backbone.embeddings.weight' || name === 'lm_head.weight') {
      value = normal(rng, n, INIT_STD);
    } else if (name.endsWith('norm.weight') || name.endsWith('norm_f.weight')) {
      value = new Float32Array(n).fill(1);
    } else if (leaf === 'in_proj.weight' || leaf === 'x_proj.weight') {
      value = normal(rng, n, INIT_STD);
    } else if (leaf === 'out_proj.weight') {
      value = normal(rng, n, INIT_STD / Math.sqrt(config.n_layers));
    } else if (leaf === 'conv1d.weight' || leaf === 'conv1d.bias') {
      value = uniform(rng, n, 1 / Math.sqrt(config.d_conv));
    } else if (leaf === 'dt_proj.weight') {
      value = uniform(rng, n, Math.pow(config.dt_rank, -0.5));
    } else if (leaf === 'dt_proj.bias') {
      value = new Float32Array(n);
      const logMin = Math.log(DT_MIN);
      const logMax = Math.log(DT_MAX);
      for (let i = 0; i < n; i++) {
        const dt = Math.max(DT_FLOOR, Math.exp(rng.nextFloat() * (logMax - logMin) + logMin));
        // inverse softplus: dt + log(1 - e^-dt)
        value[i] = dt + Math.log(-Math.expm1(-dt));
      }
    } else if (leaf === 'A_log') {
      value = new Float32Array(n);
      for (let i = 0; i < n; i++) value[i] = Math.log((i % N) + 1);
    } else if (leaf === 'D') {
      value = new Float32Array(n).fill(1);
    } else {
      throw new Error(`no initialisation for parameter ${name}`);
    }
    params.set(name, value);
  }
  return params;
}
