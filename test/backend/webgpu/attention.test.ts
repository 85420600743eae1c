/**
 * Causal attention on the GPU against the cpu backend: out, lse and dqkv on both paths (short: one
 * workgroup per sequence and head; flash: query and key blocks with staged tiles), and attentionStep
 * token by token against the full forward pass. qkv uniform in [-2, 2] (scores up to about 4 sqrt(hd),
 * sharp enough that the online softmax's running max moves), dOut uniform in [-1, 1].
 *
 * Tolerances (|gpu - cpu| <= atol + rtol |cpu|): the cpu sums in float64 with the exact max first, the
 * GPU in float32 with an online max, so out and lse get atol 1e-6, rtol 1e-5; dqkv sums up to
 * `length` terms of products of those: atol 1e-6 sqrt(length), rtol 1e-5. On lavapipe the worst case
 * uses a third of a bound (out of 128-wide heads), most a fifth or less.
 * Shapes: length 1, lengths that are not multiples of the 64-row blocks or of the tiles (7, 17, 59, 70,
 * 130, 300), heads of widths 4, 5 (not a multiple of 4: float reads), 12, 24, 128 (31-row tiles, and
 * too wide for the short path), several heads and sequences, more (sequence, head) units than one grid
 * dimension holds, and a device with only the 16 KB of workgroup memory WebGPU guarantees.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { attentionPath, causalAttentionBackward, causalAttentionForward, SHORT_MAX_LENGTH, type AttentionPath } from '../../../src/backend/webgpu/kernels/attention.js';
import type { GpuTensor } from '../../../src/backend/webgpu/runtime.js';
import { Rng } from '../../../src/util/rng.js';
import { WebGpuBackend } from '../../../src/backend/webgpu/webgpu-backend.js';
import { create } from 'webgpu';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

interface Shape {
  batch: number;
  length: number;
  heads: number;
  /** Head width. */
  hd: number;
}

function attentionData(seed: number, { batch, length, heads, hd }: Shape) {
  const rng = new Rng(seed);
  const M = batch * length;
  const d = heads * hd;
  return { qkv: randomArray(rng, M * 3 * d, 2), dOut: randomArray(rng, M * d) };
}

/** out, lse and dqkv on the cpu backend. */
async function onCpu(data: ReturnType<typeof attentionData>, { batch, length, heads, hd }: Shape): Promise<Float32Array[]> {
  const M = batch * length;
  const d = heads * hd;
  const qkv = cpu.upload(data.qkv, [M, 3 * d]);
  const { out, lse } = cpu.causalAttentionForward(qkv, batch, length, heads);
  const dqkv = cpu.causalAttentionBackward(qkv, out, lse, cpu.upload(data.dOut, [M, d]), batch, length, heads);
  return Promise.all([out, lse, dqkv].map((t) => cpu.download(t)));
}

/** out, lse and dqkv on the GPU along `path`. */
async function onGpu(data: ReturnType<typeof attentionData>, { batch, length, heads, hd }: Shape, path: AttentionPath): Promise<Float32Array[]> {
  const be = gpu!;
  const M = batch * length;
  const d = heads * hd;
  const qkv = be.upload(data.qkv, [M, 3 * d]) as GpuTensor;
  const { out, lse } = causalAttentionForward(be.rt, qkv, batch, length, heads, path);
  const dqkv = causalAttentionBackward(be.rt, qkv, out, lse, be.upload(data.dOut, [M, d]) as GpuTensor, batch, length, heads, path);
  return Promise.all([out, lse, dqkv].map((t) => be.download(t)));
}

const NAMES = ['out', 'lse', 'dqkv'];

// A second WebGPU instance, for a device with the default limits. Held for the whole run: collected
// while its device still worked, it crashed the test process now and then.
const defaultLimitsGpu = create([]);

function expectClose(got: Float32Array[], want: Float32Array[], length: number, what: string): void {
  const atol = [1e-6, 1e-6, 1e-6 * Math.sqrt(length)];
  NAMES.forEach((name, k) => expect(toleranceRatio(got[k], want[k], atol[k], 1e-5), `${what}: ${name}`).toBeLessThanOrEqual(1));
}

