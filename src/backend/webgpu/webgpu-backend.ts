/**
 * The webgpu backend: every Backend op as WGSL kernels recorded into one command stream (runtime.ts).
 * This class only checks shapes and routes; the kernels live one family per file in kernels/.
 */
import { checkReshape, checkView, ridgeSystemSize, sizeOf, rowsCols, type AdamWHyper, type Backend, type MatmulOptions, type Precision, type SelectiveScanGradients, type SelectiveScanInputs, type SizeLimits, type Tensor } from '../backend.js';
import { solveRidge as solveRidgeOnHost } from '../cpu/ridge-solve.js';
import { formatBytes } from '../../util/output.js';
import type { GpuDevice } from './device.js';
import { adamwUpdate, clipScale, sumOfSquares } from './kernels/adamw.js';
import { attentionStep, causalAttentionBackward, causalAttentionForward, type AttentionPath } from './kernels/attention.js';
import { fill } from './kernels/common.js';
import { causalConv1dBackward, causalConv1dForward, causalConv1dSiluBackward, causalConv1dSiluForward, causalConv1dStep } from './kernels/conv1d.js';
import { crossEntropy } from './kernels/cross-entropy.js';
import { add, addInPlace, concatColumns, gateBackward, gateForward, siluBackward, siluForward, softplusBiasBackward, softplusBiasForward, splitColumns } from './kernels/elementwise.js';
import { embeddingBackward, embeddingForward } from './kernels/embedding.js';
import { biasAdd, biasGrad, geluBackward, geluForward } from './kernels/gelu.js';
import { layerNormBackward, layerNormForward } from './kernels/layer-norm.js';
import { matmul } from './kernels/matmul.js';
import { argmaxRows, shiftScaleColumns } from './kernels/probe-ops.js';
import { solveRidge } from './kernels/ridge-solve.js';
import { rmsNormBackward, rmsNormForward } from './kernels/rms-norm.js';
import { backwardOverrideProblem, MAX_SCAN_BATCH, mostScanStates, scanDeviceFacts, selectiveScanBackward, selectiveScanForward, selectiveScanStep, type ScanBackwardKernel } from './kernels/selective-scan.js';
import { GpuRuntime, GpuTensor } from './runtime.js';

const g = (t: Tensor) => t as GpuTensor;

/**
 * Ridge systems up to this size are solved on the host in float64 (a 1024 x 1024 Cholesky takes about
 * 0.2 s there): the residual stream's (d x d) systems, whose penalties go down to 1e-6 per row, where
 * float32 loses the factor. Larger ones (the state's, E N or rows wide, with penalties of 0.1 to 1 per
 * row) run on the GPU in float32.
 */
