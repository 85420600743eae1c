/**
 * The transformer baseline: a GPT-2 decoder as Othello-GPT and Karvonen's chess GPT use (Hugging Face
 * `GPT2LMHeadModel` names and layout), written against the Backend and its TransformerOps:
 *
 *   x = wte[tokens] + wpe[positions]                                   x: (M, d), M = B * L
 *   per layer:  x = x + c_proj(attention(c_attn(LN_1(x))))             c_attn: (M, 3d), heads side by side
 *               x = x + mlp.c_proj(gelu(mlp.c_fc(LN_2(x))))            c_fc: (M, 4d)
 *   logits = LN_f(x) wte^T                                             (M, V), the head tied to wte
 *
 * A linear layer here is GPT-2's Conv1D: weight stored [in, out], y = x W + b. step() keeps each layer's
 * keys and values (B, n_positions, d) and attends the new token over them: the same logits as the
 * full-sequence path, at a cost per token that grows with the position.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { Rng } from '../util/rng.js';
import type { GptConfig } from './config.js';
import { LanguageModel, type ResidualLoss, type ResidualObserver, type StepState } from './language-model.js';

const LAYER_KEYS = ['ln1Weight', 'ln1Bias', 'attnWeight', 'attnBias', 'attnProjWeight', 'attnProjBias', 'ln2Weight', 'ln2Bias', 'fcWeight', 'fcBias', 'mlpProjWeight', 'mlpProjBias'] as const;
type LayerParams = Record<(typeof LAYER_KEYS)[number], Tensor>;

/** Hugging Face names and shapes of layer i's parameters, in LAYER_KEYS order. */
function layerShapes(config: GptConfig, i: number): [(typeof LAYER_KEYS)[number], string, number[]][] {
  const d = config.d_model;
  const p = `transformer.h.${i}`;
  return [
    ['ln1Weight', `${p}.ln_1.weight`, [d]],
    ['ln1Bias', `${p}.ln_1.bias`, [d]],
    ['attnWeight', `${p}.attn.c_attn.weight`, [d, 3 * d]],
    ['attnBias', `${p}.attn.c_attn.bias`, [3 * d]],
    ['attnProjWeight', `${p}.attn.c_proj.weight`, [d, d]],
    ['attnProjBias', `${p}.attn.c_proj.bias`, [d]],
    ['ln2Weight', `${p}.ln_2.weight`, [d]],
    ['ln2Bias', `${p}.ln_2.bias`, [d]],
    ['fcWeight', `${p}.mlp.c_fc.weight`, [d, 4 * d]],
    ['fcBias', `${p}.mlp.c_fc.bias`, [4 * d]],
    ['mlpProjWeight', `${p}.mlp.c_proj.weight`, [4 * d, d]],
    ['mlpProjBias', `${p}.mlp.c_proj.bias`, [d]],
  ];
}

/** Every parameter's Hugging Face name and shape (lm_head is tied to wte and not stored). */
export function gptParameterShapes(config: GptConfig): [string, number[]][] {
  const d = config.d_model;
  const shapes: [string, number[]][] = [['transformer.wte.weight', [config.vocab_size, d]], ['transformer.wpe.weight', [config.n_positions, d]]];
  for (let i = 0; i < config.n_layers; i++) for (const [, name, shape] of layerShapes(config, i)) shapes.push([name, shape]);
  shapes.push(['transformer.ln_f.weight', [d]], ['transformer.ln_f.bias', [d]]);
  return shapes;
}

/**
 * GPT-2's initialisation: weights normal with std 0.02, the residual projections (attn.c_proj and
 * mlp.c_proj) with 0.02 / sqrt(2 n_layers), biases 0, LayerNorm weights 1.
 */
export function initGptParameters(config: GptConfig, rng: Rng): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  for (const [name, shape] of gptParameterShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const value = new Float32Array(n);
    if (/ln_\w+\.weight$/.test(name)) value.fill(1);
    else if (!name.endsWith('.bias')) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * config.n_layers) : 0.02;
      for (let i = 0; i < n; i++) value[i] = rng.normal() * std;
    }
    params.set(name, value);
  }
  return params;
}

