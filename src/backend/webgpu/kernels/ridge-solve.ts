/**
 * The ridge system of a probe's closed-form start on the GPU, in float32 (the float64 cpu reference is
 * src/backend/cpu/ridge-solve.ts, with the same layout):
 *
 *   (G + lambda I) x_k = r_k     G: (n, n) symmetric PSD, only its lower triangle read; rhs, x: (K, n) as rows
 *
 * by Cholesky, A = G + lambda I = L L^T, in LAPACK's right-looking blocked order with blocks of NB
 * columns, on a copy of G's lower triangle that becomes L in place:
 *
 *   factor     per block column: the NB x NB diagonal block factored by one workgroup (the block in
 *              workgroup memory, barriers per column); the panel below it, L21 = A21 L11^-T, one row
 *              per thread against L11 in workgroup memory; the trailing lower triangle A22 -= L21 L21^T
 *   forward    Y = R L^-T (each row y solves L y = r), block by block: the NB-wide triangular solve,
 *              then the columns to its right lose the solved block's share
 *   backward   X = Y L^-1 (each row x solves L^T x = y), from the last block: the triangular solve,
 *              then the columns to its left lose the solved block's share
 *
 * The three "lose a share" steps are one strided kernel, C -= A B^T over sub-blocks given by offsets
 * and row / column strides (64 x 64 output tiles per workgroup, 4 x 4 per thread, operands staged
 * through workgroup memory in slices of 16), with depth NB. Right-looking substitutions make those
 * products wide (K x the rest of the columns) rather than deep (K x NB over all solved columns), so
 * they fill the GPU even for few right-hand sides. The backward step reads L transposed through its
 * strides, without a transposed copy: no second n x n buffer (1 GB at n = 16000), and its staging
 * loads walk L's rows with adjacent threads, so they stay coalesced.
 *
 * Dispatches: 1 for the copy of A, 1 buffer copy for x, then 3 per block column in the factor (1 for
 * the last) and 2 per block in each substitution (1 for the last): 7 ceil(n / NB) - 2 in all, each
 * with a grid far below 65535 workgroups per dimension for any n a GPU buffer holds. No readbacks.
 *
 * A pivot that is not above 0 (G + lambda I not positive definite, or NaN in G) becomes NaN, and the
 * whole of x is then NaN: every later entry of its column divides by it, so the panel column is NaN,
 * the trailing update puts NaN into every later entry of A, and with it L[n-1, n-1]; x_{n-1} divides
 * by that, and every other x_j subtracts x_{n-1} L[n-1, j], a product (never a select, min or max,
 * which could drop a NaN). The NaN comes from a uniform rather than from sqrt of a negative, whose
 * result WGSL does not promise to be NaN.
 */
import { rowsCols } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

/** Block columns. Its packed triangle (NB (NB + 1) / 2 floats, 8.3 KB) fits workgroup memory's 16 KB. */
const NB = 64;
const TRIANGLE = (NB * (NB + 1)) / 2;
/** Output tile of the product kernel (square: the lower-triangle update skips whole tiles). */
const TILE = 64;
/** Depth per staged slice of the product's operands. */
const SLICE = 16;
/** Rows of a staged slice, padded by 4 floats (still whole vec4s) to spread its writes over the banks. */
const PADDED = TILE + 4;

// A[i, j] = G[i, j] + lambda [i = j] on and below the diagonal, 0 above (the upper half of G may hold anything).
const INIT = /* wgsl */ `
struct Params { n: u32, lambda: f32 }
@group(0) @binding(0) var<uniform> params: Params;
// gram, a: (n, n)
@group(0) @binding(1) var<storage, read> gram: array<f32>;
@group(0) @binding(2) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = params.n;
  for (var i = gid.x; i < n * n; i += groups.x * 256u) {
    let row = i / n;
    let col = i % n;
    var v = 0.0;
    if (col < row) { v = gram[i]; }
    if (col == row) { v = gram[i] + params.lambda; }
    a[i] = v;
  }
}`;

/** WGSL: tri, the lower triangle of an NB x NB block packed by rows, entry (i, j) at tri[i (i + 1) / 2 + j]. */
const TRI = /* wgsl */ `
const NB = ${NB}u;
var<workgroup> tri: array<f32, ${TRIANGLE}>;
fn at(i: u32, j: u32) -> u32 { return i * (i + 1u) / 2u + j; }`;

