/**
 * A linear board probe: activation x: (D) -> per-square class logits (64, C), softmax per square.
 *
 *   z = (x - mean) * invStd                standardised features (D)
 *   logits = weight z + bias               weight: (64 * C, D), row s * C + c = square s, class c
 *
 * The standardisation is part of the probe (a fixed affine map, so the probe stays linear in x) and is
 * saved with it. Saved as safetensors: tensors `mean`, `inv_std`, `weight`, `bias`, and __metadata__
 * with the target, source, layer and class count, so a probe can be re-applied to new activations.
 */
import { readFileSync } from 'node:fs';
import { decodeSafetensors, encodeSafetensors, f32Tensor, toFloat32, type StoredTensor } from '../src/train/safetensors.js';
import { UserError } from '../src/util/errors.js';
import { gemmNT } from './probe-math.js';
import { SQUARES } from './targets.js';
import { writeFileAtomic } from '../src/util/write-file-atomic.js';

export interface LinearProbe {
  /** D, the activation width. */
  dim: number;
  /** C, classes per square. */
  classes: number;
  mean: Float32Array;
  invStd: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  /** What it decodes from where, e.g. { target: 'mine-theirs', source: 'residual', layer: '3' }. */
  meta: Record<string, string>;
}

export function zeroProbe(dim: number, classes: number, meta: Record<string, string> = {}): LinearProbe {
  return {
    dim,
    classes,
    mean: new Float32Array(dim),
    invStd: new Float32Array(dim).fill(1),
    weight: new Float32Array(SQUARES * classes * dim),
    bias: new Float32Array(SQUARES * classes),
    meta,
  };
}

/** z (rows, D) = standardised x (rows, D). */
export function standardise(probe: LinearProbe, x: Float32Array, rows: number, z: Float32Array): void {
  const D = probe.dim;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    for (let k = 0; k < D; k++) z[o + k] = (x[o + k] - probe.mean[k]) * probe.invStd[k];
  }
}

/** logits (rows, 64 * C) from standardised features z (rows, D). */
export function logitsFromStandardised(probe: LinearProbe, z: Float32Array, rows: number, logits: Float32Array): void {
  const K = SQUARES * probe.classes;
  gemmNT(z, probe.weight, logits, rows, K, probe.dim, false);
  for (let r = 0; r < rows; r++) {
    const o = r * K;
    for (let k = 0; k < K; k++) logits[o + k] += probe.bias[k];
  }
}

/** The argmax class per square: predictions (rows, 64) from logits (rows, 64 * C). */
export function argmaxClasses(logits: Float32Array, rows: number, classes: number, out: Uint8Array): void {
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < SQUARES; s++) {
      const o = (r * SQUARES + s) * classes;
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[o + c] > logits[o + best]) best = c;
      out[r * SQUARES + s] = best;
    }
  }
}

/** Decoded boards (rows, 64) of raw activations x (rows, D). */
export function applyProbe(probe: LinearProbe, x: Float32Array, rows: number): Uint8Array {
  if (x.length !== rows * probe.dim) throw new Error(`applyProbe: ${x.length} values for ${rows} rows of ${probe.dim}`);
  const z = new Float32Array(rows * probe.dim);
  standardise(probe, x, rows, z);
  const logits = new Float32Array(rows * SQUARES * probe.classes);
  logitsFromStandardised(probe, z, rows, logits);
  const out = new Uint8Array(rows * SQUARES);
  argmaxClasses(logits, rows, probe.classes, out);
  return out;
}

export function encodeProbe(probe: LinearProbe): Uint8Array {
  const tensors = new Map<string, StoredTensor>([
    ['mean', f32Tensor([probe.dim], probe.mean)],
    ['inv_std', f32Tensor([probe.dim], probe.invStd)],
    ['weight', f32Tensor([SQUARES * probe.classes, probe.dim], probe.weight)],
    ['bias', f32Tensor([SQUARES * probe.classes], probe.bias)],
  ]);
  return encodeSafetensors(tensors, { format: 'gamba-probe', squares: String(SQUARES), classes: String(probe.classes), ...probe.meta });
}

export function saveProbe(path: string, probe: LinearProbe): void {
  writeFileAtomic(path, encodeProbe(probe));
}

/** Reads a probe written by saveProbe; every problem is a UserError naming the file. */
export function loadProbe(path: string): LinearProbe {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UserError(`${path}: cannot read probe file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const classes = Number(metadata.classes);
  if (metadata.format !== 'gamba-probe' || !Number.isInteger(classes) || classes < 2) throw new UserError(`${path}: not a gamba probe file (metadata format/classes missing)`);
  const get = (name: string): Float32Array => {
    const t = tensors.get(name);
    if (!t) throw new UserError(`${path}: probe tensor '${name}' is missing`);
    return toFloat32(t);
  };
  const weight = tensors.get('weight');
  if (!weight || weight.shape.length !== 2 || weight.shape[0] !== SQUARES * classes) throw new UserError(`${path}: probe tensor 'weight' must be [${SQUARES * classes}, D]`);
  const dim = weight.shape[1];
  const probe: LinearProbe = { dim, classes, mean: get('mean'), invStd: get('inv_std'), weight: get('weight'), bias: get('bias'), meta: {} };
  if (probe.mean.length !== dim || probe.invStd.length !== dim || probe.bias.length !== SQUARES * classes) throw new UserError(`${path}: probe tensors 'mean', 'inv_std', 'bias' do not match weight [${SQUARES * classes}, ${dim}]`);
  for (const [key, value] of Object.entries(metadata)) if (key !== 'format' && key !== 'squares' && key !== 'classes') probe.meta[key] = value;
  return probe;
}