/** What one block's forward pass keeps for its backward pass. */
interface BlockCache {
  x: Tensor;
  ln1: { y: Tensor; mean: Tensor; rstd: Tensor };
  qkv: Tensor;
  /** lse is null in step(), which keeps nothing for a backward pass. */
  attn: { out: Tensor; lse: Tensor | null };
  mid: Tensor;
  ln2: { y: Tensor; mean: Tensor; rstd: Tensor };
  fc: Tensor;
  gelu: Tensor;
}

export class GptLM extends LanguageModel<GptConfig> {
  private readonly layers: LayerParams[] = [];
  private readonly layerGrads: LayerParams[] = [];

  constructor(backend: Backend, config: GptConfig, params: Map<string, Float32Array>) {
    if (config.d_model % config.n_heads !== 0) throw new Error(`d_model ${config.d_model} is not a multiple of n_heads ${config.n_heads}`);
    super(backend, config, gptParameterShapes(config), params);
    for (let i = 0; i < config.n_layers; i++) {
      const p = {} as LayerParams;
      const g = {} as LayerParams;
      for (const [key, name] of layerShapes(config, i)) {
        p[key] = this.params.get(name)!;
        g[key] = this.grads.get(name)!;
      }
      this.layers.push(p);
      this.layerGrads.push(g);
    }
  }

  protected override checkTokens(tokens: Int32Array, batch: number, length: number, what: string): void {
    super.checkTokens(tokens, batch, length, what);
    if (length > this.config.n_positions) throw new Error(`${what}: length ${length} is longer than the ${this.config.n_positions} positions of the model`);
  }

  /** Position ids 0..L-1 of every sequence: (M). */
  private positions(batch: number, length: number): Tensor {
    const ids = new Int32Array(batch * length);
    for (let i = 0; i < ids.length; i++) ids[i] = i % length;
    return this.backend.uploadInts(ids, [batch * length]);
  }

  /** y = x W + b for a Conv1D weight W: (in, out). */
  private linear(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
    const be = this.backend;
    const xw = be.matmul(x, weight);
    const y = be.biasAdd(xw, bias);
    be.dispose(xw);
    return y;
  }

  /** Backward of linear(): returns dx; writes dWeight = x^T dy and dBias = column sums of dy. */
  private linearBackward(x: Tensor, weight: Tensor, dy: Tensor, dWeight: Tensor, dBias: Tensor): Tensor {
    const be = this.backend;
    be.matmul(x, dy, { transA: true, into: dWeight });
    be.biasGrad(dy, dBias);
    return be.matmul(dy, weight, { transB: true });
  }

  /** x = wte[ids] + wpe[positions]: (M, d). */
  private embed(ids: Tensor, positions: Tensor): Tensor {
    const be = this.backend;
    const tokens = be.embeddingForward(ids, this.params.get('transformer.wte.weight')!);
    const where = be.embeddingForward(positions, this.params.get('transformer.wpe.weight')!);
    const x = be.add(tokens, where);
    be.dispose(tokens);
    be.dispose(where);
    return x;
  }

  /**
   * One block on x: (M, d); `attend` maps qkv: (M, 3d) to the attention output (M, d) (the sequence path's
   * causal attention, or step()'s attention over the key/value cache).
   */
  private blockForward(p: LayerParams, x: Tensor, attend: (qkv: Tensor) => BlockCache['attn']): { out: Tensor; cache: BlockCache } {
    const be = this.backend;
    const eps = this.config.layer_norm_epsilon;
    const ln1 = be.layerNormForward(x, p.ln1Weight, p.ln1Bias, eps);
    // qkv: (M, 3d); attn.out: (M, d)
    const qkv = this.linear(ln1.y, p.attnWeight, p.attnBias);
    const attn = attend(qkv);
    const attnProj = this.linear(attn.out, p.attnProjWeight, p.attnProjBias);
    const mid = be.add(x, attnProj);
    be.dispose(attnProj);
    const ln2 = be.layerNormForward(mid, p.ln2Weight, p.ln2Bias, eps);
    // fc, gelu: (M, 4d)
    const fc = this.linear(ln2.y, p.fcWeight, p.fcBias);
    const gelu = be.geluForward(fc);
    const mlpProj = this.linear(gelu, p.mlpProjWeight, p.mlpProjBias);
    const out = be.add(mid, mlpProj);
    be.dispose(mlpProj);
    return { out, cache: { x, ln1, qkv, attn, mid, ln2, fc, gelu } };
  }

