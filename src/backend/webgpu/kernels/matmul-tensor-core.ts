/**
 * The mixed-precision matmul kernel: the same product, tile and split-K layout as matmul.ts's f32
 * kernel (that file chooses the tile and dispatches), computed on the tensor cores through Dawn's
 * subgroup matrices (f16 x f16 -> f32, 16 x 16 x 16).
 *
 * A workgroup of BM x BN is split among SGR x SGC subgroups (down, across), each holding FR x FC result
 * fragments of 16 x 16 in f32 (a TensorCorePlan; defaultPlan gives each subgroup 32 rows). K is walked
 * in slices of BK (32 by default): all threads stage op(A)'s BM x BK and op(B)'s BK x BN slice into workgroup memory, converting
 * the f32 operands to f16 there (transposes folded into the loads, adjacent threads on the operand's
 * contiguous axis, zeros outside the matrix); each subgroup then loads its fragments from the slices and
 * multiplies-accumulates. The next slice is read into registers before this one's multiplies, so its
 * memory latency hides behind them (software pipelining, as CUTLASS's mainloops do). The operands
 * stay f32 in memory, so nothing else in a training step changes: only the products' inputs are
 * rounded to f16 (11 significant bits, range up to 65504: gradients are
 * brought into that range by the trainer's loss scale).
 *
 * The WGSL has no loops over fragments, K steps or staged values: the generator writes each out, every
 * fragment a variable of its own. With arrays of fragments indexed by loop counters the products ran at
 * 22 to 30 TFLOP/s over a training step's products; written out, 44 to 63 on an H100 (the README's GPU section).
 *
 * A tile wholly inside C stores its fragments straight to C (having loaded them from C first with
 * accumulate). A tile at an edge writes each fragment through a 16 x 16 scratch of its subgroup in
 * workgroup memory, whose lanes then store the elements inside the matrix (adding the old C with
 * accumulate).
 */

/** How a workgroup's BM x BN tile of C is computed on the tensor cores. */
export interface TensorCorePlan {
  bm: number;
  bn: number;
  /** Subgroups down and across the tile. */
  sgr: number;
  sgc: number;
  /** 16 x 16 fragments per subgroup, down and across: sgr * fr * 16 = bm, sgc * fc * 16 = bn. */
  fr: number;
  fc: number;
  /** K per staged slice, a multiple of 16. */
  bk: number;
}

/** The default plan of a tile: 32 rows (2 fragments) per subgroup down, two subgroups across where the tile is 64 or wider, K slices of 32. */
export function defaultPlan(bm: number, bn: number): TensorCorePlan {
  const sgc = bn >= 64 ? 2 : 1;
  return checkPlan({ bm, bn, sgr: bm / 32, sgc, fr: 2, fc: bn / sgc / 16, bk: 32 });
}

/** The plan itself, or an error saying why its numbers do not make a tile. */
export function checkPlan(plan: TensorCorePlan): TensorCorePlan {
  const { bm, bn, sgr, sgc, fr, fc, bk } = plan;
  const whole = [sgr, sgc, fr, fc, bk].every((x) => Number.isInteger(x) && x > 0);
  if (!whole || sgr * fr * 16 !== bm || sgc * fc * 16 !== bn || bk % 16 !== 0) {
    throw new Error(`matmul: ${JSON.stringify(plan)} does not divide a ${bm} x ${bn} tile into 16 x 16 fragments and K into slices of 16`);
  }
  return plan;
}

/** What the sizes allow beyond the general kernel. */
export interface TensorCoreVariant {
  /** The operand's contiguous axis is a multiple of 4 long: it is read 4 floats at a time. */
  vec4A: boolean;
  vec4B: boolean;
  /** N is a multiple of 4, so C's rows are 16-byte aligned as the fragment stores need them. */
  directC: boolean;
  /** Both operands are stored as f16 (staged as they are, with no rounding); by default f32. */
  halfOperands?: boolean;
}

/**
 * Stages left out, to time what the rest costs (tools/matmul-tune.mjs --anatomy); the product is then
 * wrong. 'cached-loads': every operand read is of element 0 (no memory traffic beyond one cached line),
 * the staging into workgroup memory kept; 'no-staging': those reads, but nothing staged (the fragments
 * multiply whatever workgroup memory holds).
 */
export type KernelAnatomy = 'full' | 'cached-loads' | 'no-staging';

/**
 * The slices of op(A) and op(B) a workgroup stages: each along the operand's contiguous axis in memory
 * (conflict-free stores from coalesced loads), read column-major by the fragment loads where that axis
 * is the other one. Rows are padded by 8 halves (16 bytes) so the fragment loads spread over the banks.
 */
function stagedSlices({ bm, bn, bk }: TensorCorePlan, transA: boolean, transB: boolean) {
  const slice = (rows: number, cols: number, major: 'row_major' | 'col_major') => ({ rows, cols, major, stride: cols + 8 });
  return {
    // A stored (K, M): slice k-major; A stored (M, K): slice m-major
    A: transA ? slice(bk, bm, 'col_major') : slice(bm, bk, 'row_major'),
    // B stored (N, K): slice n-major; B stored (K, N): slice k-major
    B: transB ? slice(bn, bk, 'col_major') : slice(bk, bn, 'row_major'),
  };
}

