/**
 * Causal multi-head self-attention on the GPU (the cpu reference is src/backend/cpu/causal-attention.ts):
 *
 *   qkv: (M, 3d), M = batch x length; columns [0, d) are q, [d, 2d) k, [2d, 3d) v, and head h takes
 *        columns [h hd, (h + 1) hd) of each (hd = d / heads); a (sequence, head) pair is a unit
 *   s_tj = q_t . k_j / sqrt(hd) for j <= t,  out_t = sum_j softmax(s_t)_j v_j,  lse_t = log sum_j exp(s_tj)
 *   backward, with p_tj = exp(s_tj - lse_t) and D_t = dOut_t . out_t:
 *     dv_j = sum_t p_tj dOut_t,  ds_tj = p_tj (dOut_t . v_j - D_t),
 *     dq_t = sum_j ds_tj k_j / sqrt(hd),  dk_j = sum_t ds_tj q_t / sqrt(hd)
 *
 * No kernel stores the (length x length) scores: the forward pass keeps lse, the backward pass
 * recomputes p from it (as FlashAttention does). Every thread owns one row, a query (or, for dk and dv,
 * a key): the row's vectors and accumulators live in registers as vec4s, and the rows it meets pass
 * through workgroup memory, where all threads read the same staged row at the same time (a broadcast).
 * Causality ends a thread's walk early: walks over keys run up from the first key, walks over queries
 * down from the last query, so the threads still walking stay in step. The forward pass walks keys
 * with an online softmax (running max m, sum l and output, rescaled when m grows): out = acc / l,
 * lse = m + log l.
 *
 * Two paths:
 * - flash, any length: a workgroup per (unit, block of ROWS queries) stages keys and values in tiles
 *   of at most MAX_TILE rows. Backward: D by a small kernel, then dq by query blocks (keys and values
 *   in tiles) and dk, dv by key blocks (queries, dOut, lse and D in tiles); each gradient row is
 *   written by one thread: no atomics.
 * - short, up to SHORT_MAX_LENGTH = ROWS positions (Othello's 59 and 60), when a whole sequence's rows
 *   fit the workgroup memory: a workgroup per unit stages all keys and values at once (one tile), and
 *   the backward pass is one kernel: dq with k and v staged, then dk and dv with q and dOut staged in
 *   the same memory, D computed on the way: one dispatch instead of three, each input read once.
 * Every sum is one thread's, in a fixed order: the same bits run after run.
 *
 * Workgroup memory: tiles are sized to the device's maxComputeWorkgroupStorageSize, which WebGPU
 * guarantees at 16 KB: for 64-wide heads, 31-row flash tiles and the short path up to 31 positions;
 * lavapipe's 32 KB and the H200's 48 KB give MAX_TILE rows and the short path up to 63 and 64.
 * Heads of a width divisible by 4 read and write qkv, out and the gradients as vec4s; other widths as
 * floats, zero-padded to whole vec4s. Grids are (units x blocks) workgroups flattened over x and y
 * (65535 per dimension), heaviest blocks first.
 */
import { attentionStepShape, attentionWidth } from '../../backend.js';
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';

/** Rows (queries, or keys for dk and dv) per workgroup, one thread each. */
const ROWS = 64;
/** Longest sequence of the short path: one workgroup of ROWS threads holds a whole sequence. */
export const SHORT_MAX_LENGTH = ROWS;
/** Most rows per staged tile in the flash path: larger tiles save barriers but cost occupancy. */
const MAX_TILE = 32;
/** Threads per workgroup of attentionStep, and keys per chunk of its walk. */
const STEP_THREADS = 64;
/** The largest workgroup count of one grid dimension. */
const MAX_GROUPS = 65535;

export type AttentionPath = 'short' | 'flash';

interface Head {
  /** The head width hd, and vec4s per row (zero-padded). */
  hd: number;
  hd4: number;
  /** Global reads and writes as vec4s (hd divisible by 4, so every head's row starts 16-byte aligned). */
  vec: boolean;
}

const headOf = (hd: number): Head => ({ hd, hd4: Math.ceil(hd / 4), vec: hd % 4 === 0 });

/** Workgroup memory floats per staged row: two vec4 rows (k and v, or q and dOut) and two scalars (lse, D). */
const stagedFloats = (head: Head) => 8 * head.hd4 + 2;

