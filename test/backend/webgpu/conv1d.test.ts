/**
 * Causal depthwise conv1d on the GPU against the cpu backend: forward, dx, dWeight, dBias, the same with
 * the SiLU after it in the same kernels, and the one-token step against the full-sequence forward.
 *
 * Tolerances: forward and dx are sums of K products of values in [-1, 1]: |gpu - cpu| <= 1e-6 + 1e-5 |cpu|.
 * dWeight and dBias sum M = batch * length products in float32 in a different order (column sums of
 * 32-row blocks on the GPU, float64 on the cpu): |gpu - cpu| <= 1e-5 sqrt(M) + 1e-5 |cpu|.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

describe.skipIf(!gpu)(`webgpu causal conv1d${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const be = gpu!;

  // [batch, length, E, K]: one token, one sequence, rows that straddle the 32-row blocks, E not a
  // multiple of 256, K = 1 (no window) and K longer than the sequence.
  const shapes: [number, number, number, number][] = [[1, 1, 5, 4], [1, 7, 3, 4], [3, 59, 37, 4], [2, 45, 300, 4], [4, 33, 16, 1], [2, 3, 9, 6]];

  for (const [batch, length, E, K] of shapes) {
    it(`forward and backward match the cpu backend (batch ${batch}, length ${length}, E ${E}, K ${K})`, async () => {
      const rng = new Rng(batch * 1000 + length * 10 + E + K);
      const M = batch * length;
      const x = randomArray(rng, M * E), w = randomArray(rng, E * K, 0.5), bias = randomArray(rng, E, 0.5), dy = randomArray(rng, M * E);
      const run = async (side: typeof be | typeof cpu) => {
        const tx = side.upload(x, [M, E]), tw = side.upload(w, [E, 1, K]), tb = side.upload(bias, [E]);
        const y = side.causalConv1dForward(tx, tw, tb, batch, length);
        // dWeight and dBias start as garbage: the backward must overwrite them.
        const dW = side.upload(new Float32Array(E * K).fill(7), [E, 1, K]), dB = side.upload(new Float32Array(E).fill(7), [E]);
        const dx = side.causalConv1dBackward(tx, tw, side.upload(dy, [M, E]), batch, length, dW, dB);
        // with the SiLU: the same dy read as du, the gradient of u = silu(conv)
        const { conv, u } = side.causalConv1dSiluForward(tx, tw, tb, batch, length);
        const sW = side.upload(new Float32Array(E * K).fill(7), [E, 1, K]), sB = side.upload(new Float32Array(E).fill(7), [E]);
        const sdx = side.causalConv1dSiluBackward(tx, tw, conv, side.upload(dy, [M, E]), batch, length, sW, sB);
        return Promise.all([y, dx, dW, dB, conv, u, sdx, sW, sB].map((t) => side.download(t)));
      };
      const gpuOut = await run(be);
      const cpuOut = await run(cpu);
      const names = ['y', 'dx', 'dWeight', 'dBias', 'silu: conv', 'silu: u', 'silu: dx', 'silu: dWeight', 'silu: dBias'];
      names.forEach((name, k) => {
        // the weight and bias gradients are sums over the M rows
        const atol = name.endsWith('dWeight') || name.endsWith('dBias') ? 1e-5 * Math.sqrt(M) : 1e-6;
        expect(toleranceRatio(gpuOut[k], cpuOut[k], atol, 1e-5), name).toBeLessThanOrEqual(1);
      });
    });
  }

  for (const [batch, length, E, K] of [[3, 9, 37, 4], [2, 4, 5, 1]] as const) {
    it(`step() token by token equals the full-sequence forward (batch ${batch}, length ${length}, E ${E}, K ${K})`, async () => {
      const rng = new Rng(77 + K);
      const M = batch * length;
      const x = randomArray(rng, M * E), w = randomArray(rng, E * K, 0.5), bias = randomArray(rng, E, 0.5);
      const tw = be.upload(w, [E, 1, K]), tb = be.upload(bias, [E]);
      const full = await be.download(be.causalConv1dForward(be.upload(x, [M, E]), tw, tb, batch, length));
      const window: Tensor = be.zeros([batch, K - 1, E]);
      for (let t = 0; t < length; t++) {
        const xt = new Float32Array(batch * E);
        for (let b = 0; b < batch; b++) xt.set(x.subarray((b * length + t) * E, (b * length + t + 1) * E), b * E);
        const yt = await be.download(be.causalConv1dStep(window, be.upload(xt, [batch, E]), tw, tb));
        const want = new Float32Array(batch * E);
        for (let b = 0; b < batch; b++) want.set(full.subarray((b * length + t) * E, (b * length + t + 1) * E), b * E);
        expect(toleranceRatio(yt, want, 1e-6, 1e-5), `t = ${t}`).toBeLessThanOrEqual(1);
      }
    });
  }
});
