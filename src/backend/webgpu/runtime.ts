/**
 * The GPU side of the webgpu backend: tensors on a buffer pool, cached pipelines, and one command stream.
 *
 * Every op records a dispatch into one open compute pass; the stream is submitted when something needs
 * the results (a download) or every MAX_PENDING dispatches. Within a pass WebGPU orders the dispatches,
 * so a buffer released by one op can be handed to the next op's output at once (stream order makes that
 * safe). Uploads are the exception: queue.writeBuffer runs before any command not yet submitted, so an
 * upload only ever lands in a buffer that no unsubmitted command touches (an upload's buffer released
 * before the last submit, or a new one).
 *
 * Kernel parameters (sizes, scalars) go into one uniform arena per submit, a 256-byte slot per
 * dispatch, written just before the submit and bound at a dynamic offset. So a dispatch's bind group
 * depends only on its tensors, and is made once: a training step binds the same pool buffers step after
 * step, and making a bind group costs the host more than the rest of a dispatch together.
 */
import { sizeOf, type DType, type Tensor } from '../backend.js';
import type { GpuDevice } from './device.js';
// For its side effect: the WebGPU globals (GPUBufferUsage, ...) used below.
import './device.js';

export class GpuTensor implements Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly buffer: GPUBuffer,
    /** Elements (4 bytes each). */
    readonly size: number,
    /** Where its elements start in `buffer` (bytes): non-zero for a view into another tensor. */
    readonly offset = 0,
    /** A view shares another tensor's buffer, which it must not hand back to the pool. */
    readonly isView = false,
  ) {}

  /** The bytes of its elements, rounded up to 16 bytes as bindings are. */
  get bindingBytes(): number {
    return Math.max(16, Math.ceil(this.size * 4 / 16) * 16);
  }

  /**
   * The bytes a binding of it covers: a view its own elements, a tensor its whole buffer (which may be a
   * little larger than its elements: GpuRuntime.take), so that tensors of nearby sizes given the same
   * buffer share a bind group.
   */
  get boundBytes(): number {
    return this.isView ? this.bindingBytes : this.buffer.size;
  }
}

/** A kernel parameter: an unsigned int, a signed int or a float, in the order of the WGSL struct. */
export type Param = { u: number } | { i: number } | { f: number };

const SLOT = 256;
const ARENA_SLOTS = 4096;
/**
 * Dispatches recorded before the stream is submitted anyway: keeps command buffers bounded, and starts
 * the GPU on a step while the host still records the rest of it.
 */
const MAX_PENDING = 256;
/** Bind groups kept; past this the cache starts again (it holds what one step binds many times over). */
const MAX_BIND_GROUPS = 8192;
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
/**
 * A tensor with no free buffer of its own size takes a free one at most this fraction larger: steps whose
 * shapes differ a little (train --length-buckets: the same tokens as rows of other lengths) then share
 * one set of buffers instead of holding a set each.
 */
const NEAR_FIT = 1 / 64;

export class GpuFailure extends Error {}

