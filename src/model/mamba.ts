/**
 * The Mamba language model (Hugging Face `MambaForCausalLM`, mamba.py's LM), written once against the
 * Backend interface:
 *
 *   x = embeddings[tokens]                                              x: (M, d), M = B * L
 *   per layer:  x = x + mixer(RMSNorm(x))
 *     mixer(h):  [in_x, z] = in_proj(h)                                 (M, E) each
 *                u = silu(conv1d(in_x))                                  causal, depthwise, per sequence
 *                [dt, B, C] = x_proj(u)                                  (M, R), (M, N), (M, N)
 *                delta = softplus(dt_proj(dt))                           (M, E), dt_proj has a bias
 *                y = selective_scan(u, delta, A = -exp(A_log), B, C, D)  (M, E)
 *                out_proj(y * silu(z))                                   (M, d)
 *   logits = lm_head(RMSNorm_f(x))                                      (M, V), lm_head = embeddings when tied
 *
 * forwardBackward() runs the sequence path and its explicit backward; step() runs the same network one
 * token at a time, carrying per layer the conv window (B, K-1, E) and the SSM state h (B, E, N): constant
 * time and memory per token, the same logits as the full-sequence path.
 */
import { VIEW_ALIGN, type Backend, type SelectiveScanInputs, type Tensor } from '../backend/backend.js';
import { innerSize, type MambaConfig } from './config.js';
import { LanguageModel, type ResidualLoss, type ResidualObserver, type StateEditor, type StepState } from './language-model.js';
import { parameterShapes } from './params.js';

interface LayerParams {
  norm: Tensor;
  aLog: Tensor;
  d: Tensor;
  convWeight: Tensor;
  convBias: Tensor;
  inProj: Tensor;
  xProj: Tensor;
  dtProjWeight: Tensor;
  dtProjBias: Tensor;
  outProj: Tensor;
}

/** What one layer's forward pass keeps for its backward pass. */
interface LayerCache {
  /** Layer input (the residual stream). */
  x: Tensor;
  rstd: Tensor;
  xNorm: Tensor;
  inX: Tensor;
  z: Tensor;
  /** Convolution output before the SiLU. */
  conv: Tensor;
  u: Tensor;
  dt: Tensor;
  b: Tensor;
  c: Tensor;
  /** dt_proj(dt) before the bias and softplus. */
  dtProj: Tensor;
  delta: Tensor;
  y: Tensor;
  saved: Tensor | null;
  gated: Tensor;
}

function layerNames(i: number): Record<keyof LayerParams, string> {
  const p = `backbone.layers.${i}`;
  return {
    norm: `${p}.norm.weight`,
    aLog: `${p}.mixer.A_log`,
    d: `${p}.mixer.D`,
    convWeight: `${p}.mixer.conv1d.weight`,
    convBias: `${p}.mixer.conv1d.bias`,
    inProj: `${p}.mixer.in_proj.weight`,
    xProj: `${p}.mixer.x_proj.weight`,
    dtProjWeight: `${p}.mixer.dt_proj.weight`,
    dtProjBias: `${p}.mixer.dt_proj.bias`,
    outProj: `${p}.mixer.out_proj.weight`,
  };
}

export class MambaLM extends LanguageModel<MambaConfig> {
  private readonly layers: LayerParams[] = [];
  private readonly layerGrads: LayerParams[] = [];
  private readonly E: number;

  constructor(backend: Backend, config: MambaConfig, params: Map<string, Float32Array>) {
    super(backend, config, parameterShapes(config), params);
    this.E = innerSize(config);
    for (let i = 0; i < config.n_layers; i++) {
      const names = layerNames(i);
      const p = {} as LayerParams;
      const g = {} as LayerParams;
      for (const key of Object.keys(names) as (keyof LayerParams)[]) {
        p[key] = this.params.get(names[key])!;
        g[key] = this.grads.get(names[key])!;
      }
      this.layers.push(p);
      this.layerGrads.push(g);
    }
  }

  private get headWeight(): Tensor {
    return this.params.get(this.config.tie_embeddings ? 'backbone.embeddings.weight' : 'lm_head.weight')!;
  }