/** Workgroup memory of a plan's kernel (bytes): the two f16 slices and the f32 scratch of one fragment per subgroup. */
export function tensorCoreWorkgroupBytes(plan: TensorCorePlan, transA: boolean, transB: boolean): number {
  const { A, B } = stagedSlices(plan, transA, transB);
  return 2 * (A.rows * A.stride + B.rows * B.stride) + 4 * plan.sgr * plan.sgc * 256;
}

/** The kernel for a tile, transpose pair, subgroup size and variant. */
export function tensorCoreMatmulCode(plan: TensorCorePlan, transA: boolean, transB: boolean, subgroupSize: number, { vec4A, vec4B, directC, halfOperands = false }: TensorCoreVariant, anatomy: KernelAnatomy = 'full'): { code: string; threads: number } {
  // the operands' element type in memory, and a vector of 4 of them
  const scalar = halfOperands ? 'f16' : 'f32';
  const vector = halfOperands ? 'vec4<f16>' : 'vec4f';
  const { bm, bn, sgr, sgc, fr, fc, bk: BK } = checkPlan(plan);
  const threads = sgr * sgc * subgroupSize;
  const L = 'subgroup_matrix_left<f16, 16, 16>';
  const R = 'subgroup_matrix_right<f16, 16, 16>';
  const S = 'subgroup_matrix_result<f32, 16, 16>';
  const { A, B } = stagedSlices(plan, transA, transB);
  const strideA = A.stride;
  const strideB = B.stride;
  // element (i, k) of op(A)'s slice, and (k, j) of op(B)'s, as offsets into sa and sb
  const leftAt = (i: string, k: string) => (transA ? `${k} * ${strideA}u + ${i}` : `${i} * ${strideA}u + ${k}`);
  const rightAt = (k: string, j: string) => (transB ? `${j} * ${strideB}u + ${k}` : `${k} * ${strideB}u + ${j}`);
  // Global index of slice element (row, col) of each operand (kq: the slice's first k), rows/cols in the staged layout.
  const globalA = transA ? { row: 'kq + row', col: 'row0 + col', rowEnd: 'kEnd', colEnd: 'M', ld: 'M' } : { row: 'row0 + row', col: 'kq + col', rowEnd: 'M', colEnd: 'kEnd', ld: 'K' };
  const globalB = transB ? { row: 'col0 + row', col: 'kq + col', rowEnd: 'N', colEnd: 'kEnd', ld: 'K' } : { row: 'kq + row', col: 'col0 + col', rowEnd: 'kEnd', colEnd: 'N', ld: 'N' };
  // Every loop over fragments, K steps and staged units is written out: each fragment, operand
  // fragment and staged value is a variable of its own, never an element of an array indexed at run
  // time, so the driver can keep them all in registers.
  const each = (n: number, body: (x: number) => string, sep = '\n') => Array.from({ length: n }, (_, x) => body(x)).join(sep);
  const fragments = (body: (i: number, j: number) => string, sep = '\n') => each(fr, (i) => each(fc, (j) => body(i, j), sep), sep);
  // Each thread moves `per` units (a float, or 4 where the contiguous axis allows: a slice's bounds on
  // that axis are then multiples of 4 too, the K splits being multiples of 16, so a group of 4 is
  // wholly inside or wholly outside) of each slice: first from memory into registers (`fetch`, for the
  // next slice while the fragments of this one multiply), then as f16 into workgroup memory (`put`).
  const staging = (name: string, src: string, shape: { rows: number; cols: number }, stride: number, g: typeof globalA, vec4: boolean) => {
    const width = vec4 ? 4 : 1;
    const units = (shape.rows * shape.cols) / width;
    const per = Math.ceil(units / threads);
    const unitsPerRow = shape.cols / width;
    // unit q of this thread; the last may lie past the slice where threads do not divide it
    const unit = (q: number, body: string) => {
      const guarded = (q + 1) * threads <= units ? body : `
      if (e < ${units}u) {${body}
      }`;
      return `
    {
      let e = lid + ${q * threads}u;
      let row = e / ${unitsPerRow}u;
      let col = (e % ${unitsPerRow}u) * ${width}u;${guarded}
    }`;
    };
    const zero = vec4 ? `${vector}(0.0)` : `${scalar}(0.0)`;
    const fetch = each(per, (q) => unit(q, `
      let gr = ${g.row};
      let gc = ${g.col};
      if (gr < ${g.rowEnd} && gc < ${g.colEnd}) { r_${name}_${q} = ${src}[${anatomy === 'full' ? `(gr * ${g.ld} + gc)${vec4 ? ' / 4u' : ''}` : '0'}]; } else { r_${name}_${q} = ${zero}; }`), '');
    const put = each(per, (q) => unit(q, `
      let at = row * ${stride}u + col;
      let v = r_${name}_${q};
${vec4 ? `      ${name}[at] = f16(v.x);
      ${name}[at + 1u] = f16(v.y);
      ${name}[at + 2u] = f16(v.z);
      ${name}[at + 3u] = f16(v.w);` : `      ${name}[at] = f16(v);`}`), '');
    return { declare: each(per, (q) => `var r_${name}_${q} = ${zero};`, '\n  '), fetch, put: anatomy === 'no-staging' ? '' : put };
  };
  const stA = staging('sa', 'a', A, strideA, globalA, vec4A);
  const stB = staging('sb', 'b', B, strideB, globalB, vec4B);
  // fragment (i, j)'s place in C
  const cAt = (i: number, j: number) => `base + (row0 + ar + ${i * 16}u) * N + col0 + bc + ${j * 16}u`;
  // one K step of 16 within the staged slices: load the operand fragments, multiply into every result fragment
  const multiply = (kk: number) => `
    {
${each(fr, (i) => `      let left${i} = subgroupMatrixLoad<${L}, ${A.major}>(&sa, ${leftAt(`(ar + ${i * 16}u)`, `${kk}u`)}, ${strideA}u);`)}
${each(fc, (j) => `      let right${j} = subgroupMatrixLoad<${R}, ${B.major}>(&sb, ${rightAt(`${kk}u`, `(bc + ${j * 16}u)`)}, ${strideB}u);`)}
${fragments((i, j) => `      acc${i}_${j} = subgroupMatrixMultiplyAccumulate(left${i}, right${j}, acc${i}_${j});`)}
    }`;
  // fragment (i, j) of a tile at C's edge, through this subgroup's scratch, element by element
  const edgeStore = (i: number, j: number) => `
  subgroupMatrixStore<row_major>(&scratch, s * 256u, acc${i}_${j}, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += ${subgroupSize}u) {
    let gr = row0 + ar + ${i * 16}u + e / 16u;
    let gc = col0 + bc + ${j * 16}u + e % 16u;
    if (gr < M && gc < N) {
      let at = base + gr * N + gc;
      var x = scratch[s * 256u + e];
      if (params.accumulate != 0u) { x += c[at]; }
      c[at] = x;
    }
  }
  workgroupBarrier();`;
  const code = /* wgsl */ `
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// The fragment offsets depend on the subgroup index only, so they are uniform within each subgroup,
// which is what the builtins need; the analysis can only prove workgroup uniformity.
diagnostic(off, chromium.subgroup_matrix_uniformity);
struct Params { M: u32, N: u32, K: u32, kSplit: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// a: ${transA ? '(K, M)' : '(M, K)'}${vec4A ? ', read as vec4s' : ''}, ${scalar}
@group(0) @binding(1) var<storage, read> a: array<${vec4A ? vector : scalar}>;
// b: ${transB ? '(N, K)' : '(K, N)'}${vec4B ? ', read as vec4s' : ''}, ${scalar}
@group(0) @binding(2) var<storage, read> b: array<${vec4B ? vector : scalar}>;
// c: (M, N), or (splits, M, N) partial products when K is split
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
var<workgroup> sa: array<f16, ${A.rows * strideA}>;
var<workgroup> sb: array<f16, ${B.rows * strideB}>;
// one 16 x 16 fragment per subgroup on its way out, for tiles at the matrix's edges
var<workgroup> scratch: array<f32, ${sgr * sgc * 256}>;
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * ${bm}u;
  let col0 = wid.x * ${bn}u;
  let kBegin = wid.z * params.kSplit;
  let kEnd = min(K, kBegin + params.kSplit);
  let s = lid / ${subgroupSize}u;
  let lane = lid % ${subgroupSize}u;
  // this subgroup's fragments start at row ar, column bc of the tile
  let ar = (s / ${sgc}u) * ${fr * 16}u;
  let bc = (s % ${sgc}u) * ${fc * 16}u;
  let base = wid.z * M * N;
  // A tile wholly inside C is stored (and with accumulate, loaded) straight from the fragments.
  let inside = ${directC ? `row0 + ${bm}u <= M && col0 + ${bn}u <= N` : 'false'};
${fragments((i, j) => `  var acc${i}_${j}: ${S};`)}
  if (inside && params.accumulate != 0u) {
${fragments((i, j) => `    acc${i}_${j} = subgroupMatrixLoad<${S}, row_major>(&c, ${cAt(i, j)}, N);`)}
  }
  // the operands' next slice, on its way from memory while this one multiplies
  ${stA.declare}
  ${stB.declare}
  {
    let kq = kBegin;${stA.fetch}${stB.fetch}
  }
  for (var k0 = kBegin; k0 < kEnd; k0 += ${BK}u) {${stA.put}${stB.put}
    workgroupBarrier();
    if (k0 + ${BK}u < kEnd) {
      let kq = k0 + ${BK}u;${stA.fetch}${stB.fetch}
    }${each(BK / 16, (x) => multiply(16 * x), '')}
    workgroupBarrier();
  }
  if (inside) {
${fragments((i, j) => `    subgroupMatrixStore<row_major>(&c, ${cAt(i, j)}, acc${i}_${j}, N);`)}
    return;
  }${fragments(edgeStore, '')}
}`;
  return { code, threads };
}
