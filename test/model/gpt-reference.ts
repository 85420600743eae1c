/** The GPT-2 decoder in float64, straight from its definition, for the GptLM tests. */
import type { GptConfig } from '../../src/model/config.js';
import { attentionRef, crossEntropyRef, geluRef, layerNormRef, map, matmulRef, type F64 } from '../backend/reference.js';

/** y = x W + b, W: (in, out) as GPT-2's Conv1D stores it. */
function linearRef(x: F64, w: F64, b: F64, M: number, inDim: number, outDim: number): F64 {
  return map(matmulRef(x, w, M, outDim, inDim, false, false), (v, i) => v + b[i % outDim]);
}

/** The logits; `residuals`, when given, receives the residual stream after each layer (index 0 = the embeddings). */
export function gptReferenceLogits(config: GptConfig, p: Map<string, F64>, tokens: Int32Array, batch: number, L: number, residuals?: F64[]): F64 {
  const { d_model: d, vocab_size: V, layer_norm_epsilon: eps } = config;
  const M = batch * L;
  const wte = p.get('transformer.wte.weight')!;
  const wpe = p.get('transformer.wpe.weight')!;
  let x = new Float64Array(M * d);
  for (let m = 0; m < M; m++) for (let i = 0; i < d; i++) x[m * d + i] = wte[tokens[m] * d + i] + wpe[(m % L) * d + i];
  residuals?.push(x);
  for (let layer = 0; layer < config.n_layers; layer++) {
    const q = (name: string) => p.get(`transformer.h.${layer}.${name}`)!;
    const h = layerNormRef(x, q('ln_1.weight'), q('ln_1.bias'), eps, d);
    const qkv = linearRef(h, q('attn.c_attn.weight'), q('attn.c_attn.bias'), M, d, 3 * d);
    const attn = attentionRef(qkv, batch, L, config.n_heads, d);
    const proj = linearRef(attn, q('attn.c_proj.weight'), q('attn.c_proj.bias'), M, d, d);
    const mid = map(x, (v, i) => v + proj[i]);
    const h2 = layerNormRef(mid, q('ln_2.weight'), q('ln_2.bias'), eps, d);
    const fc = map(linearRef(h2, q('mlp.c_fc.weight'), q('mlp.c_fc.bias'), M, d, 4 * d), geluRef);
    const out = linearRef(fc, q('mlp.c_proj.weight'), q('mlp.c_proj.bias'), M, 4 * d, d);
    x = map(mid, (v, i) => v + out[i]);
    residuals?.push(x);
  }
  const final = layerNormRef(x, p.get('transformer.ln_f.weight')!, p.get('transformer.ln_f.bias')!, eps, d);
  return matmulRef(final, wte, M, V, d, false, true);
}

export function gptReferenceLoss(config: GptConfig, p: Map<string, F64>, tokens: Int32Array, targets: Int32Array, batch: number, L: number): number {
  return crossEntropyRef(gptReferenceLogits(config, p, tokens, batch, L), targets, config.vocab_size);
}