  /**
   * in_proj's two halves of (M, 2E), inX and z: (M, E), each the product with its own block of the
   * weight's rows (a view), so the wide product is never split into them by a copy; a block that
   * cannot be viewed (E d not a multiple of VIEW_ALIGN) takes the product and the split.
   */
  private inProjection(xNorm: Tensor, inProj: Tensor): [Tensor, Tensor] {
    const be = this.backend;
    const E = this.E;
    const d = this.config.d_model;
    if ((E * d) % VIEW_ALIGN === 0) {
      return [0, E * d].map((offset) => be.matmul(xNorm, be.view(inProj, offset, [E, d]), { transB: true })) as [Tensor, Tensor];
    }
    const xz = be.matmul(xNorm, inProj, { transB: true });
    const halves = be.splitColumns(xz, [E, E]) as [Tensor, Tensor];
    be.dispose(xz);
    return halves;
  }

  /** One layer forward on x: (M, d) -> the new residual stream and the cache for the backward pass. */
  private layerForward(p: LayerParams, x: Tensor, batch: number, length: number, forBackward: boolean): { out: Tensor; cache: LayerCache } {
    const be = this.backend;
    const { d_state: N, dt_rank: R, layer_norm_epsilon: eps } = this.config;
    // xNorm: (M, d)
    const { y: xNorm, rstd } = be.rmsNormForward(x, p.norm, eps);
    // inX, z: (M, E)
    const [inX, z] = this.inProjection(xNorm, p.inProj);
    // conv, u: (M, E)
    const { conv, u } = be.causalConv1dSiluForward(inX, p.convWeight, p.convBias, batch, length);
    // xDbl: (M, R + 2N) -> dt: (M, R), b, c: (M, N)
    const xDbl = be.matmul(u, p.xProj, { transB: true });
    const [dt, b, c] = be.splitColumns(xDbl, [R, N, N]);
    be.dispose(xDbl);
    // dtProj, delta: (M, E)
    const dtProj = be.matmul(dt, p.dtProjWeight, { transB: true });
    const delta = be.softplusBiasForward(dtProj, p.dtProjBias);
    // y: (M, E)
    const { y, saved } = be.selectiveScanForward({ u, delta, aLog: p.aLog, b, c, d: p.d, batch, length }, forBackward);
    const gated = be.gateForward(y, z);
    // branch: (M, d)
    const branch = be.matmul(gated, p.outProj, { transB: true });
    const out = be.add(x, branch);
    be.dispose(branch);
    return { out, cache: { x, rstd, xNorm, inX, z, conv, u, dt, b, c, dtProj, delta, y, saved, gated } };
  }

  /** Backward of one layer: dx (M, d) is dLoss/d(layer output) on entry and dLoss/d(layer input) on return. */
  private layerBackward(p: LayerParams, g: LayerParams, cache: LayerCache, dx: Tensor, batch: number, length: number): void {
    const be = this.backend;
    // dGated: (M, E); dOutProj: (d, E) = dx^T gated
    const dGated = be.matmul(dx, p.outProj);
    be.matmul(dx, cache.gated, { transA: true, into: g.outProj });
    const { dy, dz } = be.gateBackward(cache.y, cache.z, dGated);
    be.dispose(dGated);
    const scanInputs: SelectiveScanInputs = { u: cache.u, delta: cache.delta, aLog: p.aLog, b: cache.b, c: cache.c, d: p.d, batch, length };
    const { du, dDelta, dB, dC } = be.selectiveScanBackward(scanInputs, cache.saved, dy, g.aLog, g.d);
    be.dispose(dy);
    // dDtProj: (M, E)
    const dDtProj = be.softplusBiasBackward(cache.dtProj, p.dtProjBias, dDelta, g.dtProjBias);
    be.dispose(dDelta);
    be.matmul(dDtProj, cache.dt, { transA: true, into: g.dtProjWeight });
    // dDt: (M, R)
    const dDt = be.matmul(dDtProj, p.dtProjWeight);
    be.dispose(dDtProj);
    // dXDbl: (M, R + 2N)
    const dXDbl = be.concatColumns([dDt, dB, dC]);
    be.dispose(dDt);
    be.dispose(dB);
    be.dispose(dC);
    be.matmul(dXDbl, cache.u, { transA: true, into: g.xProj });
    be.matmul(dXDbl, p.xProj, { into: du, accumulate: true });
    be.dispose(dXDbl);
    // dInX: (M, E), through the SiLU and the convolution
    const dInX = be.causalConv1dSiluBackward(cache.inX, p.convWeight, cache.conv, du, batch, length, g.convWeight, g.convBias);
    be.dispose(du);
    // dXz: (M, 2E)
    const dXz = be.concatColumns([dInX, dz]);
    be.dispose(dInX);
    be.dispose(dz);
    be.matmul(dXz, cache.xNorm, { transA: true, into: g.inProj });
    // dXNorm: (M, d)
    const dXNorm = be.matmul(dXz, p.inProj);
    be.dispose(dXz);
    // dx += the branch's gradient through the norm
    be.rmsNormBackward(cache.x, p.norm, cache.rstd, dXNorm, g.norm, dx);
    be.dispose(dXNorm);
  }

