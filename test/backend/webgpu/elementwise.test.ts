/**
 * The elementwise ops on the GPU against the cpu backend: add, addInPlace, silu, softplus with bias
 * (both sides of PyTorch's threshold 20, and far below 0), the output gate, split and concat of
 * columns. Inputs uniform in [-4, 4] (softplus: [-30, 30]).
 *
 * Tolerances (|gpu - cpu| <= atol + rtol |cpu|): the cpu computes exp and log in float64, the GPU in
 * float32 with WGSL's exp/log accuracy (a few ulp), so pointwise results get atol 1e-6, rtol 1e-5;
 * add, addInPlace and the column copies must be exact; dBias sums M rows: atol 1e-6 sqrt(M), rtol 1e-5.
 * Shapes: one row, one column, row counts not multiples of the 32-row dBias blocks, odd widths.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

const SHAPES: [number, number][] = [[1, 1], [1, 7], [31, 1], [33, 5], [100, 37], [300, 48]];

/** Runs `f` on both backends with the same uploaded inputs; returns the downloads [gpu, cpu]. */
async function both(inputs: Float32Array[], shape: number[], f: (be: Backend, t: Tensor[]) => Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
  const results: Float32Array[][] = [];
  for (const be of [gpu!, cpu] as Backend[]) {
    const outs = f(be, inputs.map((x) => be.upload(x, x.length === shape[0] * shape[1] ? shape : [x.length])));
    results.push(await Promise.all(outs.map((t) => be.download(t))));
  }
  return [results[0], results[1]];
}

describe.skipIf(!gpu)(`webgpu elementwise ops${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  for (const [M, E] of SHAPES) {
    it(`add, addInPlace, silu and gate forward and backward match the cpu backend (${M} x ${E})`, async () => {
      const rng = new Rng(M * 1000 + E);
      const [a, b, c] = [randomArray(rng, M * E, 4), randomArray(rng, M * E, 4), randomArray(rng, M * E, 4)];
      const [got, want] = await both([a, b, c], [M, E], (be, [ta, tb, tc]) => {
        const sum = be.add(ta, tb);
        const target = be.upload(a, [M, E]);
        be.addInPlace(target, tb);
        const gate = be.gateBackward(ta, tb, tc);
        return [sum, target, be.siluForward(ta), be.siluBackward(ta, tb), be.gateForward(ta, tb), gate.dy, gate.dz];
      });
      expect(got[0], 'add').toEqual(want[0]);
      expect(got[1], 'addInPlace').toEqual(want[1]);
      ['silu', 'silu backward', 'gate', 'gate dy', 'gate dz'].forEach((name, k) => {
        expect(toleranceRatio(got[k + 2], want[k + 2], 1e-6, 1e-5), name).toBeLessThanOrEqual(1);
      });
    });

    it(`softplus with bias, forward and backward with dBias, matches the cpu backend (${M} x ${E})`, async () => {
      const rng = new Rng(M * 1000 + E + 1);
      const x = randomArray(rng, M * E, 30);
      const bias = randomArray(rng, E, 1);
      const dy = randomArray(rng, M * E, 1);
      // dBias starts as garbage: the backward pass must overwrite it
      const [got, want] = await both([x, bias, dy, new Float32Array(E).fill(7)], [M, E], (be, [tx, tb, tdy, dBias]) => {
        const dx = be.softplusBiasBackward(tx, tb, tdy, dBias);
        return [be.softplusBiasForward(tx, tb), dx, dBias];
      });
      expect(toleranceRatio(got[0], want[0], 1e-6, 1e-5), 'softplus').toBeLessThanOrEqual(1);
      expect(toleranceRatio(got[1], want[1], 1e-6, 1e-5), 'dx').toBeLessThanOrEqual(1);
      expect(toleranceRatio(got[2], want[2], 1e-6 * Math.sqrt(M), 1e-5), 'dBias').toBeLessThanOrEqual(1);
    });
  }

  it('softplus keeps its relative accuracy far below zero and switches to linear above 20', async () => {
    const x = Float32Array.from([-30, -20, -10, -3, -1e-3, 0, 1e-3, 3, 19.99, 20, 20.01, 40]);
    const [got, want] = await both([x, new Float32Array(1)], [12, 1], (be, [tx, tb]) => [be.softplusBiasForward(tx, tb)]);
    expect(toleranceRatio(got[0], want[0], 0, 1e-5)).toBeLessThanOrEqual(1);
  });

  // 4 parts go in one dispatch; 9 (one of width 0) take two, the second starting mid-row
  for (const widths of [[5, 1, 16, 3], [2, 0, 1, 3, 1, 1, 2, 1, 4]]) {
    it(`splits columns of widths ${widths.join(', ')} and concatenates them back, bit for bit`, async () => {
      const M = 37;
      const C = widths.reduce((s, w) => s + w, 0);
      const x = randomArray(new Rng(9), M * C);
      const [got, want] = await both([x], [M, C], (be, [tx]) => {
        const parts = be.splitColumns(tx, widths);
        return [...parts, be.concatColumns(parts)];
      });
      got.forEach((g, k) => expect(g, `part ${k}`).toEqual(want[k]));
      expect(got[widths.length]).toEqual(x);
    });
  }

  it('rejects mismatched shapes', () => {
    const be = gpu!;
    expect(() => be.add(be.zeros([2, 3]), be.zeros([3, 2]))).toThrow(/differ/);
    expect(() => be.splitColumns(be.zeros([2, 3]), [1, 1])).toThrow(/widths sum to 2/);
  });
});