export class GpuRuntime {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Bind group layouts and pipeline layouts by binding signature (see bindingSignature). */
  private readonly layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly signatures = new WeakMap<GPUComputePipeline, string>();
  /** Bind groups by signature and bound ranges; emptied when pool buffers are destroyed. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Bind groups made so far (a step that binds what an earlier one bound makes none). */
  bindGroupsMade = 0;
  /** Every pool buffer's number, in the order they were made. */
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /**
   * Free buffers for ops' outputs by byte size, the oldest buffer taken first. Commands not yet
   * submitted may still use them, which stream order makes safe. Which buffer an op gets depends only on
   * which are free, not on the order they were released in or on when the stream was submitted: so every
   * step binds the same buffers as the step before (last-released-first would rotate them).
   */
  private readonly free = new Map<number, GPUBuffer[]>();
  /**
   * Buffers that uploads were written to: they return to `uploadFree` when released, and become free to
   * write again once the stream has been submitted past their last use (`uploadPending` until then).
   */
  private readonly uploadBuffers = new WeakSet<GPUBuffer>();
  private readonly uploadFree = new Map<number, GPUBuffer[]>();
  private uploadPending: GPUBuffer[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly arena: GPUBuffer;
  private readonly arenaData = new ArrayBuffer(SLOT * ARENA_SLOTS);
  private readonly arenaU32 = new Uint32Array(this.arenaData);
  private readonly arenaI32 = new Int32Array(this.arenaData);
  private readonly arenaF32 = new Float32Array(this.arenaData);
  private slots = 0;
  /** Bytes of all buffers the pool has created and not destroyed. */
  heldBytes = 0;
  /** With a profiler, every dispatch runs in a pass of its own between two timestamps. */
  private profiler: DispatchProfiler | null = null;

  constructor(readonly gpu: GpuDevice) {
    this.device = gpu.device;
    this.arena = this.device.createBuffer({ size: SLOT * ARENA_SLOTS, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Throws if the device was lost or reported an error: the work since then is unusable. */
  check(): void {
    const failure = this.gpu.failure();
    if (failure) throw new GpuFailure(`${failure} (results after this point are invalid; stopping)`);
  }

  /**
   * A compute pipeline for WGSL `code` (entry point `main`), compiled once per key; `code` may be a
   * function, called only when the key is new (kernels generated per shape cost the host to write).
   */
  pipeline(key: string, code: string | (() => string)): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const text = typeof code === 'string' ? code : code();
      const signature = bindingSignature(key, text);
      let layout = this.layouts.get(signature);
      if (!layout) {
        const entries: GPUBindGroupLayoutEntry[] = [...signature].map((kind, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: kind === 'u' ? { type: 'uniform', hasDynamicOffset: true } : { type: kind === 'r' ? 'read-only-storage' : 'storage' },
        }));
        const group = this.device.createBindGroupLayout({ entries });
        layout = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
        this.layouts.set(signature, layout);
      }
      const module = this.device.createShaderModule({ label: key, code: text });
      p = this.device.createComputePipeline({ label: key, layout: layout.pipeline, compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, p);
      this.signatures.set(p, signature);
    }
    return p;
  }

  /** The keys of the pipelines compiled so far: which kernel variants a run used. */
  pipelineKeys(): string[] {
    return [...this.pipelines.keys()];
  }

  private take(bytes: number, forUpload: boolean): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!forUpload) {
      const buffer = this.free.get(size)?.pop() ?? this.nearFit(size);
      if (buffer) return buffer;
    }
    let buffer = this.uploadFree.get(size)?.pop();
    if (!buffer) {
      this.heldBytes += size;
      buffer = this.device.createBuffer({ size, usage: STORAGE });
      this.bufferIds.set(buffer, this.nextBufferId++);
    }
    if (forUpload) this.uploadBuffers.add(buffer);
    else this.uploadBuffers.delete(buffer);
    return buffer;
  }

  /** The oldest free buffer of the smallest size above `size` within NEAR_FIT (and bindable whole), if any. */
  private nearFit(size: number): GPUBuffer | undefined {
    const limit = Math.min(size + Math.floor(size * NEAR_FIT), this.device.limits.maxStorageBufferBindingSize);
    let best = 0;
    for (const [bytes, list] of this.free) if (bytes > size && bytes <= limit && list.length > 0 && (best === 0 || bytes < best)) best = bytes;
    return best === 0 ? undefined : this.free.get(best)!.pop();
  }

  /** Returns a buffer to a pool, whose lists are kept newest first so that pop() takes the oldest. */
  private putBack(pool: Map<number, GPUBuffer[]>, buffer: GPUBuffer): void {
    const id = this.bufferIds.get(buffer)!;
    let list = pool.get(buffer.size);
    if (!list) pool.set(buffer.size, (list = []));
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.bufferIds.get(list[mid])! > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
  }

  /** A tensor with unspecified contents. */
  tensor(shape: readonly number[], dtype: DType = 'f32'): GpuTensor {
    const n = sizeOf(shape);
    return new GpuTensor([...shape], dtype, this.take(n * 4, false), n);
  }

