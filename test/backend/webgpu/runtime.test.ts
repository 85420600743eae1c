import { describe, expect, it } from 'vitest';
import { columnSums } from '../../../src/backend/webgpu/kernels/common.js';
import { bindingSignature, GpuFailure, type GpuTensor } from '../../../src/backend/webgpu/runtime.js';
import { lengthBuckets } from '../../../datasets/batches.js';
import { configFromPreset } from '../../../src/model/config.js';
import { createModel, initModelParameters } from '../../../src/model/models.js';
import { AdamW } from '../../../src/train/optimizer.js';
import { queueTrainStep, readStep } from '../../../src/train/step.js';
import { Rng } from '../../../src/util/rng.js';
import { gpu, noGpuReason, randomArray } from './gpu-fixture.js';

describe('kernel binding signatures', () => {
  it('read the uniform, read-only and read-write bindings from the WGSL, in binding order', () => {
    const code = `
      @group(0) @binding(2) var<storage, read_write> out: array<f32>;
      @group(0) @binding(0) var<uniform> params: Params;
      @group(0)  @binding(1) var<storage,read> x: array<vec4f>;`;
    expect(bindingSignature('k', code)).toBe('urw');
    expect(bindingSignature('k', '@group(0) @binding(0) var<storage, read> a: array<f32>;')).toBe('r');
  });

  it('refuse a gap, a binding declared twice and parameters after binding 0', () => {
    expect(() => bindingSignature('k', '@group(0) @binding(1) var<storage, read> a: array<f32>;')).toThrow('kernel k: bindings are not 0..1 (binding 0 missing)');
    expect(() => bindingSignature('k', '@group(0) @binding(0) var<storage, read> a: array<f32>;\n@group(0) @binding(0) var<storage, read> b: array<f32>;')).toThrow('kernel k: binding 0 declared twice');
    expect(() => bindingSignature('k', '@group(0) @binding(0) var<storage, read> a: array<f32>;\n@group(0) @binding(1) var<uniform> p: P;')).toThrow('kernel k: the uniform parameters must be binding 0');
  });
});

