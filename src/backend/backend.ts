/**
 * The Backend interface: every operation the language models (the Mamba and the transformer) need,
 * forward and backward.
 *
 * The model (src/model/) is written once against this interface and never reaches past it. Tensors are
 * opaque handles that live on the backend (Float32Array on cpu, GPU buffers later); only `upload*` and
 * `download` cross the boundary, and `download` is async so a GPU backend can read back without
 * blocking. Nothing inside a training step needs a download: scalars the host chooses (learning rate,
 * clip scale, step count) are passed as numbers, the loss stays a 1-element tensor until the trainer
 * reads it, token ids and targets are uploaded once per step as int tensors.
 *
 * Conventions:
 * - Row-major shapes. An activation of a batch of sequences is (M, C) with M = batch * length rows,
 *   row b*length + t holding position t of sequence b.
 * - Weight matrices are [out, in] as in PyTorch, so a linear layer is y = x W^T: `matmul(x, W, { transB: true })`.
 * - Ops return fresh tensors unless they take an `into` / gradient tensor to write; a gradient argument
 *   of a parameter is overwritten unless the op says it accumulates.
 * - `dispose` hands a tensor's memory back to the backend; using a tensor after disposing it is a bug.
 */

export type DType = 'f32' | 'i32';

/**
 * How a backend multiplies matrices. 'f32': float32 operands and sums. 'mixed': operands rounded to
 * float16 on the way into the tensor cores, sums in float32; every tensor stays float32 (the weights,
 * gradients and optimizer state too), so only the products' inputs lose bits.
 */
export type Precision = 'f32' | 'mixed';

/** A tensor on a backend: only its shape and element type are visible. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** One AdamW step's scalars (see src/train/optimizer.ts for the update rule). */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (0 for parameters that are not decayed). */
  weightDecay: number;
  /** The 1-based step count t of the bias corrections 1 - beta^t. */
  step: number;
  /**
   * Weight decay applies to the elements before this index only (default: all): a packed tensor of
   * several parameters (see `view`) holds the decayed ones first, so one update serves all of them.
   */
  decayEnd?: number;
  /**
   * Factor applied to the gradient first: the global-norm clip (1 = unclipped), as a number or as
   * element 0 of a tensor from `clipScale` (so the clip never needs a readback). 0 skips the step
   * (param, m and v untouched): clipScale's answer to a non-finite gradient.
   */
  gradScale: number | Tensor;
}

export interface MatmulOptions {
  /** Use A^T: `a` is stored (K, M). */
  transA?: boolean;
  /** Use B^T: `b` is stored (N, K). */
  transB?: boolean;
  /** Write the (M, N) result here instead of a new tensor. */
  into?: Tensor;
  /** With `into`: add the product to what `into` holds. */
  accumulate?: boolean;
}

/** The inputs of the selective scan of one Mamba layer (batch * length rows). */
export interface SelectiveScanInputs {
  /** u: (M, E), the SSM input (silu of the convolution). */
  u: Tensor;
  /** delta: (M, E), the step sizes (already through softplus). */
  delta: Tensor;
  /** A_log: (E, N); A = -exp(A_log). */
  aLog: Tensor;
  /** B: (M, N), input-dependent input matrix. */
  b: Tensor;
  /** C: (M, N), input-dependent output matrix. */
  c: Tensor;
  /** D: (E), the skip connection y += D * u. */
  d: Tensor;
  batch: number;
  length: number;
}

export interface SelectiveScanGradients {
  du: Tensor;
  dDelta: Tensor;
  dB: Tensor;
  dC: Tensor;
}

/**
 * How large a step may be on a backend: what a step's tensors may take together, the largest single
 * tensor, and the most sequences per dispatch. Each `what` says the limit in words for an error message
 * ("this machine's 23.5 GiB of memory"). src/model/memory.ts holds a step's sizes against them.
 */