/** Staged rows that fit the device's workgroup memory, at most `cap`. */
function rowsThatFit(rt: GpuRuntime, head: Head, cap: number): number {
  return Math.min(cap, Math.floor(rt.device.limits.maxComputeWorkgroupStorageSize / (4 * stagedFloats(head))));
}

function flashTile(rt: GpuRuntime, head: Head): number {
  const tile = rowsThatFit(rt, head, MAX_TILE);
  if (tile < 1) throw new Error(`causal attention: a head of width ${head.hd} does not fit the device's workgroup memory`);
  return tile;
}

/** The short path when a whole sequence fits one workgroup (threads and workgroup memory), else flash. */
export function attentionPath(rt: GpuRuntime, length: number, headWidth: number): AttentionPath {
  return length <= SHORT_MAX_LENGTH && rowsThatFit(rt, headOf(headWidth), length) === length ? 'short' : 'flash';
}

/**
 * WGSL for a row-major matrix binding accessed 4 columns of a head at a time: load_<name>(at, c4) gives
 * the floats at + 4 c4 .. + 3 (at: the head's first float in the row), zeros past the head's HD
 * columns; store_<name> writes them.
 */
function matrix(k: number, name: string, head: Head, write: boolean): string {
  const decl = `@group(0) @binding(${k}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${head.vec ? 'vec4f' : 'f32'}>;`;
  if (head.vec) {
    return `${decl}
fn load_${name}(at: u32, c4: u32) -> vec4f { return ${name}[at / 4u + c4]; }
${write ? `fn store_${name}(at: u32, c4: u32, v: vec4f) { ${name}[at / 4u + c4] = v; }` : ''}`;
  }
  return `${decl}
fn load_${name}(at: u32, c4: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (c4 * 4u + k < HD) { v[k] = ${name}[at + c4 * 4u + k]; }
  }
  return v;
}
${write ? `fn store_${name}(at: u32, c4: u32, v: vec4f) {
  for (var k = 0u; k < 4u; k++) {
    if (c4 * 4u + k < HD) { ${name}[at + c4 * 4u + k] = v[k]; }
  }
}` : ''}`;
}

const scalars = (k: number, name: string, write = false) =>
  `@group(0) @binding(${k}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<f32>;`;

/** The uniforms of the forward and backward kernels; `groups` is the workgroup count before the grid's padding. */
const header = (head: Head, tile: number) => /* wgsl */ `
struct Params { length: u32, heads: u32, units: u32, blocks: u32, groups: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
const HD = ${head.hd}u;
const HD4 = ${head.hd4}u;
const ROWS = ${ROWS}u;
const TILE = ${tile}u;`;

const ENTRY = /* wgsl */ `
@compute @workgroup_size(ROWS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  // the grid's padding (workgroup-uniform, so no barrier is skipped by part of a workgroup)
  if (flat >= params.groups) { return; }
  let L = params.length;
  let H = params.heads;
  let d = H * HD;`;

/**
 * Stages the `count` rows of the unit from position `first` into workgroup arrays, one vec4 per
 * thread and step (adjacent threads on adjacent vec4s of a row): `loads` maps each array to its load,
 * given the row index `row` of the (M, ...) matrices.
 */
const stage = (loads: Record<string, (row: string) => string>) => `
    for (var i = lid; i < count * HD4; i += ROWS) {
      let row = b * L + first + i / HD4;
${Object.entries(loads).map(([array, load]) => `      ${array}[i] = ${load('row')};`).join('\n')}
    }`;

/** Loads of q, k, v of row `row` (head h, column group i % HD4), and of the head's columns of an (M, d) matrix. */
const qAt = (row: string) => `load_qkv(${row} * 3u * d + h * HD, i % HD4)`;
const kAt = (row: string) => `load_qkv(${row} * 3u * d + d + h * HD, i % HD4)`;
const vAt = (row: string) => `load_qkv(${row} * 3u * d + 2u * d + h * HD, i % HD4)`;
const headAt = (name: string) => (row: string) => `load_${name}(${row} * d + h * HD, i % HD4)`;