describe.skipIf(!gpu)(`webgpu causal attention${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const cases: Shape[] = [
    { batch: 1, length: 1, heads: 1, hd: 4 },
    { batch: 2, length: 7, heads: 2, hd: 12 },
    { batch: 3, length: 17, heads: 3, hd: 5 },
    { batch: 2, length: 59, heads: 4, hd: 16 },
    { batch: 1, length: 64, heads: 2, hd: 24 },
    { batch: 2, length: 40, heads: 1, hd: 128 },
    { batch: 2, length: 70, heads: 2, hd: 8 },
    { batch: 1, length: 130, heads: 3, hd: 12 },
    { batch: 1, length: 300, heads: 1, hd: 5 },
  ];

  for (const shape of cases) {
    const { batch, length, heads, hd } = shape;
    it(`out, lse and dqkv match the cpu backend on each path that fits (batch ${batch}, length ${length}, heads ${heads}, hd ${hd})`, async () => {
      const paths: AttentionPath[] = attentionPath(gpu!.rt, length, hd) === 'short' ? ['short', 'flash'] : ['flash'];
      const data = attentionData(batch * 100000 + length * 100 + heads * 10 + hd, shape);
      const want = await onCpu(data, shape);
      for (const path of paths) expectClose(await onGpu(data, shape, path), want, length, path);
    });
  }

  it('takes the short path up to SHORT_MAX_LENGTH positions (Othello: 59, 60; heads 24..64 wide), flash beyond', () => {
    const rt = gpu!.rt;
    for (const hd of [24, 32, 64]) {
      for (const length of [1, 59, 60, SHORT_MAX_LENGTH]) {
        // the short path holds 2 length rows of the head (and 2 floats a row) in workgroup memory
        const fits = length * (8 * Math.ceil(hd / 4) + 2) * 4 <= rt.device.limits.maxComputeWorkgroupStorageSize;
        expect(attentionPath(rt, length, hd), `length ${length}, hd ${hd}`).toBe(fits ? 'short' : 'flash');
      }
      expect(attentionPath(rt, SHORT_MAX_LENGTH + 1, hd)).toBe('flash');
      expect(attentionPath(rt, 1023, hd)).toBe('flash');
    }
  });

  it('falls back to flash tiles within the 16 KB of workgroup memory every device has (Othello: length 59, hd 64)', async () => {
    // no limits asked for: WebGPU's defaults
    const device = await (await defaultLimitsGpu.requestAdapter())!.requestDevice();
    let failure: string | null = null;
    device.addEventListener('uncapturederror', (event) => {
      failure ??= (event as GPUUncapturedErrorEvent).error.message;
    });
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    const small = new WebGpuBackend({ ...gpu!.rt.gpu, device, features: new Set(), failure: () => failure });
    const shape = { batch: 2, length: 59, heads: 2, hd: 64 };
    expect(attentionPath(small.rt, shape.length, shape.hd)).toBe('flash');
    const data = attentionData(13, shape);
    const M = shape.batch * shape.length;
    const d = shape.heads * shape.hd;
    const qkv = small.upload(data.qkv, [M, 3 * d]);
    const { out, lse } = small.causalAttentionForward(qkv, shape.batch, shape.length, shape.heads);
    const dqkv = small.causalAttentionBackward(qkv, out, lse, small.upload(data.dOut, [M, d]), shape.batch, shape.length, shape.heads);
    const got = await Promise.all([out, lse, dqkv].map((t) => small.download(t)));
    expectClose(got, await onCpu(data, shape), shape.length, 'flash, 16 KB');
  });

  it('runs more (sequence, head) units than one grid dimension holds', async () => {
    const shape = { batch: 33000, length: 2, heads: 2, hd: 4 };
    const data = attentionData(7, shape);
    const want = await onCpu(data, shape);
    for (const path of ['short', 'flash'] as const) expectClose(await onGpu(data, shape, path), want, shape.length, path);
  });

  it('gives the same bits run after run (no atomics, fixed-order sums)', async () => {
    const shape = { batch: 2, length: 45, heads: 2, hd: 8 };
    const data = attentionData(3, shape);
    for (const path of ['short', 'flash'] as const) {
      const first = await onGpu(data, shape, path);
      const second = await onGpu(data, shape, path);
      NAMES.forEach((name, k) => expect(second[k], `${path}: ${name}`).toEqual(first[k]));
    }
  });

  it('attentionStep token by token equals the full forward pass, and fills the caches with k and v', async () => {
    const be: Backend = gpu!;
    const shape = { batch: 3, length: 70, heads: 2, hd: 12 };
    const { batch, length, heads, hd } = shape;
    const d = heads * hd;
    const data = attentionData(11, shape);
    const full = await cpu.download(cpu.causalAttentionForward(cpu.upload(data.qkv, [batch * length, 3 * d]), batch, length, heads).out);
    // room for a few positions past the sequence: rows beyond `position` stay untouched
    const P = length + 3;
    const kCache = be.zeros([batch, P, d]);
    const vCache = be.zeros([batch, P, d]);
    const rowsAt = (x: Float32Array, t: number, width: number, offset = 0, stride = width) => {
      const out = new Float32Array(batch * width);
      for (let b = 0; b < batch; b++) out.set(x.subarray((b * length + t) * stride + offset, (b * length + t) * stride + offset + width), b * width);
      return out;
    };
    for (let t = 0; t < length; t++) {
      const out = be.attentionStep(be.upload(rowsAt(data.qkv, t, 3 * d), [batch, 3 * d]), kCache, vCache, t, heads);
      expect(toleranceRatio(await be.download(out), rowsAt(full, t, d), 1e-6, 1e-5), `t = ${t}`).toBeLessThanOrEqual(1);
    }
    const [k, v] = await Promise.all([be.download(kCache), be.download(vCache)]);
    for (const [cache, offset, name] of [[k, d, 'k'], [v, 2 * d, 'v']] as const) {
      const want = new Float32Array(batch * P * d);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < length; t++) want.set(rowsAt(data.qkv, t, d, offset, 3 * d).subarray(b * d, (b + 1) * d), (b * P + t) * d);
      }
      expect(cache, name).toEqual(want);
    }
  });
});