// Unblocked Cholesky of the nb x nb diagonal block at a[off] (row stride ld), in place, lower triangle.
// Column by column: the pivot, the column below it scaled, then the rank-1 update of the rest.
const FACTOR_DIAGONAL = /* wgsl */ `
struct Params { nb: u32, off: u32, ld: u32, nan: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
${TRI}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let nb = params.nb;
  for (var e = lid; e < nb * nb; e += 256u) {
    let i = e / nb;
    let j = e % nb;
    if (j <= i) { tri[at(i, j)] = a[params.off + i * params.ld + j]; }
  }
  workgroupBarrier();
  for (var j = 0u; j < nb; j++) {
    let d = tri[at(j, j)];
    // d <= 0 rather than !(d > 0): either way a NaN d gives a NaN pivot, and this one survives a
    // compiler that assumes no NaNs.
    let p = select(sqrt(d), params.nan, d <= 0.0);
    // everyone has read the pivot's old value before it changes
    workgroupBarrier();
    if (lid == 0u) { tri[at(j, j)] = p; }
    for (var i = j + 1u + lid; i < nb; i += 256u) { tri[at(i, j)] /= p; }
    workgroupBarrier();
    let m = nb - j - 1u;
    for (var e = lid; e < m * m; e += 256u) {
      let i = j + 1u + e / m;
      let c = j + 1u + e % m;
      if (c <= i) { tri[at(i, c)] -= tri[at(i, j)] * tri[at(c, j)]; }
    }
    workgroupBarrier();
  }
  for (var e = lid; e < nb * nb; e += 256u) {
    let i = e / nb;
    let j = e % nb;
    if (j <= i) { a[params.off + i * params.ld + j] = tri[at(i, j)]; }
  }
}`;

/**
 * Triangular solves on `rows` rows of nb entries, x[xOff + r xRow + i], in place, against the factored
 * diagonal block L11 at l[lOff] (row stride ld), one row per thread:
 *   forward    y L11^T = x   (the panel L21 = A21 L11^-T, and the forward substitution)
 *   backward   z L11 = y     (the backward substitution)
 * With `shared`, x and L11 are one buffer (the panel, disjoint rows of A): one binding, since WebGPU
 * allows no buffer bound both writable and read-only in one dispatch.
 */
const solveRowsCode = (backward: boolean, shared: boolean) => /* wgsl */ `
struct Params { rows: u32, nb: u32, xOff: u32, xRow: u32, lOff: u32, ld: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
${shared ? 'fn readL(i: u32) -> f32 { return x[i]; }' : `@group(0) @binding(2) var<storage, read> l: array<f32>;
fn readL(i: u32) -> f32 { return l[i]; }`}
${TRI}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let nb = params.nb;
  for (var e = lid; e < nb * nb; e += 64u) {
    let i = e / nb;
    let j = e % nb;
    if (j <= i) { tri[at(i, j)] = readL(params.lOff + i * params.ld + j); }
  }
  workgroupBarrier();
  let r = wid.x * 64u + lid;
  if (r >= params.rows) { return; }
  let base = params.xOff + r * params.xRow;
  var v: array<f32, NB>;
  for (var i = 0u; i < nb; i++) { v[i] = x[base + i]; }
  ${backward ? `for (var jj = nb; jj > 0u; jj--) {
    let j = jj - 1u;
    var s = v[j];
    for (var i = j + 1u; i < nb; i++) { s -= tri[at(i, j)] * v[i]; }
    v[j] = s / tri[at(j, j)];
  }` : `for (var i = 0u; i < nb; i++) {
    var s = v[i];
    for (var j = 0u; j < i; j++) { s -= tri[at(i, j)] * v[j]; }
    v[i] = s / tri[at(i, i)];
  }`}
  for (var i = 0u; i < nb; i++) { x[base + i] = v[i]; }
}`;

/**
 * C -= A B^T on sub-blocks: C (M, N) at c[cOff + i cRow + j], A (M, depth) at c[aOff + i aRow + k]
 * (its k contiguous: rows of L21 or of x), B (N, depth) at b[bOff + j bRow + k bK]; with `lower` only
 * j <= i (C square on the diagonal), skipping tiles above it. A and C are always in one buffer (x, or
 * A itself); with `shared` B is too (the trailing update), for the binding reason of solveRowsCode.
 * The staging loads put adjacent threads along the contiguous axis: k for A, and for B k or, with
 * `bRowsContiguous` (L read transposed), j.
 */