/** `name` = (register row `a`) . (staged row at vec4 index `r` of `staged`). */
const dotStaged = (name: string, a: string, staged: string, r: string) => `
        var ${name}4 = vec4f(0.0);
        for (var c = 0u; c < HD4; c++) { ${name}4 = fma(${a}[c], ${staged}[${r} + c], ${name}4); }
        let ${name} = dot(${name}4, vec4f(1.0));`;

/**
 * The forward pass, both paths: a workgroup per (unit, block of ROWS queries), keys and values staged
 * TILE rows at a time (the short path: TILE = length, one block).
 */
const forwardCode = (head: Head, tile: number) => /* wgsl */ `
${header(head, tile)}
${matrix(1, 'qkv', head, false)}
${matrix(2, 'out', head, true)}
// lse: (batch, heads, length)
${scalars(3, 'lse', true)}
var<workgroup> sK: array<vec4f, TILE * HD4>;
var<workgroup> sV: array<vec4f, TILE * HD4>;
${ENTRY}
  let unit = flat % params.units;
  let t0 = (params.blocks - 1u - flat / params.units) * ROWS;
  let b = unit / H;
  let h = unit % H;
  let t = t0 + lid;
  let live = t < L;
  var q: array<vec4f, HD4>;
  var acc: array<vec4f, HD4>;
  if (live) {
    for (var c = 0u; c < HD4; c++) { q[c] = load_qkv((b * L + t) * 3u * d + h * HD, c); }
  }
  var m = -1e30;
  var l = 0.0;
  let end = min(L, t0 + ROWS);
  for (var first = 0u; first < end; first += TILE) {
    let count = min(TILE, end - first);
    // the previous tile's readers are done
    workgroupBarrier();
${stage({ sK: kAt, sV: vAt })}
    workgroupBarrier();
    if (live) {
      let stop = min(first + count, t + 1u);
      for (var j = first; j < stop; j++) {
        let r = (j - first) * HD4;
${dotStaged('qk', 'q', 'sK', 'r')}
        let s = qk * params.scale;
        if (s > m) {
          let rescale = exp(m - s);
          l *= rescale;
          for (var c = 0u; c < HD4; c++) { acc[c] *= rescale; }
          m = s;
        }
        let p = exp(s - m);
        l += p;
        for (var c = 0u; c < HD4; c++) { acc[c] = fma(vec4f(p), sV[r + c], acc[c]); }
      }
    }
  }
  if (live) {
    for (var c = 0u; c < HD4; c++) { store_out((b * L + t) * d + h * HD, c, acc[c] / l); }
    lse[unit * L + t] = m + log(l);
  }
}`;

/** D_t = dOut_t . out_t per (row, head), into (batch, heads, length). */
const rowDotsCode = (head: Head) => /* wgsl */ `
struct Params { rows: u32, heads: u32, length: u32 }
@group(0) @binding(0) var<uniform> params: Params;
const HD = ${head.hd}u;
const HD4 = ${head.hd4}u;
${matrix(1, 'out', head, false)}
${matrix(2, 'dOut', head, false)}
${scalars(3, 'rowDots', true)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let H = params.heads;
  let L = params.length;
  for (var i = gid.x; i < params.rows * H; i += groups.x * 256u) {
    let m = i / H;
    let h = i % H;
    let at = m * H * HD + h * HD;
    var s4 = vec4f(0.0);
    for (var c = 0u; c < HD4; c++) { s4 = fma(load_out(at, c), load_dOut(at, c), s4); }
    rowDots[((m / L) * H + h) * L + m % L] = dot(s4, vec4f(1.0));
  }
}`;

