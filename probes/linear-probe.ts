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