describe.skipIf(!gpu)(`webgpu runtime${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const be = gpu!;

  it('round-trips floats and ints bit for bit', async () => {
    const values = randomArray(new Rng(1), 1001, 1e6);
    values[3] = -0;
    values[4] = 1e-42; // a subnormal
    const ints = Int32Array.from([0, -1, 16777216, -16777216, 60]); // exact in float32 (downloads convert)
    expect(new Uint32Array((await be.download(be.upload(values, [7, 143]))).buffer)).toEqual(new Uint32Array(values.buffer));
    expect(Array.from(await be.download(be.uploadInts(ints, [5])))).toEqual(Array.from(ints));
    expect(Array.from(await be.download(be.zeros([3, 3])))).toEqual(new Array(9).fill(0));
  });

  it('an upload after a release never overwrites what earlier unsubmitted commands read', async () => {
    const a = be.upload(Float32Array.from([1, 2, 3, 4]), [4]);
    const sum = be.add(a, a); // recorded, not yet submitted
    be.dispose(a);
    const b = be.upload(Float32Array.from([10, 20, 30, 40]), [4]);
    expect(Array.from(await be.download(sum))).toEqual([2, 4, 6, 8]);
    expect(Array.from(await be.download(b))).toEqual([10, 20, 30, 40]);
  });

  it('column sums match a float64 sum over awkward row counts, read from an offset, and accumulate', async () => {
    const rng = new Rng(2);
    // a thread per column up to 64 rows; beyond, 64 to 8 columns a workgroup with the rows split among its threads
    for (const [rows, cols, offset] of [[1, 3, 0], [63, 5, 0], [64, 1, 0], [65, 7, 0], [5000, 17, 0], [300, 1000, 3], [129, 20000, 64], [64, 9, 5]]) {
      const x = randomArray(rng, offset + rows * cols);
      const into = be.upload(Float32Array.from({ length: cols }, (_, c) => c), [cols]);
      columnSums(be.rt, be.upload(x, [offset + rows * cols]) as GpuTensor, rows, cols, into as GpuTensor, true, offset);
      const got = await be.download(into);
      for (let c = 0; c < cols; c++) {
        let s = c;
        for (let r = 0; r < rows; r++) s += x[offset + r * cols + c];
        expect(Math.abs(got[c] - s)).toBeLessThan(1e-4 * Math.sqrt(rows) + 1e-6);
      }
    }
  });

  it('reuses pooled buffers across identical steps instead of growing', async () => {
    const step = async () => {
      const x = be.upload(new Float32Array(4096).fill(1), [64, 64]);
      const y = be.matmul(x, x);
      const z = be.add(y, y);
      for (const t of [x, y]) be.dispose(t);
      const out = await be.download(z);
      be.dispose(z);
      return out[0];
    };
    expect(await step()).toBe(128);
    const held = be.gpuBytes;
    for (let i = 0; i < 5; i++) await step();
    expect(be.gpuBytes).toBe(held);
  });

  it('binds a training step once: identical steps after the first few make no bind groups, whenever the stream is submitted', async () => {
    const config = configFromPreset('tiny', 61, 59);
    const rng = new Rng(3);
    const model = createModel(be, config, initModelParameters(config, rng));
    const optimizer = new AdamW(be, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    const inputs = Int32Array.from({ length: 2 * 59 }, () => 1 + rng.nextInt(60));
    const batch = { inputs, targets: inputs, batch: 2, length: 59 };
    // Groups of 3 queued steps, read together as the trainer does: the submits fall at other places in each step.
    const group = async () => {
      const pending = [0, 1, 2].map(() => queueTrainStep(model, optimizer, batch, 1e-3, 1));
      for (const p of pending) await readStep(be, p);
    };
    await group();
    await group();
    const made = be.rt.bindGroupsMade;
    const held = be.gpuBytes;
    await group();
    await group();
    expect(be.rt.bindGroupsMade).toBe(made);
    expect(be.gpuBytes).toBe(held);
  });

  it('gives steps of the same tokens in rows of another length (train --length-buckets) the buffers and bind groups of the first', async () => {
    const config = configFromPreset('tiny', 61, 127);
    const rng = new Rng(4);
    const model = createModel(be, config, initModelParameters(config, rng));
    const optimizer = new AdamW(be, model.packed, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    // 4 rows of 127 and 8 of 63: 508 and 504 tokens
    const [short, long] = lengthBuckets(2, 128, 4).map(({ rows, length }) => {
      const inputs = Int32Array.from({ length: rows * length }, () => 1 + rng.nextInt(60));
      return { inputs, targets: inputs, batch: rows, length };
    });
    const group = async (batch: typeof long) => {
      const pending = [0, 1].map(() => queueTrainStep(model, optimizer, batch, 1e-3, 1));
      for (const p of pending) await readStep(be, p);
    };
    const start = be.gpuBytes;
    await group(long);
    await group(long);
    const afterLong = be.gpuBytes;
    await group(short);
    await group(short);
    const afterShort = be.gpuBytes;
    // without sharing, the short rows would hold a second set as large as the first
    expect(afterLong).toBeGreaterThan(start);
    expect(afterShort - afterLong).toBeLessThan(0.35 * (afterLong - start));
    await group(long);
    await group(short);
    const made = be.rt.bindGroupsMade;
    await group(long);
    await group(short);
    expect(be.rt.bindGroupsMade).toBe(made);
    expect(be.gpuBytes).toBe(afterShort);
  });

  it('refuses a dispatch whose tensors do not match the kernel\'s bindings', () => {
    const t = be.zeros([4]) as GpuTensor;
    const pipeline = be.rt.pipeline('two-buffers', `
      @group(0) @binding(0) var<uniform> n: u32;
      @group(0) @binding(1) var<storage, read> a: array<f32>;
      @group(0) @binding(2) var<storage, read_write> b: array<f32>;
      @compute @workgroup_size(1) fn main() { b[0] = a[0] + f32(n); }`);
    expect(() => be.rt.dispatch(pipeline, [t], [{ u: 1 }], [1])).toThrow("dispatch two-buffers: parameters and 1 tensors for bindings 'urw'");
    expect(() => be.rt.dispatch(pipeline, [t, t], [], [1])).toThrow("dispatch two-buffers: 2 tensors for bindings 'urw'");
    be.dispose(t);
  });

  it('a GPU validation error fails the next readback loudly instead of returning numbers', async () => {
    const { openGpu } = await import('../../../src/backend/webgpu/device.js');
    const { WebGpuBackend } = await import('../../../src/backend/webgpu/webgpu-backend.js');
    // A device of its own: after the failure it is unusable.
    const broken = new WebGpuBackend((await openGpu({ allowSoftware: true })).gpu!);
    const t = broken.upload(new Float32Array(16), [16]) as GpuTensor;
    const pipeline = broken.rt.pipeline('in-and-out', `
      @group(0) @binding(0) var<storage, read> a: array<f32>;
      @group(0) @binding(1) var<storage, read_write> b: array<f32>;
      @compute @workgroup_size(1) fn main() { b[0] = a[0]; }`);
    // The same buffer bound read-only and writable in one dispatch: invalid.
    broken.rt.dispatch(pipeline, [t, t], [], [1]);
    await expect(broken.download(t)).rejects.toThrow(GpuFailure);
    await expect(broken.download(t)).rejects.toThrow(/GPU error/);
  });
});