/** dq by blocks of ROWS queries, keys and values staged TILE rows at a time. */
const dqCode = (head: Head, tile: number) => /* wgsl */ `
${header(head, tile)}
${matrix(1, 'qkv', head, false)}
${matrix(2, 'dOut', head, false)}
// lse, rowDots (D): (batch, heads, length)
${scalars(3, 'lse')}
${scalars(4, 'rowDots')}
${matrix(5, 'dqkv', head, true)}
var<workgroup> sK: array<vec4f, TILE * HD4>;
var<workgroup> sV: array<vec4f, TILE * HD4>;
${ENTRY}
  let unit = flat % params.units;
  let t0 = (params.blocks - 1u - flat / params.units) * ROWS;
  let b = unit / H;
  let h = unit % H;
  let t = t0 + lid;
  let live = t < L;
  var q: array<vec4f, HD4>;
  var g: array<vec4f, HD4>;
  var dq: array<vec4f, HD4>;
  var lseT = 0.0;
  var rowDot = 0.0;
  if (live) {
    for (var c = 0u; c < HD4; c++) {
      q[c] = load_qkv((b * L + t) * 3u * d + h * HD, c);
      g[c] = load_dOut((b * L + t) * d + h * HD, c);
    }
    lseT = lse[unit * L + t];
    rowDot = rowDots[unit * L + t];
  }
  let end = min(L, t0 + ROWS);
  for (var first = 0u; first < end; first += TILE) {
    let count = min(TILE, end - first);
    workgroupBarrier();
${stage({ sK: kAt, sV: vAt })}
    workgroupBarrier();
    if (live) {
      let stop = min(first + count, t + 1u);
      for (var j = first; j < stop; j++) {
        let r = (j - first) * HD4;
${dotStaged('qk', 'q', 'sK', 'r')}
${dotStaged('dp', 'g', 'sV', 'r')}
        let p = exp(qk * params.scale - lseT);
        let ds = p * (dp - rowDot);
        for (var c = 0u; c < HD4; c++) { dq[c] = fma(vec4f(ds), sK[r + c], dq[c]); }
      }
    }
  }
  if (live) {
    for (var c = 0u; c < HD4; c++) { store_dqkv((b * L + t) * 3u * d + h * HD, c, dq[c] * params.scale); }
  }
}`;

/** dk and dv by blocks of ROWS keys, queries, dOut, lse and D staged TILE rows at a time. */
const dkvCode = (head: Head, tile: number) => /* wgsl */ `
${header(head, tile)}
${matrix(1, 'qkv', head, false)}
${matrix(2, 'dOut', head, false)}
${scalars(3, 'lse')}
${scalars(4, 'rowDots')}
${matrix(5, 'dqkv', head, true)}
var<workgroup> sQ: array<vec4f, TILE * HD4>;
var<workgroup> sG: array<vec4f, TILE * HD4>;
var<workgroup> sLse: array<f32, TILE>;
var<workgroup> sRowDots: array<f32, TILE>;
${ENTRY}
  let unit = flat % params.units;
  // the first key block meets the most queries
  let j0 = (flat / params.units) * ROWS;
  let b = unit / H;
  let h = unit % H;
  let j = j0 + lid;
  let live = j < L;
  let kvAt = (b * L + j) * 3u * d + h * HD;
  var kr: array<vec4f, HD4>;
  var vr: array<vec4f, HD4>;
  var dk: array<vec4f, HD4>;
  var dv: array<vec4f, HD4>;
  if (live) {
    for (var c = 0u; c < HD4; c++) {
      kr[c] = load_qkv(kvAt + d, c);
      vr[c] = load_qkv(kvAt + 2u * d, c);
    }
  }
  for (var first = j0; first < L; first += TILE) {
    let count = min(TILE, L - first);
    workgroupBarrier();
${stage({ sQ: qAt, sG: headAt('dOut') })}
    for (var i = lid; i < count; i += ROWS) {
      sLse[i] = lse[unit * L + first + i];
      sRowDots[i] = rowDots[unit * L + first + i];
    }
    workgroupBarrier();
    if (live) {
      for (var i = count; i > 0u && first + i > j; i--) {
        let r = (i - 1u) * HD4;
${dotStaged('qk', 'kr', 'sQ', 'r')}
        let p = exp(qk * params.scale - sLse[i - 1u]);
        var dp4 = vec4f(0.0);
        for (var c = 0u; c < HD4; c++) {
          dp4 = fma(vr[c], sG[r + c], dp4);
          dv[c] = fma(vec4f(p), sG[r + c], dv[c]);
        }
        let ds = p * (dot(dp4, vec4f(1.0)) - sRowDots[i - 1u]);
        for (var c = 0u; c < HD4; c++) { dk[c] = fma(vec4f(ds), sQ[r + c], dk[c]); }
      }
    }
  }
  if (live) {
    for (var c = 0u; c < HD4; c++) {
      store_dqkv(kvAt + d, c, dk[c] * params.scale);
      store_dqkv(kvAt + 2u * d, c, dv[c]);
    }
  }
}`;