export interface SizeLimits {
  /** All tensors together (bytes), or null when the backend cannot tell. */
  memory: { bytes: number; what: string } | null;
  /** One tensor: at most this many elements and this many bytes. */
  tensor: { elements: number; bytes: number; what: string };
  /** Sequences in one batch, where a kernel runs one workgroup per sequence. */
  batch?: { max: number; what: string };
  /** A Mamba's state size (d_state), where the scan keeps a channel's states in a workgroup. */
  stateSize?: { max: number; what: string };
}

export interface Backend extends TransformerOps, ProbeOps {
  /** 'cpu', 'webgpu'. */
  readonly name: string;
  /** How its matmuls run (see Precision). */
  readonly precision: Precision;
  /** The limits a step's sizes are checked against before anything is allocated. */
  sizeLimits(): SizeLimits;

  // ---- memory -------------------------------------------------------------------------------------
  upload(data: Float32Array, shape: readonly number[]): Tensor;
  uploadInts(data: Int32Array, shape: readonly number[]): Tensor;
  zeros(shape: readonly number[]): Tensor;
  /** The tensor's values (a copy). Token tensors come back converted to float. */
  download(tensor: Tensor): Promise<Float32Array>;
  dispose(tensor: Tensor): void;
  /**
   * The same elements seen with another shape of the same size (row-major, so (R, 64 C) becomes
   * (64 R, C)). The view shares the tensor's memory: dispose one of the two, and use neither after.
   */
  reshape(tensor: Tensor, shape: readonly number[]): Tensor;
  /**
   * The `sizeOf(shape)` elements of `tensor` from element `offset` (a multiple of VIEW_ALIGN), seen as a
   * tensor of their own that shares the memory. Several parameters can so live in one tensor, and the
   * optimizer's ops run over all of them in one pass. A view cannot be disposed: dispose the tensor it
   * shows, and use no view of it after. One op may read views of a tensor, or write views of it, but
   * not both (WebGPU refuses a buffer bound for reading and for writing in one dispatch).
   */
  view(tensor: Tensor, offset: number, shape: readonly number[]): Tensor;

  // ---- embedding ----------------------------------------------------------------------------------
  /** ids: (M) int, weight: (V, d) -> (M, d). */
  embeddingForward(ids: Tensor, weight: Tensor): Tensor;
  /** dWeight[ids[m]] += dOut[m]; dWeight is zeroed first unless `accumulate`. */
  embeddingBackward(ids: Tensor, dOut: Tensor, dWeight: Tensor, accumulate: boolean): void;

  // ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * weight ---------------------------------------------
  /** x: (M, d), weight: (d) -> y: (M, d) and rstd: (M), the saved 1/sqrt(mean(x^2) + eps). */
  rmsNormForward(x: Tensor, weight: Tensor, eps: number): { y: Tensor; rstd: Tensor };
  /**
   * Returns dx: (M, d); writes dWeight: (d). With `addTo` (M, d), dx is added to it in place and it is
   * returned: a residual stream's gradient takes the branch's without a pass of its own.
   */
  rmsNormBackward(x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, addTo?: Tensor): Tensor;

  // ---- matmul and layout --------------------------------------------------------------------------
  /** C = op(A) op(B), op = identity or transpose per options. */
  matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor;
  /** x: (M, sum(widths)) -> one (M, width) tensor per width, columns in order. */
  splitColumns(x: Tensor, widths: readonly number[]): Tensor[];
  /** The inverse of splitColumns. */
  concatColumns(parts: readonly Tensor[]): Tensor;
  /** a + b (same shape). */
  add(a: Tensor, b: Tensor): Tensor;
  /** target += source (same shape). */
  addInPlace(target: Tensor, source: Tensor): void;

