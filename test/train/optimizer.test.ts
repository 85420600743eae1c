import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/index.js';
import type { CpuTensor } from '../../src/backend/cpu/cpu-backend.js';
import { isDecayed, PackedParameters } from '../../src/model/packing.js';
import { AdamW } from '../../src/train/optimizer.js';

describe('AdamW', () => {
  it('matches a hand computation of two steps, with and without weight decay, after clipping', async () => {
    const backend = await createBackend('cpu');
    const W = 'backbone.layers.0.mixer.in_proj.weight';
    const D = 'backbone.layers.0.mixer.D';
    // D before W: the packing puts the decayed W first all the same
    const packed = new PackedParameters(backend, [[D, [2]], [W, [2]]], new Map([[W, Float32Array.of(0.5, -1)], [D, Float32Array.of(0.5, 2)]]));
    const { params, grads } = packed;
    expect(packed.slots.map((s) => s.name)).toEqual([W, D]);
    expect(packed.decayEnd).toBe(64);
    // the backward pass writes gradients into the packed views in place; so does this test
    const setGrad = (name: string, values: number[]) => (grads.get(name) as CpuTensor).data.set(values);
    setGrad(W, [0.2, 0.4]);
    setGrad(D, [0.2, -0.3]);
    const config = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const optimizer = new AdamW(backend, packed, config);

    // Reference in float64: p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p), gradients scaled first.
    const reference = (p: number[], gs: number[][], scales: number[], lrs: number[], wd: number) => {
      let m = p.map(() => 0);
      let v = p.map(() => 0);
      gs.forEach((g, k) => {
        const t = k + 1;
        const gScaled = g.map((x) => x * scales[k]);
        m = m.map((mi, i) => 0.9 * mi + 0.1 * gScaled[i]);
        v = v.map((vi, i) => 0.95 * vi + 0.05 * gScaled[i] ** 2);
        p = p.map((pi, i) => pi - lrs[k] * (m[i] / (1 - 0.9 ** t) / (Math.sqrt(v[i] / (1 - 0.95 ** t)) + 1e-8) + wd * pi));
      });
      return { p, m, v };
    };
    // Global norm over both tensors: sqrt(0.04 + 0.16 + 0.04 + 0.09) = sqrt(0.33), clipped to 0.5.
    const [scale, norm] = await backend.download(optimizer.clipAndUpdate(0.1, 0.5));
    expect(norm).toBeCloseTo(Math.sqrt(0.33), 6);
    expect(scale).toBeCloseTo(0.5 / Math.sqrt(0.33), 6);
    // Second step: new gradients, no clipping, another learning rate.
    setGrad(W, [-0.1, 0.05]);
    setGrad(D, [0.3, 0.3]);
    expect((await backend.download(optimizer.clipAndUpdate(0.05, 0)))[0]).toBe(1);
    const w = reference([0.5, -1], [[0.2, 0.4], [-0.1, 0.05]], [scale, 1], [0.1, 0.05], 0.1);
    const d = reference([0.5, 2], [[0.2, -0.3], [0.3, 0.3]], [scale, 1], [0.1, 0.05], 0);
    const gotW = await backend.download(params.get(W)!);
    const gotD = await backend.download(params.get(D)!);
    w.p.forEach((x, i) => expect(gotW[i]).toBeCloseTo(x, 6));
    d.p.forEach((x, i) => expect(gotD[i]).toBeCloseTo(x, 6));
    // First step by hand for W[0]: mhat/sqrt(vhat) = 1 (same sign), so p = 0.5 - 0.1 * (1 + 0.1 * 0.5) = 0.395.
    expect(reference([0.5], [[0.2]], [1], [0.1], 0.1).p[0]).toBeCloseTo(0.395, 7);

    const state = await optimizer.exportState();
    expect(state.step).toBe(2);
    w.m.forEach((x, i) => expect(state.m.get(W)![i]).toBeCloseTo(x, 7));
    d.v.forEach((x, i) => expect(state.v.get(D)![i]).toBeCloseTo(x, 7));
    // the gaps of the packing stayed zero
    const all = await backend.download(packed.allParams);
    expect(all.length).toBe(128);
    expect([...all.subarray(2, 64), ...all.subarray(66)].every((x) => x === 0)).toBe(true);
    expect([...state.m.keys()]).toEqual([D, W]);
  });

  it('decays weight matrices only', () => {
    for (const name of ['in_proj.weight', 'conv1d.weight', 'x_proj.weight', 'dt_proj.weight', 'out_proj.weight']) {
      expect(isDecayed(`backbone.layers.3.mixer.${name}`)).toBe(true);
    }
    expect(isDecayed('lm_head.weight')).toBe(true);
    for (const name of ['backbone.embeddings.weight', 'backbone.norm_f.weight', 'backbone.layers.0.norm.weight', 'backbone.layers.0.mixer.conv1d.bias',
      'backbone.layers.0.mixer.dt_proj.bias', 'backbone.layers.0.mixer.A_log', 'backbone.layers.0.mixer.D']) {
      expect(isDecayed(name)).toBe(false);
    }
  });

  it('clips only above the threshold, and not at all with clip 0', async () => {
    const backend = await createBackend('cpu');
    const clip = async (squares: number[], c: number) => Array.from(await backend.download(backend.clipScale(squares.map((s) => backend.upload(Float32Array.of(s), [1])), c)));
    expect(await clip([0.25], 1)).toEqual([1, 0.5]);
    expect(await clip([7, 9], 1)).toEqual([0.25, 4]);
    expect(await clip([16], 0)).toEqual([1, 4]);
  });
});
