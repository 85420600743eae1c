/**
 * Views (backend.view): part of a tensor seen as a tensor of its own, on the cpu backend and on webgpu
 * (lavapipe in CI). Ops read a view's elements and write only inside it; a view's reshape stays a view;
 * bad offsets and disposing a view are refused. (One op reads views of one tensor and writes views of
 * another: WebGPU refuses a buffer bound for reading and for writing in one dispatch.)
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { Rng } from '../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './webgpu/gpu-fixture.js';

for (const [name, be] of [['cpu', cpu], ['webgpu', gpu]] as [string, Backend | null][]) {
  describe.skipIf(!be)(`${name} views${be ? '' : ` (skipped: ${noGpuReason})`}`, () => {
    it('read their own elements, and a product written into one leaves the rest of the tensor alone', async () => {
      const rng = new Rng(5);
      const whole = randomArray(rng, 64 * 5);
      const t = be!.upload(whole, [whole.length]);
      // a (3, 7) matrix from element 64 and a (7, 2) one from element 192 of the same tensor
      const a = be!.view(t, 64, [3, 7]);
      const b = be!.view(t, 192, [7, 2]);
      expect(Array.from(await be!.download(a))).toEqual(Array.from(whole.subarray(64, 85)));
      const target = randomArray(rng, 64 * 3);
      const u = be!.upload(target, [target.length]);
      be!.matmul(a, b, { into: be!.view(u, 64, [3, 2]) });
      const want = new Float32Array(6);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 7; k++) want[i * 2 + j] += whole[64 + i * 7 + k] * whole[192 + k * 2 + j];
      const got = await be!.download(u);
      expect(toleranceRatio(got.subarray(64, 70), want, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      got.set(target.subarray(64, 70), 64);
      expect(Array.from(got)).toEqual(Array.from(target));
      // reshaped, a view still shows the same elements
      expect(Array.from(await be!.download(be!.reshape(b, [14])))).toEqual(Array.from(whole.subarray(192, 206)));
      be!.dispose(t);
      be!.dispose(u);
    });

    it('refuse offsets off the alignment or past the end, and being disposed alone', () => {
      const t = be!.zeros([128]);
      expect(() => be!.view(t, 3, [4])).toThrow(/offset 3 is not a non-negative multiple of 64/);
      expect(() => be!.view(t, 64, [65])).toThrow(/run past its 128/);
      expect(() => be!.dispose(be!.view(t, 64, [8]))).toThrow(/is a view of another tensor/);
      be!.dispose(t);
    });
  });
}