  // ---- causal depthwise conv1d (PyTorch Conv1d, groups = channels, padding K-1, first L outputs) ----
  /** x: (M, E), weight: (E, 1, K), bias: (E) -> (M, E); y[t] = bias + sum_k w[k] x[t - (K-1) + k]. */
  causalConv1dForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): Tensor;
  /** Returns dx: (M, E); writes dWeight: (E, 1, K) and dBias: (E). */
  causalConv1dBackward(x: Tensor, weight: Tensor, dy: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor;
  /**
   * The convolution and the SiLU after it in one pass: conv = causalConv1dForward(...) and u = silu(conv),
   * both (M, E); conv is what the backward pass needs.
   */
  causalConv1dSiluForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): { conv: Tensor; u: Tensor };
  /** The backward pass of causalConv1dSiluForward from du = dLoss/du: returns dx; writes dWeight and dBias. */
  causalConv1dSiluBackward(x: Tensor, weight: Tensor, conv: Tensor, du: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor;
  /**
   * One token of the convolution for recurrent decoding. window: (B, K-1, E), the previous K-1 inputs
   * (oldest first; zeros at the start), updated in place; x: (B, E) -> (B, E).
   */
  causalConv1dStep(window: Tensor, x: Tensor, weight: Tensor, bias: Tensor): Tensor;

  // ---- elementwise --------------------------------------------------------------------------------
  /** silu(x) = x * sigmoid(x). */
  siluForward(x: Tensor): Tensor;
  siluBackward(x: Tensor, dy: Tensor): Tensor;
  /** x: (M, E), bias: (E) -> softplus(x + bias) (PyTorch's softplus: linear above 20). */
  softplusBiasForward(x: Tensor, bias: Tensor): Tensor;
  /** Returns dx; writes dBias. */
  softplusBiasBackward(x: Tensor, bias: Tensor, dy: Tensor, dBias: Tensor): Tensor;
  /** The output gate y * silu(z). */
  gateForward(y: Tensor, z: Tensor): Tensor;
  gateBackward(y: Tensor, z: Tensor, dOut: Tensor): { dy: Tensor; dz: Tensor };

  // ---- selective scan -----------------------------------------------------------------------------
  /**
   * h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t (h_{-1} = 0), y_t = C_t . h_t + D u_t, per channel e
   * with h: (N). Returns y: (M, E) and `saved`, whatever the backend keeps for the backward pass (null
   * when `forBackward` is false, and may be null anyway: the backward pass then recomputes the states).
   */
  selectiveScanForward(inputs: SelectiveScanInputs, forBackward: boolean): { y: Tensor; saved: Tensor | null };
  /** Gradients of the inputs; writes dALog: (E, N) and dD: (E). */
  selectiveScanBackward(inputs: SelectiveScanInputs, saved: Tensor | null, dy: Tensor, dALog: Tensor, dD: Tensor): SelectiveScanGradients;
  /**
   * One token of the scan for recurrent decoding. h: (B, E, N), updated in place; u, delta: (B, E);
   * b, c: (B, N) -> y: (B, E).
   */
  selectiveScanStep(h: Tensor, u: Tensor, delta: Tensor, aLog: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor;

  // ---- loss ---------------------------------------------------------------------------------------
  /**
   * Mean cross-entropy of logits: (M, V) against targets: (M) int, over the rows whose target is not -1
   * (0 when there are none). Returns the loss as a 1-element tensor and, when asked, dLoss/dLogits
   * times `gradScale` (a power of two, default 1: mixed precision's loss scale, exact in float32).
   */
  crossEntropy(logits: Tensor, targets: Tensor, withGradient: boolean, gradScale?: number): { loss: Tensor; dLogits: Tensor | null };

  // ---- optimizer ----------------------------------------------------------------------------------
  /** One AdamW step on one parameter (or a packed tensor of all of them), in place on param, m and v. */
  adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: AdamWHyper): void;
  /** sum(t^2) as a 1-element tensor (for the global gradient norm). */
  sumOfSquares(t: Tensor): Tensor;
  /**
   * The global-norm clip from the per-tensor sums of squares of gradients that carry a loss scale S
   * (a power of two, default 1): a 2-element tensor [scale, norm] with norm = sqrt(sum of squares) / S
   * and scale = min(1, clip / norm) / S (1 / S when clip is 0), so grad * scale is the clipped
   * unscaled gradient. A non-finite sum (an overflow in float16) gives scale 0, which adamwUpdate
   * takes as "skip this step".
   */
  clipScale(squares: readonly Tensor[], clip: number, lossScale?: number): Tensor;
}

