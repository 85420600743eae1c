/**
 * The GPU side of the webgpu backend: tensors on a buffer pool, cached pipelines, and one command stream.
 *
 * Every op records a dispatch into one open compute pass; nothing is submitted until something needs
 * the results (a download) or the stream grows long. Within a pass WebGPU orders the dispatches, so a
 * buffer released by one op can be handed to the next op's output at once (stream order makes that
 * safe). Uploads are the exception: queue.writeBuffer runs before any command not yet submitted, so an
 * upload only ever lands in a buffer that no unsubmitted command touches (released before the last
 * submit, or new).
 *
 * Kernel parameters (sizes, scalars) go into one uniform arena per submit, a 256-byte slot per
 * dispatch, written just before the submit.
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

  /** The bytes a binding of it covers: its elements, rounded up to 16 bytes as bindings are. */
  get bindingBytes(): number {
    return Math.max(16, Math.ceil(this.size * 4 / 16) * 16);
  }
}

/** A kernel parameter: an unsigned int, a signed int or a float, in the order of the WGSL struct. */
export type Param = { u: number } | { i: number } | { f: number };

const SLOT = 256;
const ARENA_SLOTS = 4096;
/** Dispatches recorded before the stream is submitted anyway (keeps command buffers bounded). */
const MAX_PENDING = 2048;
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export class GpuFailure extends Error {}

export class GpuRuntime {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Free buffers by byte size; `freeNow` may still be read by commands not yet submitted. */
  private readonly free = new Map<number, GPUBuffer[]>();
  private freeNow: GPUBuffer[] = [];
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

  /** A compute pipeline for WGSL `code` (entry point `main`), compiled once per key. */
  pipeline(key: string, code: string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ label: key, code });
      p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** The keys of the pipelines compiled so far: which kernel variants a run used. */
  pipelineKeys(): string[] {
    return [...this.pipelines.keys()];
  }

  private take(bytes: number, forUpload: boolean): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const list = this.free.get(size);
    if (list && list.length > 0) return list.pop()!;
    if (!forUpload) {
      const i = this.freeNow.findIndex((b) => b.size === size);
      if (i >= 0) return this.freeNow.splice(i, 1)[0];
    }
    this.heldBytes += size;
    return this.device.createBuffer({ size, usage: STORAGE });
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
    this.freeNow.push(tensor.buffer);
  }

  /**
   * Records one dispatch of `pipeline`: binding 0 is the uniform `params` struct when `params` is not
   * empty, then the tensors in order (bindings 1, 2, ...; 0, 1, ... without params).
   */
  dispatch(pipeline: GPUComputePipeline, tensors: readonly GpuTensor[], params: readonly Param[], groups: readonly [number, number?, number?]): void {
    this.check();
    if (params.length * 4 > SLOT) throw new Error(`dispatch ${pipeline.label}: ${params.length} parameters exceed one ${SLOT}-byte slot`);
    if (this.slots === ARENA_SLOTS || this.pending >= MAX_PENDING) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (params.length > 0) {
      const base = (this.slots * SLOT) / 4;
      params.forEach((p, k) => {
        if ('u' in p) this.arenaU32[base + k] = p.u;
        else if ('i' in p) this.arenaI32[base + k] = p.i;
        else this.arenaF32[base + k] = p.f;
      });
      entries.push({ binding: binding++, resource: { buffer: this.arena, offset: this.slots * SLOT, size: SLOT } });
      this.slots++;
    }
    for (const t of tensors) entries.push({ binding: binding++, resource: { buffer: t.buffer, offset: t.offset, size: t.bindingBytes } });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (this.profiler) this.closePass();
    const pass = this.openPass(this.profiler?.nextPass(pipeline.label));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    this.pending++;
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
    for (const b of this.freeNow) {
      const list = this.free.get(b.size);
      if (list) list.push(b);
      else this.free.set(b.size, [b]);
    }
    this.freeNow = [];
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
    for (const list of this.free.values()) {
      for (const b of list) {
        this.heldBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }
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
