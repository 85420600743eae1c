import { describe, expect, it } from 'vitest';
import { columnSums } from '../../../src/backend/webgpu/kernels/common.js';
import { GpuFailure, type GpuTensor } from '../../../src/backend/webgpu/runtime.js';
import { Rng } from '../../../src/util/rng.js';
import { gpu, noGpuReason, randomArray } from './gpu-fixture.js';

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

  it('column sums match a float64 sum over awkward row counts, and accumulate', async () => {
    const rng = new Rng(2);
    for (const [rows, cols] of [[1, 3], [63, 5], [64, 1], [65, 7], [5000, 17]]) {
      const x = randomArray(rng, rows * cols);
      const into = be.upload(Float32Array.from({ length: cols }, (_, c) => c), [cols]);
      columnSums(be.rt, be.upload(x, [rows, cols]) as GpuTensor, rows, cols, into as GpuTensor, true);
      const got = await be.download(into);
      for (let c = 0; c < cols; c++) {
        let s = c;
        for (let r = 0; r < rows; r++) s += x[r * cols + c];
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