  private disposeCache(cache: LayerCache): void {
    const be = this.backend;
    for (const t of [cache.rstd, cache.xNorm, cache.inX, cache.z, cache.conv, cache.u, cache.dt, cache.b, cache.c, cache.dtProj, cache.delta, cache.y, cache.gated]) be.dispose(t);
    if (cache.saved) be.dispose(cache.saved);
  }

  /**
   * Full-sequence forward to the logits (M, V). With `keep`, returns the caches for the backward pass
   * (the caller disposes them); otherwise everything but the logits is disposed. With `paddingIds`
   * (trainingIds), the rows it marks enter as zeros rather than as the pad token's embedding.
   */
  private forward(ids: Tensor, batch: number, length: number, keep: boolean, paddingIds?: Tensor): { logits: Tensor; caches: LayerCache[]; last: Tensor; xFinal: Tensor; rstdFinal: Tensor } {
    const be = this.backend;
    // x: (M, d)
    let x = paddingIds ? this.embedZeroingPadding(paddingIds) : be.embeddingForward(ids, this.params.get('backbone.embeddings.weight')!);
    const caches: LayerCache[] = [];
    for (const p of this.layers) {
      const { out, cache } = this.layerForward(p, x, batch, length, keep);
      if (keep) {
        caches.push(cache);
      } else {
        this.disposeCache(cache);
        be.dispose(x);
      }
      x = out;
    }
    const { y: xFinal, rstd: rstdFinal } = be.rmsNormForward(x, this.params.get('backbone.norm_f.weight')!, this.config.layer_norm_epsilon);
    // logits: (M, V)
    const logits = be.matmul(xFinal, this.headWeight, { transB: true });
    if (!keep) {
      be.dispose(x);
      be.dispose(xFinal);
      be.dispose(rstdFinal);
    }
    return { logits, caches, last: x, xFinal, rstdFinal };
  }

  protected forwardLogits(ids: Tensor, batch: number, length: number): Tensor {
    return this.forward(ids, batch, length, false).logits;
  }

  /**
   * Training inputs enter with the padding after each game's end as zero rows: the trailing run of a
   * row where the input is the pad token and no loss counts (the target is -1, and the residual loss,
   * if any, counts nothing there). Padding takes no part in the loss, but the pad token's embedding
   * fed step after step drives the deep layers' gated branch far past the real moves' range (out_proj's
   * input in block 9 of 16 of othello-mamba-9m at step 5,500 reached 4.8e4 on long-padded games,
   * against 29 at their real moves): past f16's 65504, mixed precision makes it inf, and 0 x inf = NaN
   * in the weight gradients whatever the loss scale. From a zero row
   * the residual stays zero in every layer (RMSNorm of 0 is 0, so z = 0 and the gate silu(z) = 0),
   * and no counted position changes: the model is causal and the run is the row's tail, so every loss
   * and gradient is that of the plain embedding. Undefined when no row ends in padding.
   */
  private trainingIds(inputs: Int32Array, targets: Int32Array, batch: number, length: number, extra?: ResidualLoss): Tensor | undefined {
    const pad = this.config.pad_token_id;
    const V = this.config.vocab_size;
    let padded: Int32Array | undefined;
    for (let b = 0; b < batch; b++) {
      for (let m = (b + 1) * length - 1; m >= b * length && inputs[m] === pad && targets[m] === -1 && !extra?.counts(m); m--) {
        padded ??= inputs.slice(0, batch * length);
        // V: the zero row appended to the embedding by embedZeroingPadding
        padded[m] = V;
      }
    }
    return padded && this.backend.uploadInts(padded, [batch * length]);
  }