  /** dx: (M, d) is dLoss/d(block output) on entry and dLoss/d(block input) on return. */
  private blockBackward(p: LayerParams, g: LayerParams, cache: BlockCache, dx: Tensor, batch: number, length: number): void {
    const be = this.backend;
    // MLP branch: dx flows to mid unchanged and through the MLP.
    const dGelu = this.linearBackward(cache.gelu, p.mlpProjWeight, dx, g.mlpProjWeight, g.mlpProjBias);
    const dFc = be.geluBackward(cache.fc, dGelu);
    be.dispose(dGelu);
    const dLn2 = this.linearBackward(cache.ln2.y, p.fcWeight, dFc, g.fcWeight, g.fcBias);
    be.dispose(dFc);
    // dx += the MLP branch's gradient through its norm
    be.layerNormBackward(cache.mid, p.ln2Weight, cache.ln2.mean, cache.ln2.rstd, dLn2, g.ln2Weight, g.ln2Bias, dx);
    be.dispose(dLn2);
    // Attention branch.
    const dAttn = this.linearBackward(cache.attn.out, p.attnProjWeight, dx, g.attnProjWeight, g.attnProjBias);
    const dQkv = be.causalAttentionBackward(cache.qkv, cache.attn.out, cache.attn.lse!, dAttn, batch, length, this.config.n_heads);
    be.dispose(dAttn);
    const dLn1 = this.linearBackward(cache.ln1.y, p.attnWeight, dQkv, g.attnWeight, g.attnBias);
    be.dispose(dQkv);
    be.layerNormBackward(cache.x, p.ln1Weight, cache.ln1.mean, cache.ln1.rstd, dLn1, g.ln1Weight, g.ln1Bias, dx);
    be.dispose(dLn1);
  }

  private disposeCache(cache: BlockCache): void {
    const { ln1, attn, ln2 } = cache;
    for (const t of [ln1.y, ln1.mean, ln1.rstd, cache.qkv, attn.out, cache.mid, ln2.y, ln2.mean, ln2.rstd, cache.fc, cache.gelu]) this.backend.dispose(t);
    if (attn.lse) this.backend.dispose(attn.lse);
  }

  /** Full-sequence forward to the logits (M, V); with `keep`, the caches for the backward pass too. */
  private forward(ids: Tensor, positions: Tensor, batch: number, length: number, keep: boolean) {
    const be = this.backend;
    let x = this.embed(ids, positions);
    const attend = (qkv: Tensor) => be.causalAttentionForward(qkv, batch, length, this.config.n_heads);
    const caches: BlockCache[] = [];
    for (const p of this.layers) {
      const { out, cache } = this.blockForward(p, x, attend);
      if (keep) caches.push(cache);
      else {
        this.disposeCache(cache);
        be.dispose(x);
      }
      x = out;
    }
    const lnF = be.layerNormForward(x, this.params.get('transformer.ln_f.weight')!, this.params.get('transformer.ln_f.bias')!, this.config.layer_norm_epsilon);
    const logits = be.matmul(lnF.y, this.params.get('transformer.wte.weight')!, { transB: true });
    if (!keep) for (const t of [x, lnF.y, lnF.mean, lnF.rstd]) be.dispose(t);
    return { logits, caches, last: x, lnF };
  }