/**
 * The short path's backward pass, one workgroup per unit and TILE = length: dq (thread per query)
 * over the staged keys and values, then dk and dv (thread per key) over the staged queries and dOut.
 */
const backwardShortCode = (head: Head, length: number) => /* wgsl */ `
${header(head, length)}
${matrix(1, 'qkv', head, false)}
${matrix(2, 'out', head, false)}
${matrix(3, 'dOut', head, false)}
${scalars(4, 'lse')}
${matrix(5, 'dqkv', head, true)}
// k then q, and v then dOut, of every position; lse and D of every position
var<workgroup> sA: array<vec4f, TILE * HD4>;
var<workgroup> sB: array<vec4f, TILE * HD4>;
var<workgroup> sLse: array<f32, TILE>;
var<workgroup> sRowDots: array<f32, TILE>;
${ENTRY}
  let unit = flat;
  let b = unit / H;
  let h = unit % H;
  let first = 0u;
  let count = L;
  // this thread's position: its query for dq, its key for dk and dv
  let live = lid < L;
  let qkvAt = (b * L + lid) * 3u * d + h * HD;
  let headAt = (b * L + lid) * d + h * HD;
${stage({ sA: kAt, sB: vAt })}
  var q: array<vec4f, HD4>;
  var g: array<vec4f, HD4>;
  var lseT = 0.0;
  var rowDot = 0.0;
  if (live) {
    var rowDot4 = vec4f(0.0);
    for (var c = 0u; c < HD4; c++) {
      q[c] = load_qkv(qkvAt, c);
      g[c] = load_dOut(headAt, c);
      rowDot4 = fma(g[c], load_out(headAt, c), rowDot4);
    }
    rowDot = dot(rowDot4, vec4f(1.0));
    lseT = lse[unit * L + lid];
    sRowDots[lid] = rowDot;
    sLse[lid] = lseT;
  }
  workgroupBarrier();
  var kr: array<vec4f, HD4>;
  var vr: array<vec4f, HD4>;
  if (live) {
    var dq: array<vec4f, HD4>;
    for (var j = 0u; j <= lid; j++) {
      let r = j * HD4;
${dotStaged('qk', 'q', 'sA', 'r')}
${dotStaged('dp', 'g', 'sB', 'r')}
      let p = exp(qk * params.scale - lseT);
      let ds = p * (dp - rowDot);
      for (var c = 0u; c < HD4; c++) { dq[c] = fma(vec4f(ds), sA[r + c], dq[c]); }
    }
    for (var c = 0u; c < HD4; c++) {
      store_dqkv(qkvAt, c, dq[c] * params.scale);
      kr[c] = sA[lid * HD4 + c];
      vr[c] = sB[lid * HD4 + c];
    }
  }
  // every thread has its k and v before q and dOut replace them
  workgroupBarrier();
${stage({ sA: qAt, sB: headAt('dOut') })}
  workgroupBarrier();
  if (live) {
    var dk: array<vec4f, HD4>;
    var dv: array<vec4f, HD4>;
    for (var i = L; i > lid; i--) {
      let r = (i - 1u) * HD4;
${dotStaged('qk', 'kr', 'sA', 'r')}
      let p = exp(qk * params.scale - sLse[i - 1u]);
      var dp4 = vec4f(0.0);
      for (var c = 0u; c < HD4; c++) {
        dp4 = fma(vr[c], sB[r + c], dp4);
        dv[c] = fma(vec4f(p), sB[r + c], dv[c]);
      }
      let ds = p * (dot(dp4, vec4f(1.0)) - sRowDots[i - 1u]);
      for (var c = 0u; c < HD4; c++) { dk[c] = fma(vec4f(ds), sA[r + c], dk[c]); }
    }
    for (var c = 0u; c < HD4; c++) {
      store_dqkv(qkvAt + d, c, dk[c] * params.scale);
      store_dqkv(qkvAt + 2u * d, c, dv[c]);
    }
  }
}`;

/**
 * attentionStep: a workgroup per (sequence, head). Its threads write the token's k and v into the
 * caches, then walk the cached keys in chunks of STEP_THREADS, one key's score per thread; every
 * thread folds the chunk's scores into the same online softmax (same values, same order), and
 * accumulates its own vec4 columns of the output (adjacent threads on adjacent columns of a value row).
 */