const subtractProductCode = (shared: boolean, bRowsContiguous: boolean) => /* wgsl */ `
struct Params { M: u32, N: u32, depth: u32, aOff: u32, aRow: u32, bOff: u32, bRow: u32, bK: u32, cOff: u32, cRow: u32, lower: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
${shared ? 'fn readB(i: u32) -> f32 { return c[i]; }' : `@group(0) @binding(2) var<storage, read> b: array<f32>;
fn readB(i: u32) -> f32 { return b[i]; }`}
const T = ${TILE}u;
const S = ${SLICE}u;
const P = ${PADDED}u;
// aTile[k * P + i] = A[row0 + i, k0 + k]; bTile[k * P + j] = B[col0 + j, k0 + k]
var<workgroup> aTile: array<vec4f, ${(SLICE * PADDED) / 4}>;
var<workgroup> bTile: array<vec4f, ${(SLICE * PADDED) / 4}>;
fn storeRow(gr: u32, gc: u32, v: vec4f) {
  if (gr >= params.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let col = gc + j;
    if (col < params.N && (params.lower == 0u || col <= gr)) {
      let i = params.cOff + gr * params.cRow + col;
      c[i] = c[i] - v[j];
    }
  }
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  if (params.lower != 0u && col0 > row0) { return; }
  // rows tr*4 .. tr*4+3 and columns tc*4 .. tc*4+3 of the tile
  let tr = lid / 16u;
  let tc = lid % 16u;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < params.depth; k0 += S) {
    for (var e = lid; e < T * S; e += 256u) {
      let i = e / S;
      let k = e % S;
      var v = 0.0;
      if (row0 + i < params.M && k0 + k < params.depth) { v = c[params.aOff + (row0 + i) * params.aRow + k0 + k]; }
      let t = k * P + i;
      aTile[t / 4u][t % 4u] = v;
    }
    for (var e = lid; e < T * S; e += 256u) {
      ${bRowsContiguous ? 'let j = e % T;\n      let k = e / T;' : 'let j = e / S;\n      let k = e % S;'}
      var v = 0.0;
      if (col0 + j < params.N && k0 + k < params.depth) { v = readB(params.bOff + (col0 + j) * params.bRow + (k0 + k) * params.bK); }
      let t = k * P + j;
      bTile[t / 4u][t % 4u] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < S; k++) {
      let av = aTile[k * (P / 4u) + tr];
      let bv = bTile[k * (P / 4u) + tc];
      acc[0] = fma(vec4f(av.x), bv, acc[0]);
      acc[1] = fma(vec4f(av.y), bv, acc[1]);
      acc[2] = fma(vec4f(av.z), bv, acc[2]);
      acc[3] = fma(vec4f(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  storeRow(row0 + tr * 4u, col0 + tc * 4u, acc[0]);
  storeRow(row0 + tr * 4u + 1u, col0 + tc * 4u, acc[1]);
  storeRow(row0 + tr * 4u + 2u, col0 + tc * 4u, acc[2]);
  storeRow(row0 + tr * 4u + 3u, col0 + tc * 4u, acc[3]);
}`;

interface Product {
  M: number;
  N: number;
  depth: number;
  aOff: number;
  aRow: number;
  bOff: number;
  bRow: number;
  bK: number;
  cOff: number;
  cRow: number;
  lower: boolean;
}

/** c -= A B^T as described at subtractProductCode; b null: B is in c too. */
function subtractProduct(rt: GpuRuntime, c: GpuTensor, b: GpuTensor | null, p: Product): void {
  if (p.M === 0 || p.N === 0) return;
  const bRowsContiguous = p.bK !== 1;
  const pipeline = rt.pipeline(`ridgeSubtractProduct:${b ? 'B' : 'shared'}:${bRowsContiguous ? 'rows' : 'k'}`, () => subtractProductCode(!b, bRowsContiguous));
  rt.dispatch(pipeline, b ? [c, b] : [c], [
    { u: p.M }, { u: p.N }, { u: p.depth }, { u: p.aOff }, { u: p.aRow }, { u: p.bOff }, { u: p.bRow }, { u: p.bK },
    { u: p.cOff }, { u: p.cRow }, { u: p.lower ? 1 : 0 },
  ], [Math.ceil(p.N / TILE), Math.ceil(p.M / TILE)]);
}

