/**
 * A linear probe's tensors on a backend and what is done with them there: standardising raw feature
 * rows, the logits, the decoded boards. The fit (fit-probe.ts) trains the weight and bias in place;
 * scoring and `applyProbe` read the decoded boards back; the tuned lens (lens.ts) is the same affine
 * map with the vocabulary as outputs.
 */
import type { Backend, Tensor } from '../src/backend/backend.js';
import type { LinearProbe } from './linear-probe.js';
import { chunkRowsFor, MemoryRows, type RowSource } from './row-source.js';
import { SQUARES } from './targets.js';

/**
 * An affine map of standardised rows on a backend: outputs (R, K) = ((x - mean) * invStd) W^T + bias.
 * A probe is one (K = 64 C logits); so is a layer's tuned lens (lens.ts; K = the vocabulary).
 */
export class DeviceAffine {
  constructor(
    readonly be: Backend,
    readonly mean: Tensor,
    readonly invStd: Tensor,
    /** (K, D), replaced by `setWeight` (the fit's solves give fresh tensors). */
    public weight: Tensor,
    /** (K) */
    public bias: Tensor,
  ) {}

  /** z (R, D), the standardised rows of raw x (R, D). */
  standardise(x: Tensor): Tensor {
    return this.be.shiftScaleColumns(x, this.mean, this.invStd);
  }

  /** Uploads raw rows x (R, D) and standardises them. */
  standardiseRows(x: Float32Array, rows: number): Tensor {
    const D = this.mean.shape[0];
    const raw = this.be.upload(x.subarray(0, rows * D), [rows, D]);
    const z = this.standardise(raw);
    this.be.dispose(raw);
    return z;
  }

  /** Outputs (R, K) = z W^T + bias, with the map's weights W or others. */
  logits(z: Tensor, weight: Tensor = this.weight): Tensor {
    const product = this.be.matmul(z, weight, { transB: true });
    const logits = this.be.biasAdd(product, this.bias);
    this.be.dispose(product);
    return logits;
  }

  setWeight(weight: Tensor): void {
    this.be.dispose(this.weight);
    this.weight = weight;
  }

  setBias(bias: Tensor): void {
    this.be.dispose(this.bias);
    this.bias = bias;
  }

  dispose(): void {
    for (const t of [this.mean, this.invStd, this.weight, this.bias]) this.be.dispose(t);
  }
}

/** A linear board probe on a backend: the affine map to its per-square logits, and the decoded boards. */
export class DeviceProbe extends DeviceAffine {
  constructor(be: Backend, readonly probe: LinearProbe) {
    const K = SQUARES * probe.classes;
    super(be, be.upload(probe.mean, [probe.dim]), be.upload(probe.invStd, [probe.dim]), be.upload(probe.weight, [K, probe.dim]), be.upload(probe.bias, [K]));
  }

  /** The decoded class of every square, (R 64) int, from logits (R, 64 C). */
  classes(logits: Tensor): Tensor {
    const rows = logits.shape[0];
    return this.be.argmaxRows(this.be.reshape(logits, [rows * SQUARES, this.probe.classes]));
  }

  /** Decoded boards (R, 64) of standardised rows z (R, D), by the probe's weights or others. */
  async predict(z: Tensor, weight: Tensor = this.weight): Promise<Uint8Array> {
    const logits = this.logits(z, weight);
    const classes = this.classes(logits);
    this.be.dispose(logits);
    const out = await this.be.download(classes);
    this.be.dispose(classes);
    return Uint8Array.from(out);
  }

  /** Copies the weights and bias on the backend into the host probe. */
  async toHost(): Promise<void> {
    this.probe.weight.set(await this.be.download(this.weight));
    this.probe.bias.set(await this.be.download(this.bias));
  }
}

/** Decoded boards (rows, 64) of every row of a source, read chunk by chunk. */
export async function predictRows(be: Backend, probe: LinearProbe, rows: RowSource): Promise<Uint8Array> {
  if (rows.dim !== probe.dim) throw new Error(`predictRows: rows of ${rows.dim} features for a probe of ${probe.dim}`);
  const device = new DeviceProbe(be, probe);
  const out = new Uint8Array(rows.rows * SQUARES);
  try {
    for (const chunk of rows.chunks(chunkRowsFor(rows.dim))) {
      const z = device.standardiseRows(chunk.data, chunk.rows);
      out.set(await device.predict(z), chunk.start * SQUARES);
      be.dispose(z);
    }
  } finally {
    device.dispose();
  }
  return out;
}

/** Decoded boards (rows, 64) of raw activations x (rows, D). */
export function applyProbe(be: Backend, probe: LinearProbe, x: Float32Array, rows: number): Promise<Uint8Array> {
  if (x.length !== rows * probe.dim) throw new Error(`applyProbe: ${x.length} values for ${rows} rows of ${probe.dim}`);
  return predictRows(be, probe, new MemoryRows(x, rows, probe.dim));
}