  /** The embedding of ids in 0..V, where id V is a row of zeros. */
  private embedZeroingPadding(ids: Tensor): Tensor {
    const be = this.backend;
    const { vocab_size: V, d_model: d } = this.config;
    const table = be.zeros([V + 1, d]);
    be.addInPlace(be.view(table, 0, [V, d]), this.params.get('backbone.embeddings.weight')!);
    const x = be.embeddingForward(ids, table);
    be.dispose(table);
    return x;
  }

  forwardBackward(inputs: Int32Array, targets: Int32Array, batch: number, length: number, lossScale = 1, extra?: ResidualLoss): Tensor {
    const be = this.backend;
    const { ids, targetIds } = this.uploadBatch(inputs, targets, batch, length, 'forwardBackward');
    const paddingIds = this.trainingIds(inputs, targets, batch, length, extra);
    const { logits, caches, last, xFinal, rstdFinal } = this.forward(ids, batch, length, true, paddingIds);
    if (paddingIds) be.dispose(paddingIds);
    const addExtra = this.residualLossGradient(extra, caches.map((c) => c.x), last, lossScale);
    const { loss, dLogits } = be.crossEntropy(logits, targetIds, true, lossScale);
    be.dispose(logits);
    be.dispose(targetIds);
    // lm_head: logits = xFinal W^T, W: (V, d)
    const headGrad = this.grads.get(this.config.tie_embeddings ? 'backbone.embeddings.weight' : 'lm_head.weight')!;
    be.matmul(dLogits!, xFinal, { transA: true, into: headGrad });
    const dXFinal = be.matmul(dLogits!, this.headWeight);
    be.dispose(dLogits!);
    // dx: (M, d), dLoss/d(residual stream), walked back through the layers
    const dx = be.rmsNormBackward(last, this.params.get('backbone.norm_f.weight')!, rstdFinal, dXFinal, this.grads.get('backbone.norm_f.weight')!);
    be.dispose(dXFinal);
    be.dispose(xFinal);
    be.dispose(rstdFinal);
    be.dispose(last);
    addExtra(this.layers.length, dx);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      this.layerBackward(this.layers[i], this.layerGrads[i], caches[i], dx, batch, length);
      this.disposeCache(caches[i]);
      // The layer input is the previous layer's output (or the embedding): no longer needed.
      be.dispose(caches[i].x);
      addExtra(i, dx);
    }
    // With tied embeddings the lm_head gradient is already in there: accumulate. The padding rows of dx
    // are zeros (nothing counted depends on them), so they add nothing to the pad token's row.
    be.embeddingBackward(ids, dx, this.grads.get('backbone.embeddings.weight')!, this.config.tie_embeddings);
    be.dispose(dx);
    be.dispose(ids);
    return loss;
  }

  get contextLength(): number {
    return Infinity;
  }

  /**
   * The recurrent state: per layer i, tensors[i] is the conv window (B, d_conv - 1, E) of the last inputs,
   * oldest first, and tensors[n_layers + i] the SSM state h (B, E, N).
   */
  newStepState(batch: number): StepState {
    const { d_conv: K, d_state: N, n_layers } = this.config;
    const tensors: Tensor[] = [];
    for (let i = 0; i < n_layers; i++) tensors.push(this.backend.zeros([batch, K - 1, this.E]));
    for (let i = 0; i < n_layers; i++) tensors.push(this.backend.zeros([batch, this.E, N]));
    return { batch, position: 0, tensors };
  }

  /** The SSM state h: (B, E, N) of layer i (0-based) in a step state. */
  ssmState(state: StepState, layer: number): Tensor {
    return state.tensors[this.config.n_layers + layer];
  }

  /** step() of every model, and `onState` (see StateEditor) that may edit each layer's SSM state. */
  async step(state: StepState, tokens: Int32Array, onResidual?: ResidualObserver, onState?: StateEditor): Promise<Float32Array> {
    const B = state.batch;
    if (tokens.length !== B) throw new Error(`step: ${tokens.length} tokens for a state of batch ${B}`);
    const be = this.backend;
    const { d_state: N, dt_rank: R, layer_norm_epsilon: eps } = this.config;
    const ids = be.uploadInts(tokens, [B]);
    // x: (B, d)
    let x = be.embeddingForward(ids, this.params.get('backbone.embeddings.weight')!);
    be.dispose(ids);
    x = this.observeResidual(onResidual, 0, x);
    for (let i = 0; i < this.layers.length; i++) {
      const p = this.layers[i];
      const { y: xNorm, rstd } = be.rmsNormForward(x, p.norm, eps);
      const [inX, z] = this.inProjection(xNorm, p.inProj);
      // conv, u: (B, E)
      const conv = be.causalConv1dStep(state.tensors[i], inX, p.convWeight, p.convBias);
      const u = be.siluForward(conv);
      const xDbl = be.matmul(u, p.xProj, { transB: true });
      const [dt, b, c] = be.splitColumns(xDbl, [R, N, N]);
      const dtProj = be.matmul(dt, p.dtProjWeight, { transB: true });
      const delta = be.softplusBiasForward(dtProj, p.dtProjBias);
      // y: (B, E)
      const y = be.selectiveScanStep(this.ssmState(state, i), u, delta, p.aLog, b, c, p.d);
      if (onState) this.editState(state, i, y, p.aLog, c, p.d, onState);
      const gated = be.gateForward(y, z);
      const branch = be.matmul(gated, p.outProj, { transB: true });
      const next = be.add(x, branch);
      for (const t of [x, xNorm, rstd, inX, z, conv, u, xDbl, dt, b, c, dtProj, delta, y, gated, branch]) be.dispose(t);
      x = next;
      x = this.observeResidual(onResidual, i + 1, x);
    }
    const logits = this.readout(x);
    be.dispose(x);
    state.position++;
    const out = await be.download(logits);
    be.dispose(logits);
    return out;
  }

  /**
   * Applies `onState`'s edit dh (if it returns one) to layer i's state and output y. The step kernel
   * itself gives C dh: run on dh with u = 0 and delta = 0 it keeps h = exp(0) dh + 0 and returns
   * y = C dh + D 0.
   */
  private editState(state: StepState, i: number, y: Tensor, aLog: Tensor, c: Tensor, d: Tensor, onState: StateEditor): void {
    const be = this.backend;
    const h = this.ssmState(state, i);
    const edit: unknown = onState(i + 1, h);
    if (typeof edit !== 'object' || edit === null) return;
    const dh = edit as Tensor;
    if (dh.shape.length !== h.shape.length || dh.shape.some((n, k) => n !== h.shape[k])) {
      throw new Error(`step: the SSM state of layer ${i + 1} is [${h.shape.join(', ')}], its edit [${dh.shape.join(', ')}]`);
    }
    const [B, E, N] = h.shape;
    const zeroU = be.zeros([B, E]);
    const zeroDelta = be.zeros([B, E]);
    const unusedB = be.zeros([B, N]);
    const readEdit = be.selectiveScanStep(dh, zeroU, zeroDelta, aLog, unusedB, c, d);
    be.addInPlace(y, readEdit);
    be.addInPlace(h, dh);
    for (const t of [zeroU, zeroDelta, unusedB, readEdit, dh]) be.dispose(t);
  }

  readout(x: Tensor): Tensor {
    const be = this.backend;
    const { y, rstd } = be.rmsNormForward(x, this.params.get('backbone.norm_f.weight')!, this.config.layer_norm_epsilon);
    const logits = be.matmul(y, this.headWeight, { transB: true });
    be.dispose(y);
    be.dispose(rstd);
    return logits;
  }
}