const stepCode = (head: Head) => /* wgsl */ `
struct Params { heads: u32, cacheRows: u32, position: u32, units: u32, scale: f32 }
@group(0) @binding(0) var<uniform> params: Params;
const HD = ${head.hd}u;
const HD4 = ${head.hd4}u;
const THREADS = ${STEP_THREADS}u;
// the vec4 columns per thread
const PER = ${Math.ceil(head.hd4 / STEP_THREADS)}u;
// qkv: (B, 3d), kCache, vCache: (B, P, d), out: (B, d)
${matrix(1, 'qkv', head, false)}
${matrix(2, 'kCache', head, true)}
${matrix(3, 'vCache', head, true)}
${matrix(4, 'out', head, true)}
var<workgroup> sQ: array<vec4f, HD4>;
var<workgroup> sScores: array<f32, THREADS>;
var<workgroup> sP: array<f32, THREADS>;
@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let unit = wid.y * groups.x + wid.x;
  if (unit >= params.units) { return; }
  let H = params.heads;
  let d = H * HD;
  let b = unit / H;
  let h = unit % H;
  let position = params.position;
  let tokenAt = b * 3u * d + h * HD;
  let cacheAt = b * params.cacheRows * d + h * HD;
  for (var c = lid; c < HD4; c += THREADS) {
    store_kCache(cacheAt + position * d, c, load_qkv(tokenAt + d, c));
    store_vCache(cacheAt + position * d, c, load_qkv(tokenAt + 2u * d, c));
    sQ[c] = load_qkv(tokenAt, c);
  }
  // the cache row just written is read by other threads of the workgroup below
  storageBarrier();
  workgroupBarrier();
  var acc: array<vec4f, PER>;
  var m = -1e30;
  var l = 0.0;
  for (var j0 = 0u; j0 <= position; j0 += THREADS) {
    let j = j0 + lid;
    var s = -1e30;
    if (j <= position) {
      var s4 = vec4f(0.0);
      for (var c = 0u; c < HD4; c++) { s4 = fma(sQ[c], load_kCache(cacheAt + j * d, c), s4); }
      s = dot(s4, vec4f(1.0)) * params.scale;
    }
    sScores[lid] = s;
    workgroupBarrier();
    var mNew = m;
    for (var k = 0u; k < THREADS; k++) { mNew = max(mNew, sScores[k]); }
    sP[lid] = exp(s - mNew);
    workgroupBarrier();
    let rescale = exp(m - mNew);
    l *= rescale;
    for (var k = 0u; k < PER; k++) { acc[k] *= rescale; }
    let count = min(THREADS, position + 1u - j0);
    for (var k = 0u; k < count; k++) {
      let p = sP[k];
      l += p;
      for (var e = 0u; e < PER; e++) {
        let c = lid + e * THREADS;
        if (c < HD4) { acc[e] = fma(vec4f(p), load_vCache(cacheAt + (j0 + k) * d, c), acc[e]); }
      }
    }
    m = mNew;
  }
  for (var e = 0u; e < PER; e++) {
    let c = lid + e * THREADS;
    if (c < HD4) { store_out(b * d + h * HD, c, acc[e] / l); }
  }
}`;

/** A grid of `count` workgroups over x and y (65535 per dimension); kernels skip the padding. */
function flatGrid(count: number): [number, number] {
  return [Math.max(1, Math.min(count, MAX_GROUPS)), Math.ceil(count / MAX_GROUPS)];
}

/** The path asked for (a test forces one), after checking that the short one fits, or the choice by length. */
function choosePath(rt: GpuRuntime, asked: AttentionPath | undefined, length: number, hd: number): AttentionPath {
  const fitting = attentionPath(rt, length, hd);
  if (asked === 'short' && fitting !== 'short') throw new Error(`causal attention: length ${length} with heads of width ${hd} does not fit the short path`);
  return asked ?? fitting;
}