const HOST_SOLVE_MAX = 1024;

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly rt: GpuRuntime;
  /** The causal attention's kernels: chosen by length when undefined, or forced (a benchmark compares them). */
  attentionPath: AttentionPath | undefined;
  /** The selective scan's backward kernel: by subgroups where they fit and else step by step when undefined, or forced (a benchmark compares them). */
  scanBackwardKernel: ScanBackwardKernel | undefined;
  /** Why scanBackwardKernel cannot run N states a channel on this device, or null where it can. */
  scanBackwardProblem(N: number): string | null {
    return backwardOverrideProblem(scanDeviceFacts(this.rt), N, { kernel: this.scanBackwardKernel });
  }

  readonly precision: Precision;

  /** 'mixed' needs the adapter's subgroup matrices (gpu.subgroupMatrix). */
  constructor(gpu: GpuDevice, precision: Precision = 'f32') {
    if (precision === 'mixed' && !gpu.subgroupMatrix) throw new Error('mixed precision needs an adapter with f16 subgroup matrices');
    this.rt = new GpuRuntime(gpu);
    this.precision = precision;
  }

  /** The adapter in words, e.g. "nvidia hopper (NVIDIA H200)". */
  get adapterName(): string {
    const i = this.rt.gpu.adapterInfo;
    return `${i.vendor} ${i.architecture}${i.device ? ` (${i.device})` : ''}${this.rt.gpu.isSoftware ? ' [software]' : ''}`;
  }

  /**
   * A buffer must fit both maxBufferSize and, to be bound, maxStorageBufferBindingSize (device.ts raises
   * both to the adapter's maxima). WebGPU reports no memory size, so the total is not checked here.
   */
  sizeLimits(): SizeLimits {
    const { maxBufferSize, maxStorageBufferBindingSize, maxComputeWorkgroupStorageSize } = this.rt.device.limits;
    const states = mostScanStates(maxComputeWorkgroupStorageSize);
    const [name, bytes] = maxStorageBufferBindingSize <= maxBufferSize ? ['maxStorageBufferBindingSize', maxStorageBufferBindingSize] : ['maxBufferSize', maxBufferSize];
    return {
      memory: null,
      tensor: { elements: Infinity, bytes, what: `the device's ${name} of ${formatBytes(bytes)}` },
      batch: { max: MAX_SCAN_BATCH, what: `the ${MAX_SCAN_BATCH} sequences the webgpu selective scan runs in one dispatch` },
      stateSize: { max: states, what: `the ${states} states the webgpu selective scan holds in the device's ${formatBytes(maxComputeWorkgroupStorageSize)} of workgroup memory` },
    };
  }

  /** Bytes of GPU memory the buffer pool holds. */
  get gpuBytes(): number {
    return this.rt.heldBytes;
  }

  upload(data: Float32Array, shape: readonly number[]): Tensor {
    return this.rt.upload(data, shape, 'f32');
  }
  uploadInts(data: Int32Array, shape: readonly number[]): Tensor {
    return this.rt.upload(data, shape, 'i32');
  }
  zeros(shape: readonly number[]): Tensor {
    const t = this.rt.tensor(shape);
    fill(this.rt, t, 0);
    return t;
  }
  async download(tensor: Tensor): Promise<Float32Array> {
    const bytes = await this.rt.read(g(tensor));
    return tensor.dtype === 'i32' ? Float32Array.from(new Int32Array(bytes)) : new Float32Array(bytes);
  }
  dispose(tensor: Tensor): void {
    this.rt.release(tensor);
  }
  reshape(tensor: Tensor, shape: readonly number[]): Tensor {
    checkReshape(tensor, shape);
    const t = g(tensor);
    return new GpuTensor([...shape], t.dtype, t.buffer, t.size, t.offset, t.isView);
  }
  view(tensor: Tensor, offset: number, shape: readonly number[]): Tensor {
    checkView(tensor, offset, shape);
    const t = g(tensor);
    return new GpuTensor([...shape], 'f32', t.buffer, sizeOf(shape), t.offset + offset * 4, true);
  }

  embeddingForward(ids: Tensor, weight: Tensor): Tensor {
    return embeddingForward(this.rt, g(ids), g(weight));
  }
  embeddingBackward(ids: Tensor, dOut: Tensor, dWeight: Tensor, accumulate: boolean): void {
    embeddingBackward(this.rt, g(ids), g(dOut), g(dWeight), accumulate);
  }
  rmsNormForward(x: Tensor, weight: Tensor, eps: number): { y: Tensor; rstd: Tensor } {
    return rmsNormForward(this.rt, g(x), g(weight), eps);
  }
  rmsNormBackward(x: Tensor, weight: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, addTo?: Tensor): Tensor {
    return rmsNormBackward(this.rt, g(x), g(weight), g(rstd), g(dy), g(dWeight), addTo && g(addTo));
  }
  matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
    return matmul(this.rt, g(a), g(b), options.transA ?? false, options.transB ?? false, options.into ? g(options.into) : null, options.accumulate ?? false, this.precision);
  }
  splitColumns(x: Tensor, widths: readonly number[]): Tensor[] {
    return splitColumns(this.rt, g(x), widths);
  }
  concatColumns(parts: readonly Tensor[]): Tensor {
    return concatColumns(this.rt, parts.map(g));
  }
  add(a: Tensor, b: Tensor): Tensor {
    return add(this.rt, g(a), g(b));
  }
  addInPlace(target: Tensor, source: Tensor): void {
    addInPlace(this.rt, g(target), g(source));
  }
  causalConv1dForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): Tensor {
    return causalConv1dForward(this.rt, g(x), g(weight), g(bias), batch, length);
  }
  causalConv1dBackward(x: Tensor, weight: Tensor, dy: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor {
    return causalConv1dBackward(this.rt, g(x), g(weight), g(dy), batch, length, g(dWeight), g(dBias));
  }
  causalConv1dSiluForward(x: Tensor, weight: Tensor, bias: Tensor, batch: number, length: number): { conv: Tensor; u: Tensor } {
    return causalConv1dSiluForward(this.rt, g(x), g(weight), g(bias), batch, length);
  }
  causalConv1dSiluBackward(x: Tensor, weight: Tensor, conv: Tensor, du: Tensor, batch: number, length: number, dWeight: Tensor, dBias: Tensor): Tensor {
    return causalConv1dSiluBackward(this.rt, g(x), g(weight), g(conv), g(du), batch, length, g(dWeight), g(dBias));
  }
  causalConv1dStep(window: Tensor, x: Tensor, weight: Tensor, bias: Tensor): Tensor {
    return causalConv1dStep(this.rt, g(window), g(x), g(weight), g(bias));
  }
  siluForward(x: Tensor): Tensor {
    return siluForward(this.rt, g(x));
  }
  siluBackward(x: Tensor, dy: Tensor): Tensor {
    return siluBackward(this.rt, g(x), g(dy));
  }
  softplusBiasForward(x: Tensor, bias: Tensor): Tensor {
    return softplusBiasForward(this.rt, g(x), g(bias));
  }
  softplusBiasBackward(x: Tensor, bias: Tensor, dy: Tensor, dBias: Tensor): Tensor {
    return softplusBiasBackward(this.rt, g(x), g(bias), g(dy), g(dBias));
  }
  gateForward(y: Tensor, z: Tensor): Tensor {
    return gateForward(this.rt, g(y), g(z));
  }
  gateBackward(y: Tensor, z: Tensor, dOut: Tensor): { dy: Tensor; dz: Tensor } {
    return gateBackward(this.rt, g(y), g(z), g(dOut));
  }
  selectiveScanForward(inputs: SelectiveScanInputs, forBackward: boolean): { y: Tensor; saved: Tensor | null } {
    return selectiveScanForward(this.rt, inputs, forBackward);
  }
  selectiveScanBackward(inputs: SelectiveScanInputs, saved: Tensor | null, dy: Tensor, dALog: Tensor, dD: Tensor): SelectiveScanGradients {
    return selectiveScanBackward(this.rt, inputs, saved ? g(saved) : null, g(dy), g(dALog), g(dD), { kernel: this.scanBackwardKernel });
  }
  selectiveScanStep(h: Tensor, u: Tensor, delta: Tensor, aLog: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor {
    return selectiveScanStep(this.rt, g(h), g(u), g(delta), g(aLog), g(b), g(c), g(d));
  }
  crossEntropy(logits: Tensor, targets: Tensor, withGradient: boolean, gradScale = 1): { loss: Tensor; dLogits: Tensor | null } {
    return crossEntropy(this.rt, g(logits), g(targets), withGradient, gradScale);
  }
  adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: AdamWHyper): void {
    adamwUpdate(this.rt, g(param), g(grad), g(m), g(v), hyper);
  }
  sumOfSquares(t: Tensor): Tensor {
    return sumOfSquares(this.rt, g(t));
  }
  clipScale(squares: readonly Tensor[], clip: number, lossScale = 1): Tensor {
    return clipScale(this.rt, squares.map(g), clip, lossScale);
  }

  // ---- the transformer baseline's ops (TransformerOps) ----------------------------------------------

  layerNormForward(x: Tensor, weight: Tensor, bias: Tensor, eps: number): { y: Tensor; mean: Tensor; rstd: Tensor } {
    return layerNormForward(this.rt, g(x), g(weight), g(bias), eps);
  }
  layerNormBackward(x: Tensor, weight: Tensor, mean: Tensor, rstd: Tensor, dy: Tensor, dWeight: Tensor, dBias: Tensor, addTo?: Tensor): Tensor {
    return layerNormBackward(this.rt, g(x), g(weight), g(mean), g(rstd), g(dy), g(dWeight), g(dBias), addTo && g(addTo));
  }
  geluForward(x: Tensor): Tensor {
    return geluForward(this.rt, g(x));
  }
  geluBackward(x: Tensor, dy: Tensor): Tensor {
    return geluBackward(this.rt, g(x), g(dy));
  }
  biasAdd(x: Tensor, bias: Tensor): Tensor {
    return biasAdd(this.rt, g(x), g(bias));
  }
  biasGrad(dy: Tensor, dBias: Tensor): void {
    biasGrad(this.rt, g(dy), g(dBias));
  }
  causalAttentionForward(qkv: Tensor, batch: number, length: number, heads: number): { out: Tensor; lse: Tensor } {
    return causalAttentionForward(this.rt, g(qkv), batch, length, heads, this.attentionPath);
  }
  causalAttentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, dOut: Tensor, batch: number, length: number, heads: number): Tensor {
    return causalAttentionBackward(this.rt, g(qkv), g(out), g(lse), g(dOut), batch, length, heads, this.attentionPath);
  }
  attentionStep(qkv: Tensor, kCache: Tensor, vCache: Tensor, position: number, heads: number): Tensor {
    return attentionStep(this.rt, g(qkv), g(kCache), g(vCache), position, heads);
  }

  // ---- the probes' ops (ProbeOps) -------------------------------------------------------------------

  shiftScaleColumns(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
    return shiftScaleColumns(this.rt, g(x), g(shift), g(scale));
  }
  argmaxRows(x: Tensor): Tensor {
    return argmaxRows(this.rt, g(x));
  }
  async solveRidge(gram: Tensor, lambda: number, rhs: Tensor): Promise<Tensor> {
    const n = ridgeSystemSize(gram, rhs);
    if (n > HOST_SOLVE_MAX) return solveRidge(this.rt, g(gram), lambda, g(rhs));
    const K = rowsCols(rhs)[0];
    const [G, R] = await Promise.all([this.download(gram), this.download(rhs)]);
    return this.upload(Float32Array.from(solveRidgeOnHost(G, n, lambda, R, K)), [K, n]);
  }
}
