/**
 * What a training step (or a forward pass) of a model holds, estimated from the config, the
 * batch and the sequence length, so that a size that cannot fit is refused with one line before
 * anything is allocated or written (a batch of 10^8 games otherwise dies in `new Int32Array`).
 *
 * With M = batch x length tokens, d = d_model, E = expand d, N = d_state, R = dt_rank, V = vocab_size,
 * in 4-byte floats per token (every activation is (M, width); the names are mamba.ts's):
 *   kept per layer for the backward pass (LayerCache):
 *       x, xNorm (2d) + rstd (1) + inX, z, conv, u, dtProj, delta, y, gated (8E) + dt (R) + B, C (2N)
 *     + the scan's saved states: webgpu one (E, N) state per 16-step chunk but the first
 *       (E N ceil(L / 16) / L, a chunk a sequence more than it uses: selective-scan.ts); cpu none (the SIMD backward recomputes them; the reference kernels
 *       keep at most 128 MB a layer, not counted)
 *   one layer's working set (forward: xDbl, branch; backward: dGated, dy, dz, du, dDelta, dB, dC,
 *   dXz, dXNorm, ...): 6E + 2d + R + 2N, and on webgpu the scan backward's partial dB, dC
 *   (2N ceil(E / ch) with ch = min(16, 256 / N) channels a workgroup: 2E for N = 16)
 *   head: the last residual, the final norm and its rstd (2d + 1), logits and their gradient (2V)
 * plus 16 bytes a token (inputs and targets as int32, host arrays and backend copies), on cpu the scan
 * backward's float64 partials (E N + E a sequence), and 16 bytes a parameter (weights, gradients, AdamW
 * moments):
 *
 *   training bytes = 4 M (n_layers kept + working set + head) + 16 M + 16 P  [+ 8 batch (E N + E) on cpu]
 *   forward only   = 4 M (4d + 1 + 10E + 2R + 4N  +  d + 1 + 2V) + 8 M + 4 P
 * (forward only: one layer's tensors at once, from its input to its output, then the final norm, the
 * logits and the host copy of the logits that eval reads).
 *
 * The transformer (gpt.ts's names; H = n_heads, P = n_positions), in 4-byte floats per token:
 *   kept per layer (BlockCache): x, ln_1, attention out, mid, ln_2 (5d) + qkv (3d) + fc, gelu (8d)
 *     + the norms' mean and rstd (4) + the attention's log-sum-exp (H)
 *   working set: the MLP's product before its bias and its result (8d) in the forward pass, its
 *     gradients (dGelu, dFc: 8d) in the backward pass, dx (d), and the pool keeps tensors of each size
 *     apart: 13d against the cpu pool
 *   head: as the Mamba's, the final norm with its mean (2d + 2) and the logits with their gradient (2V)
 *   on webgpu, the embedding gradients' partial sums (ceil(M / 256) (V + P) d floats)
 *   training bytes = 4 M (n_layers (16d + 4 + H) + 13d + 2d + 2 + 2V) + 16 M + 16 P_params [+ partials]
 *   forward only   = 4 M (18d + 4 + H  +  d + 1 + 2V) + 8 M + 4 P_params
 *
 * Both backends pool the memory they free and reuse it for the next tensor of the same size, so the peak
 * is what they hold. Against the webgpu pool measured on an H200 (README): othello-base 256 x 60,
 * estimated 2.7 GiB (held 2.7); chess-base 8 x 1024, 5.7 GiB (5.7); chess-base 32 x 1024, 21.8 GiB (21.5).
 * Against the cpu pool after two steps, weights and moments added: tiny 32 x 59, 27.3 MiB (27.0);
 * othello-base 64 x 59, 656 MiB (653); quickstart 256 x 59, 304 MiB (302).
 */
import type { Backend, SizeLimits } from '../backend/backend.js';
import { UserError } from '../util/errors.js';
import { formatBytes } from '../util/output.js';
import { innerSize, type GptConfig, type MambaConfig, type ModelConfig } from './config.js';
import { parameterCount } from './models.js';

export type SizedBackend = 'cpu' | 'webgpu';

export interface TensorSize {
  /** The tensor in words, e.g. "in_proj's output (batch x length x 2E)". */
  what: string;
  elements: number;
  bytes: number;
}

export interface StepMemory {
  /** 'training step' (forward and backward) or 'forward pass'. */
  pass: string;
  batch: number;
  length: number;
  /** Everything held at the peak, in bytes. */
  bytes: number;
  /** The largest single tensor (by elements on cpu, where typed arrays cap the length; by bytes on webgpu). */
  largest: TensorSize;
}

/** Time steps per chunk of the webgpu scan (CHUNK in backend/webgpu/kernels/selective-scan.ts). */
const GPU_SCAN_CHUNK = 16;

/**
 * The memory of one training step (`backward`, the default) or one forward pass of `batch` sequences of
 * `length` tokens on `backend` (the formula is in the file comment).
 */
export function stepMemory(config: ModelConfig, batch: number, length: number, backend: SizedBackend, backward = true): StepMemory {
  return config.architecture === 'transformer' ? gptStepMemory(config, batch, length, backend, backward) : mambaStepMemory(config, batch, length, backend, backward);
}

const f32 = (what: string, elements: number): TensorSize => ({ what, elements, bytes: 4 * elements });

/** The largest of `tensors`: by bytes on webgpu, by elements on cpu. */
function largestOf(tensors: TensorSize[], backend: SizedBackend): TensorSize {
  const size = (t: TensorSize) => (backend === 'webgpu' ? t.bytes : t.elements);
  return tensors.reduce((a, b) => (size(b) > size(a) ? b : a));
}