/**
 * The ops of the transformer baseline (GPT-2 blocks: LayerNorm with bias, tanh GELU, linear biases,
 * causal multi-head attention), kept apart from the Mamba's for reading; every Backend has them.
 */
export interface TransformerOps {
  /** x: (M, d), weight and bias: (d) -> y: (M, d), and the saved mean and 1/sqrt(var + eps): (M). */
  layerNormForward(x: Tensor, weight: Tensor, bias: Tensor, eps: number): { y: Tensor; mean: Tensor; rstd: Tensor };
  /** Returns dx: (M, d); writes dWeight and dBias: (d). `addTo` as in rmsNormBackward. */
  layerNormBackward(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, dBias: Tensor, addTo?: Tensor): Tensor;
  /** GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  geluForward(x: Tensor): Tensor;
  geluBackward(x: Tensor, dy: Tensor): Tensor;
  /** x: (M, C), bias: (C) -> x + bias. */
  biasAdd(x: Tensor, bias: Tensor): Tensor;
  /** Writes dBias: (C), the column sums of dy: (M, C) (the bias gradient of biasAdd). */
  biasGrad(dy: Tensor, dBias: Tensor): void;
  /**
   * Causal self-attention of `heads` heads over qkv: (M, 3d) (q, k, v column blocks, M = batch x length)
   * -> out: (M, d) and lse: (batch, heads, length), the log-sum-exp of each softmax, all the backward
   * pass needs besides qkv and out.
   */
  causalAttentionForward(qkv: Tensor, batch: number, length: number, heads: number): { out: Tensor; lse: Tensor };
  /** Returns dqkv: (M, 3d). */
  causalAttentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, dOut: Tensor, batch: number, length: number, heads: number): Tensor;
  /**
   * One token of causal attention for decoding with a key/value cache. qkv: (B, 3d), the new token of
   * each sequence, all at `position`; kCache, vCache: (B, P, d) with P >= position + 1. Writes the token's
   * k and v into row `position` of the caches, then returns out: (B, d), each head's softmax over the
   * cached positions 0..position, as causalAttentionForward gives at that position.
   */
  attentionStep(qkv: Tensor, kCache: Tensor, vCache: Tensor, position: number, heads: number): Tensor;
}

/**
 * The ops of fitting and applying linear probes (probes/fit-probe.ts) besides the matmul, the
 * cross-entropy and AdamW they share with training; every Backend has them.
 */
