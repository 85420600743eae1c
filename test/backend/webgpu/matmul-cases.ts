/** The matmul checks shared by the f32 (matmul.test.ts) and mixed-precision (matmul-mixed.test.ts) suites. */
import { expect } from 'vitest';
import type { Backend } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { cpu, randomArray, toleranceRatio } from './gpu-fixture.js';

export interface Case {
  M: number;
  N: number;
  K: number;
}

/** op(A) op(B) as a new tensor, into garbage, and accumulated onto `start`. */
export async function products(be: Backend, a: Float32Array, b: Float32Array, start: Float32Array, { M, N, K }: Case, transA: boolean, transB: boolean) {
  const ta = be.upload(a, transA ? [K, M] : [M, K]);
  const tb = be.upload(b, transB ? [N, K] : [K, N]);
  const fresh = be.matmul(ta, tb, { transA, transB });
  const overwritten = be.upload(new Float32Array(M * N).fill(1e3), [M, N]);
  be.matmul(ta, tb, { transA, transB, into: overwritten });
  const accumulated = be.upload(start, [M, N]);
  be.matmul(ta, tb, { transA, transB, into: accumulated, accumulate: true });
  return Promise.all([fresh, overwritten, accumulated].map((t) => be.download(t)));
}

export const PAIRS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
export const name = (transA: boolean, transB: boolean) => `${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'}`;

/** The products on `be` against the cpu's: |be - cpu| <= perRootK sqrt(K) (+ 1e-6 with accumulate). */
export async function checkMatmul(be: Backend, shape: Case, transA: boolean, transB: boolean, seed: number, perRootK: number): Promise<void> {
  const { M, N, K } = shape;
  const rng = new Rng(seed);
  const [a, b, start] = [randomArray(rng, M * K), randomArray(rng, K * N), randomArray(rng, M * N)];
  const got = await products(be, a, b, start, shape, transA, transB);
  const want = await products(cpu, a, b, start, shape, transA, transB);
  const atol = perRootK * Math.sqrt(Math.max(K, 1));
  ['new', 'into', 'accumulate'].forEach((what, k) => {
    expect(toleranceRatio(got[k], want[k], atol + (k === 2 ? 1e-6 : 0), 0), `${what}: M ${M}, N ${N}, K ${K}, ${name(transA, transB)}`).toBeLessThanOrEqual(1);
  });
}

