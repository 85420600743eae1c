/**
 * GELU (tanh form), bias add and bias gradient on the GPU against the cpu backend. GELU inputs uniform
 * in [-6, 6] and the saturated values +-20 .. +-100, where the GPU must give the exact limits (x or 0,
 * slope 1 or 0) and no NaN from an overflowing tanh. Tolerances (|gpu - cpu| <= atol + rtol |cpu|):
 * GELU y and dx atol 1e-6, rtol 1e-5 (WGSL's exp is good to a few ulp); biasAdd is one float32 addition
 * (exact); biasGrad sums M rows in another order than the cpu: atol 1e-6 sqrt(M), rtol 1e-5.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

const SATURATED = [20, 25, 50, 100, -20, -25, -50, -100];

async function gelu(be: Backend, x: Float32Array, dy: Float32Array) {
  const tx = be.upload(x, [x.length]);
  return Promise.all([be.geluForward(tx), be.geluBackward(tx, be.upload(dy, [dy.length]))].map((t) => be.download(t)));
}

async function bias(be: Backend, x: Float32Array, b: Float32Array, M: number, C: number) {
  const y = be.biasAdd(be.upload(x, [M, C]), be.upload(b, [C]));
  // dBias starts as garbage: biasGrad must overwrite it
  const dBias = be.upload(new Float32Array(C).fill(3), [C]);
  be.biasGrad(be.upload(x, [M, C]), dBias);
  return Promise.all([y, dBias].map((t) => be.download(t)));
}

describe.skipIf(!gpu)(`webgpu GELU and bias${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  it('GELU forward and backward match the cpu backend', async () => {
    const rng = new Rng(1);
    const n = 10000;
    const x = randomArray(rng, n, 6);
    const dy = randomArray(rng, n);
    const [y, dx] = await gelu(gpu!, x, dy);
    const [yWant, dxWant] = await gelu(cpu, x, dy);
    expect(toleranceRatio(y, yWant, 1e-6, 1e-5), 'y').toBeLessThanOrEqual(1);
    expect(toleranceRatio(dx, dxWant, 1e-6, 1e-5), 'dx').toBeLessThanOrEqual(1);
  });

  it('GELU gives the exact limits for large |x|, never NaN', async () => {
    const x = Float32Array.from(SATURATED);
    const dy = new Float32Array(x.length).fill(2);
    const [y, dx] = await gelu(gpu!, x, dy);
    // |0| for negative x: 0.5 x (1 + tanh) is -0 there, and toEqual tells -0 from 0
    expect(Array.from(y, Math.abs)).toEqual(SATURATED.map((v) => (v > 0 ? v : 0)));
    expect(Array.from(dx, Math.abs)).toEqual(SATURATED.map((v) => (v > 0 ? 2 : 0)));
  });

  for (const [M, C] of [[1, 1], [5, 7], [300, 129], [1000, 64]]) {
    it(`biasAdd and biasGrad match the cpu backend (M ${M}, C ${C})`, async () => {
      const rng = new Rng(M * 1000 + C);
      const x = randomArray(rng, M * C);
      const b = randomArray(rng, C);
      const [y, dBias] = await bias(gpu!, x, b, M, C);
      const [yWant, dBiasWant] = await bias(cpu, x, b, M, C);
      expect(y, 'y').toEqual(yWant);
      expect(toleranceRatio(dBias, dBiasWant, 1e-6 * Math.sqrt(M), 1e-5), 'dBias').toBeLessThanOrEqual(1);
    });
  }
});