/** qkv: (batch x length, 3d) -> out: (batch x length, d), lse: (batch, heads, length). `path` overrides the choice by length. */
export function causalAttentionForward(
  rt: GpuRuntime, qkv: GpuTensor, batch: number, length: number, heads: number, path?: AttentionPath,
): { out: GpuTensor; lse: GpuTensor } {
  const d = attentionWidth(qkv, batch, length, heads);
  const head = headOf(d / heads);
  path = choosePath(rt, path, length, head.hd);
  const out = rt.tensor([batch * length, d]);
  const lse = rt.tensor([batch, heads, length]);
  const short = path === 'short';
  const tile = short ? length : flashTile(rt, head);
  const units = batch * heads;
  const blocks = short ? 1 : Math.ceil(length / ROWS);
  const groups = units * blocks;
  rt.dispatch(rt.pipeline(`attentionForward:${head.hd}:${tile}`, () => forwardCode(head, tile)), [qkv, out, lse],
    [{ u: length }, { u: heads }, { u: units }, { u: blocks }, { u: groups }, { f: 1 / Math.sqrt(head.hd) }], flatGrid(groups));
  return { out, lse };
}

/** Returns dqkv: (batch x length, 3d) from the forward pass's out and lse and dOut: (batch x length, d). */
export function causalAttentionBackward(
  rt: GpuRuntime, qkv: GpuTensor, out: GpuTensor, lse: GpuTensor, dOut: GpuTensor, batch: number, length: number, heads: number, path?: AttentionPath,
): GpuTensor {
  const d = attentionWidth(qkv, batch, length, heads);
  if (out.size !== batch * length * d || dOut.size !== out.size || lse.size !== batch * heads * length) {
    throw new Error(`causal attention backward: out [${out.shape.join(', ')}], dOut [${dOut.shape.join(', ')}], lse [${lse.shape.join(', ')}] do not fit qkv [${qkv.shape.join(', ')}]`);
  }
  const head = headOf(d / heads);
  path = choosePath(rt, path, length, head.hd);
  const dqkv = rt.tensor(qkv.shape);
  const units = batch * heads;
  const scale = { f: 1 / Math.sqrt(head.hd) };
  if (path === 'short') {
    rt.dispatch(rt.pipeline(`attentionBackwardShort:${head.hd}:${length}`, () => backwardShortCode(head, length)), [qkv, out, dOut, lse, dqkv],
      [{ u: length }, { u: heads }, { u: units }, { u: 1 }, { u: units }, scale], flatGrid(units));
    return dqkv;
  }
  const rowDots = rt.tensor([batch, heads, length]);
  rt.dispatch(rt.pipeline(`attentionRowDots:${head.hd}`, () => rowDotsCode(head)), [out, dOut, rowDots],
    [{ u: batch * length }, { u: heads }, { u: length }], groupsFor(batch * length * heads));
  const tile = flashTile(rt, head);
  const blocks = Math.ceil(length / ROWS);
  const groups = units * blocks;
  const params = [{ u: length }, { u: heads }, { u: units }, { u: blocks }, { u: groups }, scale];
  rt.dispatch(rt.pipeline(`attentionDq:${head.hd}:${tile}`, () => dqCode(head, tile)), [qkv, dOut, lse, rowDots, dqkv], params, flatGrid(groups));
  rt.dispatch(rt.pipeline(`attentionDkv:${head.hd}:${tile}`, () => dkvCode(head, tile)), [qkv, dOut, lse, rowDots, dqkv], params, flatGrid(groups));
  rt.release(rowDots);
  return dqkv;
}

/**
 * One decoding token: qkv: (B, 3d); kCache, vCache: (B, P, d) get the token's k and v in row
 * `position`; returns out: (B, d), attention over rows 0..position.
 */
export function attentionStep(rt: GpuRuntime, qkv: GpuTensor, kCache: GpuTensor, vCache: GpuTensor, position: number, heads: number): GpuTensor {
  const { B, d, P } = attentionStepShape(qkv, kCache, vCache, position, heads);
  const head = headOf(d / heads);
  const out = rt.tensor([B, d]);
  const units = B * heads;
  rt.dispatch(rt.pipeline(`attentionStep:${head.hd}`, () => stepCode(head)), [qkv, kCache, vCache, out],
    [{ u: heads }, { u: P }, { u: position }, { u: units }, { f: 1 / Math.sqrt(head.hd) }], flatGrid(units));
  return out;
}
