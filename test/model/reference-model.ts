/**
 * A float64 Mamba LM forward written from the Hugging Face MambaForCausalLM definition with the plain
 * reference ops: the model tests compare the backend model's logits with it and its gradients with
 * central differences of this loss.
 */
import type { MambaConfig } from '../../src/model/config.js';
import { conv1dRef, crossEntropyRef, map, matmulRef, rmsNormRef, scanRef, siluRef, softplusRef, type F64 } from '../backend/reference.js';

/** Columns [from, from + width) of an (M, C) matrix. */
function columns(x: F64, M: number, C: number, from: number, width: number): F64 {
  const out = new Float64Array(M * width);
  for (let m = 0; m < M; m++) for (let j = 0; j < width; j++) out[m * width + j] = x[m * C + from + j];
  return out;
}

/** The logits; `residuals`, when given, receives the residual stream after each layer (index 0 = the embeddings). */
export function referenceLogits(config: MambaConfig, p: Map<string, F64>, tokens: Int32Array, batch: number, L: number, residuals?: F64[]): F64 {
  const { d_model: d, d_state: N, dt_rank: R, d_conv: K, vocab_size: V, layer_norm_epsilon: eps } = config;
  const E = config.expand * d;
  const M = batch * L;
  const emb = p.get('backbone.embeddings.weight')!;
  let x = new Float64Array(M * d);
  for (let m = 0; m < M; m++) for (let i = 0; i < d; i++) x[m * d + i] = emb[tokens[m] * d + i];
  residuals?.push(x);
  for (let l = 0; l < config.n_layers; l++) {
    const w = (name: string) => p.get(`backbone.layers.${l}.${name}`)!;
    const h = rmsNormRef(x, w('norm.weight'), eps, d);
    const xz = matmulRef(h, w('mixer.in_proj.weight'), M, 2 * E, d, false, true);
    const inX = columns(xz, M, 2 * E, 0, E);
    const z = columns(xz, M, 2 * E, E, E);
    const u = map(conv1dRef(inX, w('mixer.conv1d.weight'), w('mixer.conv1d.bias'), batch, L, E, K), siluRef);
    const xDbl = matmulRef(u, w('mixer.x_proj.weight'), M, R + 2 * N, E, false, true);
    const dt = columns(xDbl, M, R + 2 * N, 0, R);
    const bm = columns(xDbl, M, R + 2 * N, R, N);
    const cm = columns(xDbl, M, R + 2 * N, R + N, N);
    const dtBias = w('mixer.dt_proj.bias');
    const delta = map(matmulRef(dt, w('mixer.dt_proj.weight'), M, E, R, false, true), (v, i) => softplusRef(v + dtBias[i % E]));
    const y = scanRef(u, delta, w('mixer.A_log'), bm, cm, w('mixer.D'), batch, L, E, N);
    const gated = map(y, (v, i) => v * siluRef(z[i]));
    const branch = matmulRef(gated, w('mixer.out_proj.weight'), M, d, E, false, true);
    x = map(x, (v, i) => v + branch[i]);
    residuals?.push(x);
  }
  const xf = rmsNormRef(x, p.get('backbone.norm_f.weight')!, eps, d);
  const head = config.tie_embeddings ? emb : p.get('lm_head.weight')!;
  return matmulRef(xf, head, M, V, d, false, true);
}

export function referenceLoss(config: MambaConfig, p: Map<string, F64>, tokens: Int32Array, targets: Int32Array, batch: number, L: number): number {
  return crossEntropyRef(referenceLogits(config, p, tokens, batch, L), targets, config.vocab_size);
}
