/**
 * The webgpu backend for tests, on whatever adapter this machine has (lavapipe in CI), or null: suites
 * then skip (reported as skipped, never as passed). Also the cpu reference kernels and random inputs.
 */
import { CpuBackend } from '../../../src/backend/cpu/cpu-backend.js';
import { openGpu } from '../../../src/backend/webgpu/device.js';
import { WebGpuBackend } from '../../../src/backend/webgpu/webgpu-backend.js';
import { Rng } from '../../../src/util/rng.js';

const opened = await openGpu({ allowSoftware: true });
export const gpu: WebGpuBackend | null = opened.gpu ? new WebGpuBackend(opened.gpu) : null;
export const noGpuReason = opened.reason;
// The plain TypeScript kernels (float64 sums in the matmul): the reference every webgpu kernel is held to.
export const cpu = new CpuBackend({ kernels: 'reference' });

/** n values uniform in [-scale, scale). */
export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.nextFloat() * 2 - 1) * scale;
  return out;
}

/** dx added to sin(i) in float32: what a norm's backward pass with `addTo` holding sin(i) must give. */
export const addedToSines = (dx: Float32Array) => Float32Array.from(dx, (v, i) => Math.fround(Math.fround(Math.sin(i)) + v));

/** Largest |a - b| / (atol + rtol * |b|) over the elements: <= 1 means within tolerance. */
export function toleranceRatio(actual: Float32Array, expected: Float32Array, atol: number, rtol: number): number {
  if (actual.length !== expected.length) throw new Error(`lengths differ: ${actual.length} vs ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
  }
  return worst;
}