  upload(data: Float32Array | Int32Array, shape: readonly number[], dtype: DType): GpuTensor {
    const n = sizeOf(shape);
    if (data.length !== n) throw new Error(`upload: ${data.length} values for shape [${shape.join(', ')}]`);
    const buffer = this.take(n * 4, true);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, n * 4);
    return new GpuTensor([...shape], dtype, buffer, n);
  }

  release(t: Tensor): void {
    const tensor = t as GpuTensor;
    if (tensor.isView) throw new Error(`dispose: [${t.shape.join(', ')}] is a view of another tensor; dispose that one`);
    if (this.uploadBuffers.has(tensor.buffer)) this.uploadPending.push(tensor.buffer);
    else this.putBack(this.free, tensor.buffer);
  }

  /**
   * Records one dispatch of `pipeline`: binding 0 is the uniform `params` struct when `params` is not
   * empty, then the tensors in order (bindings 1, 2, ...; 0, 1, ... without params).
   */
  dispatch(pipeline: GPUComputePipeline, tensors: readonly GpuTensor[], params: readonly Param[], groups: readonly [number, number?, number?]): void {
    this.check();
    if (params.length * 4 > SLOT) throw new Error(`dispatch ${pipeline.label}: ${params.length} parameters exceed one ${SLOT}-byte slot`);
    const signature = this.signatures.get(pipeline);
    if (signature === undefined) throw new Error(`dispatch ${pipeline.label}: not a pipeline of this runtime`);
    const withParams = params.length > 0;
    if (signature.length !== tensors.length + (withParams ? 1 : 0) || (signature[0] === 'u') !== withParams) {
      throw new Error(`dispatch ${pipeline.label}: ${withParams ? 'parameters and ' : ''}${tensors.length} tensors for bindings '${signature}'`);
    }
    if (this.slots === ARENA_SLOTS || this.pending >= MAX_PENDING) this.flush();
    if (this.profiler) this.closePass();
    const pass = this.openPass(this.profiler?.nextPass(pipeline.label));
    pass.setPipeline(pipeline);
    if (withParams) {
      const base = (this.slots * SLOT) / 4;
      params.forEach((p, k) => {
        if ('u' in p) this.arenaU32[base + k] = p.u;
        else if ('i' in p) this.arenaI32[base + k] = p.i;
        else this.arenaF32[base + k] = p.f;
      });
      pass.setBindGroup(0, this.bindGroup(signature, tensors), [this.slots * SLOT]);
      this.slots++;
    } else {
      pass.setBindGroup(0, this.bindGroup(signature, tensors));
    }
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    this.pending++;
  }

  /** The bind group of these tensors' ranges (after the arena's slot when the signature has one), made once. */
  private bindGroup(signature: string, tensors: readonly GpuTensor[]): GPUBindGroup {
    let key = signature;
    for (const t of tensors) key += `|${this.bufferIds.get(t.buffer)}:${t.offset}:${t.boundBytes}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [];
      if (signature[0] === 'u') entries.push({ binding: 0, resource: { buffer: this.arena, offset: 0, size: SLOT } });
      for (const t of tensors) entries.push({ binding: entries.length, resource: { buffer: t.buffer, offset: t.offset, size: t.boundBytes } });
      group = this.device.createBindGroup({ layout: this.layouts.get(signature)!.group, entries });
      this.bindGroupsMade++;
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private openPass(timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    return this.pass;
  }

  private closePass(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  /** Records a buffer copy (outside any compute pass). */
  copy(source: GpuTensor, sourceOffset: number, target: GpuTensor, targetOffset: number, elements: number): void {
    this.check();
    this.closePass().copyBufferToBuffer(source.buffer, source.offset + sourceOffset * 4, target.buffer, target.offset + targetOffset * 4, elements * 4);
    this.pending++;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.check();
    if (this.slots > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaData, 0, this.slots * SLOT);
    if (this.encoder) {
      const encoder = this.closePass();
      this.profiler?.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
      this.profiler?.collect();
      this.encoder = null;
    }
    this.pending = 0;
    this.slots = 0;
    for (const b of this.uploadPending) this.putBack(this.uploadFree, b);
    this.uploadPending = [];
  }

  /** The tensor's contents after all recorded work (submits, waits, reads back). */
  async read(t: GpuTensor): Promise<ArrayBuffer> {
    const bytes = t.bindingBytes;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.closePass().copyBufferToBuffer(t.buffer, t.offset, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (error) {
      this.check();
      throw new GpuFailure(`GPU readback failed: ${(error as Error).message}`);
    }
    // An error raised by the work before this read surfaces here, not as wrong numbers.
    this.check();
    const out = staging.getMappedRange().slice(0, t.size * 4);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Waits for all submitted work and reports any device failure. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /**
   * Starts timing every dispatch (each in a pass of its own, so the totals are slower than a plain run:
   * use them for the shares of a step, not its speed). Needs the adapter's 'timestamp-query' feature.
   */
  startProfile(): void {
    if (!this.gpu.features.has('timestamp-query')) throw new Error('this adapter has no timestamp queries: no per-kernel profile');
    this.flush();
    this.profiler = new DispatchProfiler(this.device, MAX_PENDING);
  }

  /** Stops timing and returns GPU milliseconds per pipeline label, with dispatch counts. */
  async stopProfile(): Promise<Map<string, { ms: number; count: number }>> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('no profile running');
    this.flush();
    this.profiler = null;
    return profiler.totals();
  }

  /** Destroys every pooled buffer (tensors still held by callers stay valid). */
  trim(): void {
    this.flush();
    for (const pool of [this.free, this.uploadFree]) {
      for (const list of pool.values()) {
        for (const b of list) {
          this.heldBytes -= b.size;
          b.destroy();
        }
      }
      pool.clear();
    }
    // Their bind groups name destroyed buffers.
    this.bindGroups.clear();
  }
}

/**
 * The kinds of a kernel's bindings 0, 1, ... of group 0, one letter each from its WGSL declarations:
 * 'u' the uniform parameters, 'r' a read-only storage buffer, 'w' a read-write one.
 */
export function bindingSignature(key: string, code: string): string {
  const kinds: string[] = [];
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>/g)) {
    const binding = Number(m[1]);
    if (kinds[binding] !== undefined) throw new Error(`kernel ${key}: binding ${binding} declared twice`);
    kinds[binding] = m[2] === 'uniform' ? 'u' : m[2].endsWith('read_write') ? 'w' : 'r';
  }
  for (let b = 0; b < kinds.length; b++) if (kinds[b] === undefined) throw new Error(`kernel ${key}: bindings are not 0..${kinds.length - 1} (binding ${b} missing)`);
  if (kinds.indexOf('u') > 0) throw new Error(`kernel ${key}: the uniform parameters must be binding 0`);
  return kinds.join('');
}

/** Workgroups for `n` threads of `size`, capped for grid-stride loops (WGSL: i += num_workgroups.x * size). */
export function groupsFor(n: number, size = 256): [number] {
  return [Math.max(1, Math.min(Math.ceil(n / size), 65535))];
}

/** Timestamps around each dispatch of a submit, read back after it, totalled by pipeline label. */
class DispatchProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private labels: string[] = [];
  private readonly reads: Promise<void>[] = [];
  private readonly sums = new Map<string, { ms: number; count: number }>();

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity: number,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity });
    this.resolveBuffer = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  nextPass(label: string): GPUComputePassTimestampWrites {
    const k = this.labels.length;
    if (k >= this.capacity) throw new Error('profiler: more dispatches in one submit than timestamp slots');
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 };
  }

  resolve(encoder: GPUCommandEncoder): void {
    const n = this.labels.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
  }

  /** After the submit: copy the timestamps out and total them when they arrive. */
  collect(): void {
    const labels = this.labels;
    this.labels = [];
    if (labels.length === 0) return;
    const bytes = 16 * labels.length;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.reads.push(
      staging.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(staging.getMappedRange());
        labels.forEach((label, k) => {
          const ms = Number(t[2 * k + 1] - t[2 * k]) / 1e6;
          const entry = this.sums.get(label) ?? { ms: 0, count: 0 };
          entry.ms += ms;
          entry.count++;
          this.sums.set(label, entry);
        });
        staging.unmap();
        staging.destroy();
      }),
    );
  }

  async totals(): Promise<Map<string, { ms: number; count: number }>> {
    await Promise.all(this.reads);
    this.querySet.destroy();
    this.resolveBuffer.destroy();
    return this.sums;
  }
}