export interface ProbeOps {
  /** x: (M, C), shift and scale: (C) -> (x - shift) * scale, column by column (standardising features). */
  shiftScaleColumns(x: Tensor, shift: Tensor, scale: Tensor): Tensor;
  /** x: (M, C) -> (M) int: the column of each row's largest value, the first of equal ones. */
  argmaxRows(x: Tensor): Tensor;
  /**
   * The ridge systems (G + lambda I) x_k = r_k by Cholesky: gram G: (n, n) symmetric positive
   * semi-definite (only its lower triangle is read), rhs: (K, n), one right-hand side per row ->
   * x: (K, n). Where G + lambda I is not positive definite at the backend's precision, x is NaN.
   * Async, the one op besides `download` that may be: a backend may solve a small system on the host.
   */
  solveRidge(gram: Tensor, lambda: number, rhs: Tensor): Promise<Tensor>;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * Rows `which` of a (B, ...) tensor, as a new (which.length, rest) matrix, each row flattened: an
 * embedding lookup is a row gather. What a capture keeps of a step, and what a step state forked for
 * some of its sequences holds (reshaped back).
 */
export function gatherRows(be: Backend, t: Tensor, which: readonly number[]): Tensor {
  const B = t.shape[0];
  const ids = be.uploadInts(Int32Array.from(which), [which.length]);
  const rows = be.embeddingForward(ids, be.reshape(t, [B, sizeOf(t.shape) / B]));
  be.dispose(ids);
  return rows;
}

/** Rows and columns of a tensor seen as a matrix: the leading dimensions are rows, so a width of 0 still has its rows. */
export function rowsCols(t: { readonly shape: readonly number[] }): [number, number] {
  return [sizeOf(t.shape.slice(0, -1)), t.shape[t.shape.length - 1]];
}

/** d, after checking that qkv is (batch x length, 3d) with d a multiple of the head count (causal attention). */
export function attentionWidth(qkv: Tensor, batch: number, length: number, heads: number): number {
  const [M, C] = rowsCols(qkv);
  if (M !== batch * length || C % 3 !== 0 || (C / 3) % heads !== 0) {
    throw new Error(`causal attention: qkv [${qkv.shape.join(', ')}] is not (${batch} x ${length}, 3 d) with d a multiple of ${heads} heads`);
  }
  return C / 3;
}

/** B, d and P of an attentionStep, after checking qkv: (B, 3d) and both caches (B, P, d) with P > position. */
export function attentionStepShape(qkv: Tensor, kCache: Tensor, vCache: Tensor, position: number, heads: number): { B: number; d: number; P: number } {
  const [B, C] = rowsCols(qkv);
  const d = C / 3;
  const P = kCache.shape[1];
  if (C % 3 !== 0 || d % heads !== 0) throw new Error(`attentionStep: qkv [${qkv.shape.join(', ')}] is not (B, 3 d) with d a multiple of ${heads} heads`);
  for (const cache of [kCache, vCache]) {
    if (cache.shape.length !== 3 || cache.shape[0] !== B || cache.shape[1] !== P || cache.shape[2] !== d || !(position >= 0 && position < P)) {
      throw new Error(`attentionStep: cache [${cache.shape.join(', ')}] is not [${B}, P, ${d}] with P > ${position}`);
    }
  }
  return { B, d, P };
}

/** n of a solveRidge, after checking gram: (n, n) and rhs: (K, n). */
export function ridgeSystemSize(gram: Tensor, rhs: Tensor): number {
  const [n, cols] = rowsCols(gram);
  if (gram.shape.length !== 2 || n !== cols || rowsCols(rhs)[1] !== n) throw new Error(`solveRidge: gram [${gram.shape.join(', ')}] and rhs [${rhs.shape.join(', ')}] are not (n, n) and (K, n)`);
  return n;
}

/**
 * Elements a view's offset is a multiple of: 256 bytes, WebGPU's largest storage-buffer offset
 * alignment, so a view binds on any adapter.
 */
export const VIEW_ALIGN = 64;

/** Checks that `view(tensor, offset, shape)` lies inside `tensor` on an aligned offset. */
export function checkView(tensor: Tensor, offset: number, shape: readonly number[]): void {
  const n = sizeOf(shape);
  if (tensor.dtype !== 'f32') throw new Error(`view: only float tensors have views, not ${tensor.dtype}`);
  if (!Number.isInteger(offset) || offset < 0 || offset % VIEW_ALIGN !== 0) throw new Error(`view: offset ${offset} is not a non-negative multiple of ${VIEW_ALIGN}`);
  if (offset + n > sizeOf(tensor.shape)) throw new Error(`view: elements ${offset}..${offset + n} of [${tensor.shape.join(', ')}] run past its ${sizeOf(tensor.shape)}`);
}

/** Checks that `shape` holds as many elements as `tensor` (Backend.reshape). */
export function checkReshape(tensor: Tensor, shape: readonly number[]): void {
  if (sizeOf(shape) !== sizeOf(tensor.shape)) throw new Error(`reshape: [${tensor.shape.join(', ')}] has ${sizeOf(tensor.shape)} elements, not those of [${shape.join(', ')}]`);
}

/** C of a shiftScaleColumns, after checking x: (M, C) against shift and scale: (C). */
export function shiftScaleWidth(x: Tensor, shift: Tensor, scale: Tensor): number {
  const C = rowsCols(x)[1];
  if (sizeOf(shift.shape) !== C || sizeOf(scale.shape) !== C) throw new Error(`shiftScaleColumns: shift [${shift.shape.join(', ')}] and scale [${scale.shape.join(', ')}] do not fit rows of ${C}`);
  return C;
}