function mambaStepMemory(config: MambaConfig, batch: number, length: number, backend: SizedBackend, backward: boolean): StepMemory {
  const { d_model: d, d_state: N, dt_rank: R, vocab_size: V, n_layers: layers } = config;
  const E = innerSize(config);
  const M = batch * length;
  const gpu = backend === 'webgpu';
  const parameters = parameterCount(config);
  // The webgpu scan: boundary states (batch, chunks - 1, E, N) a layer; partial dB, dC (groups, 2 M N).
  const scanGroups = Math.ceil(E / Math.min(16, Math.floor(256 / N)));
  const chunks = Math.ceil(length / GPU_SCAN_CHUNK);
  const savedFloats = gpu && chunks > 1 ? batch * chunks * E * N : 0;
  const scanPartialFloats = gpu ? scanGroups * 2 * M * N : 0;
  const tensors: TensorSize[] = [
    f32("in_proj's output (batch x length x 2E)", M * 2 * E),
    f32("x_proj's output (batch x length x (R + 2N))", M * (R + 2 * N)),
    f32('the logits (batch x length x vocabulary)', M * V),
  ];
  let bytes: number;
  if (backward) {
    const kept = layers * (4 * M * (2 * d + 1 + 8 * E + R + 2 * N) + 4 * savedFloats);
    const working = 4 * M * (6 * E + 2 * d + R + 2 * N) + 4 * scanPartialFloats;
    const head = 4 * M * (2 * d + 1 + 2 * V);
    const cpuPartials = gpu ? 0 : 8 * batch * (E * N + E);
    bytes = kept + working + head + 16 * M + cpuPartials + 16 * parameters;
    if (gpu) {
      tensors.push(f32("the scan's saved states of a layer (batch x length/16 x E x N)", savedFloats));
      tensors.push(f32("the scan backward's partial sums of dB and dC", scanPartialFloats));
      // embeddingBackward's partials: (ceil(M / 256), V d)
      tensors.push(f32("the embedding gradient's partial sums", Math.ceil(M / 256) * V * d));
    } else {
      tensors.push({ what: "the scan backward's per-sequence partials (batch x (E N + E), float64)", elements: batch * (E * N + E), bytes: 8 * batch * (E * N + E) });
    }
  } else {
    bytes = 4 * M * (4 * d + 1 + 10 * E + 2 * R + 4 * N + d + 1 + 2 * V) + 8 * M + 4 * parameters;
  }
  return { pass: backward ? 'training step' : 'forward pass', batch, length, bytes, largest: largestOf(tensors, backend) };
}

function gptStepMemory(config: GptConfig, batch: number, length: number, backend: SizedBackend, backward: boolean): StepMemory {
  const { d_model: d, n_heads: H, n_positions: P, vocab_size: V, n_layers: layers } = config;
  const M = batch * length;
  const parameters = parameterCount(config);
  const tensors: TensorSize[] = [f32("the MLP's hidden layer (batch x length x 4d)", M * 4 * d), f32('the logits (batch x length x vocabulary)', M * V)];
  let bytes: number;
  if (backward) {
    const partials = backend === 'webgpu' ? Math.ceil(M / 256) * (V + P) * d : 0;
    bytes = 4 * M * (layers * (16 * d + 4 + H) + 13 * d + 2 * d + 2 + 2 * V) + 16 * M + 16 * parameters + 4 * partials;
    if (partials > 0) tensors.push(f32("the embedding gradient's partial sums", Math.ceil(M / 256) * V * d));
  } else {
    bytes = 4 * M * (18 * d + 4 + H + d + 1 + 2 * V) + 8 * M + 4 * parameters;
  }
  return { pass: backward ? 'training step' : 'forward pass', batch, length, bytes, largest: largestOf(tensors, backend) };
}

/**
 * Refuses (UserError, one line) a step that cannot fit `limits`; `flag` starts the message and names what
 * set the size ("--batch 100000000").
 */
export function checkStepFits(need: StepMemory, limits: SizeLimits, flag: string): void {
  const tokens = `batch ${need.batch} x ${need.length} tokens`;
  if (limits.memory && need.bytes > limits.memory.bytes) {
    throw new UserError(`${flag}: a ${need.pass} needs about ${formatBytes(need.bytes)} (${tokens}), more than ${limits.memory.what}`);
  }
  const t = need.largest;
  if (t.elements > limits.tensor.elements || t.bytes > limits.tensor.bytes) {
    throw new UserError(`${flag}: the largest tensor of a ${need.pass}, ${t.what}, would hold ${t.elements} elements (${formatBytes(t.bytes)}; ${tokens}), more than ${limits.tensor.what}`);
  }
  if (limits.batch && need.batch > limits.batch.max) {
    throw new UserError(`${flag}: a ${need.pass} of ${need.batch} sequences is more than ${limits.batch.what}`);
  }
}

/**
 * Refuses a training step (or with `backward` false, a forward pass) of `batch` x `length` tokens that
 * cannot fit `backend`; `flag` names what set the batch, as in checkStepFits.
 */
export function checkBatchFits(backend: Backend, config: ModelConfig, batch: number, length: number, flag: string, backward = true): void {
  const need = stepMemory(config, batch, length, backend.name === 'webgpu' ? 'webgpu' : 'cpu', backward);
  const limits = backend.sizeLimits();
  // The batch limit is the Mamba scan's; the transformer has no kernel of one workgroup per sequence.
  checkStepFits(need, config.architecture === 'mamba' ? limits : { ...limits, batch: undefined }, flag);
  if (config.architecture === 'mamba' && limits.stateSize && config.d_state > limits.stateSize.max) {
    throw new UserError(`d_state ${config.d_state}: more than ${limits.stateSize.what} (the cpu backend has no such limit)`);
  }
}
