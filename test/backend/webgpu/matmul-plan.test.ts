/**
 * The tensor-core kernel's plans, checked without a GPU (the kernels themselves run only where the
 * adapter has subgroup matrices: matmul-mixed.test.ts and tools/matmul-check.mjs on the H200): the
 * default plan of each tile, the refusal of plans that do not tile, the plan and splits training
 * takes, and the kernel text of each stage left out for tools/matmul-tune.mjs --anatomy.
 */
import { describe, expect, it } from 'vitest';
import { checkPlan, defaultPlan, tensorCoreMatmulCode } from '../../../src/backend/webgpu/kernels/matmul-tensor-core.js';
import { tensorCorePlanFor } from '../../../src/backend/webgpu/kernels/matmul.js';

const vec4 = { vec4A: true, vec4B: true, directC: true };

describe('tensor-core matmul plans', () => {
  it('gives each tile 32 rows per subgroup, two subgroups across from 64 columns, K slices of 32', () => {
    expect(defaultPlan(128, 128)).toEqual({ bm: 128, bn: 128, sgr: 4, sgc: 2, fr: 2, fc: 4, bk: 32 });
    expect(defaultPlan(64, 64)).toEqual({ bm: 64, bn: 64, sgr: 2, sgc: 2, fr: 2, fc: 2, bk: 32 });
    expect(defaultPlan(128, 32)).toEqual({ bm: 128, bn: 32, sgr: 4, sgc: 1, fr: 2, fc: 2, bk: 32 });
    expect(defaultPlan(256, 16)).toEqual({ bm: 256, bn: 16, sgr: 8, sgc: 1, fr: 2, fc: 1, bk: 32 });
  });

  it('refuses a plan whose subgroups and fragments do not make its tile, or whose K slice is not whole fragments', () => {
    const good = { bm: 128, bn: 128, sgr: 2, sgc: 2, fr: 4, fc: 4, bk: 64 };
    expect(checkPlan(good)).toBe(good);
    for (const bad of [{ ...good, sgr: 3 }, { ...good, fc: 2 }, { ...good, bk: 24 }, { ...good, fr: 0, sgr: 0 }]) {
      expect(() => checkPlan(bad)).toThrow(/does not divide a 128 x 128 tile into 16 x 16 fragments/);
    }
  });

  it('trains on the f32 kernel\'s tile and splits: no split where the tiles fill the GPU, else splits of K', () => {
    // othello-base's in_proj forward, its weight gradient, and x_proj's narrow one
    expect(tensorCorePlanFor(15104, 1024, 256)).toEqual({ plan: defaultPlan(128, 128), splits: 1 });
    expect(tensorCorePlanFor(1024, 256, 15104)).toEqual({ plan: defaultPlan(128, 128), splits: 16 });
    // 236 tiles: as many waves split or not
    expect(tensorCorePlanFor(15104, 256, 512)).toEqual({ plan: defaultPlan(128, 128), splits: 1 });
    expect(tensorCorePlanFor(512, 16, 15104)).toEqual({ plan: defaultPlan(256, 16), splits: 64 });
  });

  it('has workgroups of its subgroups, and leaves out the stages --anatomy asks to', () => {
    const plan = { bm: 128, bn: 64, sgr: 2, sgc: 2, fr: 4, fc: 2, bk: 32 };
    const full = tensorCoreMatmulCode(plan, false, true, 32, vec4);
    expect(full.threads).toBe(128);
    expect(full.code).toContain('@workgroup_size(128)');
    expect(full.code).toContain('r_sa_0 = a[(gr * K + gc) / 4u]');
    expect(full.code).toContain('sa[at] = f16(v.x)');
    const cached = tensorCoreMatmulCode(plan, false, true, 32, vec4, 'cached-loads').code;
    expect(cached).not.toContain('(gr * K + gc)');
    expect(cached).toContain('r_sa_0 = a[0]');
    expect(cached).toContain('sa[at] = f16(v.x)');
    const bare = tensorCoreMatmulCode(plan, false, true, 32, vec4, 'no-staging').code;
    expect(bare).toContain('r_sa_0 = a[0]');
    expect(bare).not.toContain('f16(v');
    expect(bare).toContain('subgroupMatrixMultiplyAccumulate');
  });

  it('writes every fragment, K step and staged value out: no arrays of fragments, one accumulator each', () => {
    // Arrays indexed by loop counters kept the fragments out of registers (the README's GPU section).
    const plan = defaultPlan(128, 128); // 8 subgroups of 2 x 4 fragments, K slices of 32
    const { code } = tensorCoreMatmulCode(plan, true, false, 32, vec4);
    expect(code).not.toMatch(/array<subgroup_matrix/);
    expect(code).not.toMatch(/var r_s[ab]: array/);
    expect(code.match(/var acc\d_\d: subgroup_matrix_result/g)).toHaveLength(plan.fr * plan.fc);
    // every fragment multiplies once per K step of 16: 2 steps a slice of 32
    expect(code.match(/subgroupMatrixMultiplyAccumulate\(/g)).toHaveLength((plan.fr * plan.fc * plan.bk) / 16);
    expect(code).toContain('acc1_3 = subgroupMatrixMultiplyAccumulate(left1, right3, acc1_3);');
  });

  it('reads f16 operands where asked (what operands written in f16 would save), f32 by default', () => {
    const plan = defaultPlan(128, 128);
    const f32 = tensorCoreMatmulCode(plan, true, false, 32, vec4).code;
    expect(f32).toContain('var<storage, read> a: array<vec4f>;');
    const half = tensorCoreMatmulCode(plan, true, false, 32, { ...vec4, halfOperands: true }).code;
    expect(half).toContain('var<storage, read> a: array<vec4<f16>>;');
    expect(half).toContain('var<storage, read> b: array<vec4<f16>>;');
    expect(half).toContain('var r_sa_0 = vec4<f16>(0.0);');
    const scalar = tensorCoreMatmulCode(plan, false, false, 32, { vec4A: false, vec4B: false, directC: false, halfOperands: true }).code;
    expect(scalar).toContain('var<storage, read> a: array<f16>;');
    expect(scalar).toContain('var r_sa_0 = f16(0.0);');
  });
});