  forwardBackward(inputs: Int32Array, targets: Int32Array, batch: number, length: number, lossScale = 1, extra?: ResidualLoss): Tensor {
    const be = this.backend;
    const { ids, targetIds } = this.uploadBatch(inputs, targets, batch, length, 'forwardBackward');
    const positions = this.positions(batch, length);
    const { logits, caches, last, lnF } = this.forward(ids, positions, batch, length, true);
    const addExtra = this.residualLossGradient(extra, caches.map((c) => c.x), last, lossScale);
    const { loss, dLogits } = be.crossEntropy(logits, targetIds, true, lossScale);
    be.dispose(logits);
    be.dispose(targetIds);
    const wte = this.params.get('transformer.wte.weight')!;
    const dWte = this.grads.get('transformer.wte.weight')!;
    // The tied head: logits = lnF.y wte^T.
    be.matmul(dLogits!, lnF.y, { transA: true, into: dWte });
    const dLnF = be.matmul(dLogits!, wte);
    be.dispose(dLogits!);
    const dx = be.layerNormBackward(last, this.params.get('transformer.ln_f.weight')!, lnF.mean, lnF.rstd, dLnF, this.grads.get('transformer.ln_f.weight')!, this.grads.get('transformer.ln_f.bias')!);
    for (const t of [dLnF, lnF.y, lnF.mean, lnF.rstd, last]) be.dispose(t);
    addExtra(this.layers.length, dx);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      this.blockBackward(this.layers[i], this.layerGrads[i], caches[i], dx, batch, length);
      this.disposeCache(caches[i]);
      be.dispose(caches[i].x);
      addExtra(i, dx);
    }
    // The head's gradient is already in dWte: the embedding's accumulates onto it.
    be.embeddingBackward(ids, dx, dWte, true);
    be.embeddingBackward(positions, dx, this.grads.get('transformer.wpe.weight')!, false);
    for (const t of [dx, ids, positions]) be.dispose(t);
    return loss;
  }

  protected forwardLogits(ids: Tensor, batch: number, length: number): Tensor {
    const positions = this.positions(batch, length);
    const { logits } = this.forward(ids, positions, batch, length, false);
    this.backend.dispose(positions);
    return logits;
  }

  get contextLength(): number {
    return this.config.n_positions;
  }

  /** The key/value cache: per layer i, tensors[2i] holds the keys and tensors[2i + 1] the values, (B, n_positions, d). */
  newStepState(batch: number): StepState {
    const shape = [batch, this.config.n_positions, this.config.d_model];
    const tensors: Tensor[] = [];
    for (let i = 0; i < 2 * this.config.n_layers; i++) tensors.push(this.backend.zeros(shape));
    return { batch, position: 0, tensors };
  }

  async step(state: StepState, tokens: Int32Array, onResidual?: ResidualObserver): Promise<Float32Array> {
    const B = state.batch;
    if (tokens.length !== B) throw new Error(`step: ${tokens.length} tokens for a state of batch ${B}`);
    const t = state.position;
    if (t >= this.config.n_positions) throw new Error(`step: token ${t + 1} is past the ${this.config.n_positions} positions of the model`);
    const be = this.backend;
    const ids = be.uploadInts(tokens, [B]);
    const where = be.uploadInts(new Int32Array(B).fill(t), [B]);
    // x: (B, d)
    let x = this.embed(ids, where);
    be.dispose(ids);
    be.dispose(where);
    x = this.observeResidual(onResidual, 0, x);
    for (let i = 0; i < this.layers.length; i++) {
      const attend = (qkv: Tensor) => ({ out: be.attentionStep(qkv, state.tensors[2 * i], state.tensors[2 * i + 1], t, this.config.n_heads), lse: null });
      const { out, cache } = this.blockForward(this.layers[i], x, attend);
      this.disposeCache(cache);
      be.dispose(x);
      x = out;
      x = this.observeResidual(onResidual, i + 1, x);
    }
    const logits = this.readout(x);
    be.dispose(x);
    state.position++;
    const out = await be.download(logits);
    be.dispose(logits);
    return out;
  }

  readout(x: Tensor): Tensor {
    const be = this.backend;
    const lnF = be.layerNormForward(x, this.params.get('transformer.ln_f.weight')!, this.params.get('transformer.ln_f.bias')!, this.config.layer_norm_epsilon);
    const logits = be.matmul(lnF.y, this.params.get('transformer.wte.weight')!, { transB: true });
    for (const u of [lnF.y, lnF.mean, lnF.rstd]) be.dispose(u);
    return logits;
  }
}