/** Triangular solves of `rows` rows at x[xOff + r xRow] against L11 at l[lOff] (stride ld); l null: L11 is in x. */
function solveRows(rt: GpuRuntime, x: GpuTensor, l: GpuTensor | null, backward: boolean, rows: number, nb: number, xOff: number, xRow: number, lOff: number, ld: number): void {
  const pipeline = rt.pipeline(`ridgeSolveRows:${backward ? 'backward' : 'forward'}:${l ? 'L' : 'shared'}`, () => solveRowsCode(backward, !l));
  rt.dispatch(pipeline, l ? [x, l] : [x], [{ u: rows }, { u: nb }, { u: xOff }, { u: xRow }, { u: lOff }, { u: ld }], [Math.ceil(rows / 64)]);
}

/**
 * x: (K, n) with (G + lambda I) x_k = r_k for every row r_k of rhs: (K, n); gram: (n, n), lower triangle
 * read. All NaN when G + lambda I is not positive definite. Neither input is modified.
 */
export function solveRidge(rt: GpuRuntime, gram: GpuTensor, lambda: number, rhs: GpuTensor): GpuTensor {
  const [n, cols] = rowsCols(gram);
  const [K, width] = rowsCols(rhs);
  if (gram.shape.length !== 2 || n !== cols || width !== n) {
    throw new Error(`solveRidge: gram [${gram.shape.join(', ')}] and rhs [${rhs.shape.join(', ')}] are not (n, n) and (K, n)`);
  }
  const x = rt.tensor([K, n]);
  if (n === 0 || K === 0) return x;
  const a = rt.tensor([n, n]);
  rt.dispatch(rt.pipeline('ridgeInit', INIT), [gram, a], [{ u: n }, { f: lambda }], groupsFor(n * n));
  rt.copy(rhs, 0, x, 0, K * n);

  const factorDiagonal = rt.pipeline('ridgeFactorDiagonal', FACTOR_DIAGONAL);
  for (let k0 = 0; k0 < n; k0 += NB) {
    const nb = Math.min(NB, n - k0);
    const k1 = k0 + nb;
    rt.dispatch(factorDiagonal, [a], [{ u: nb }, { u: k0 * n + k0 }, { u: n }, { f: NaN }], [1]);
    if (k1 === n) break;
    solveRows(rt, a, null, false, n - k1, nb, k1 * n + k0, n, k0 * n + k0, n);
    subtractProduct(rt, a, null, {
      M: n - k1, N: n - k1, depth: nb, aOff: k1 * n + k0, aRow: n, bOff: k1 * n + k0, bRow: n, bK: 1, cOff: k1 * n + k1, cRow: n, lower: true,
    });
  }

  for (let j0 = 0; j0 < n; j0 += NB) {
    const nb = Math.min(NB, n - j0);
    const j1 = j0 + nb;
    solveRows(rt, x, a, false, K, nb, j0, n, j0 * n + j0, n);
    // x[:, j1:n] -= y[:, j0:j1] L[j1:n, j0:j1]^T
    subtractProduct(rt, x, a, {
      M: K, N: n - j1, depth: nb, aOff: j0, aRow: n, bOff: j1 * n + j0, bRow: n, bK: 1, cOff: j1, cRow: n, lower: false,
    });
  }
  // from the last block, which may be narrower than NB
  for (let j0 = Math.floor((n - 1) / NB) * NB; j0 >= 0; j0 -= NB) {
    const nb = Math.min(NB, n - j0);
    solveRows(rt, x, a, true, K, nb, j0, n, j0 * n + j0, n);
    // x[:, 0:j0] -= x[:, j0:j1] L[j0:j1, 0:j0], with B = L[j0:j1, 0:j0]^T read through its strides
    subtractProduct(rt, x, a, {
      M: K, N: j0, depth: nb, aOff: j0, aRow: n, bOff: j0 * n, bRow: 1, bK: n, cOff: 0, cRow: n, lower: false,
    });
  }
  rt.release(a);
  return x;
}
