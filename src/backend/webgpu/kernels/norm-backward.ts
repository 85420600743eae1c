/**
 * The backward pass of both row norms (rms-norm.ts, layer-norm.ts) from one kernel generator. RMSNorm
 * is LayerNorm without the mean and the bias, so `centered` (LayerNorm) adds the mean input, x - mean,
 * the mean(g) term and the bias gradient:
 *
 *   xhat = (x - mean) * rstd   (RMSNorm: x * rstd),   g = dy * w
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))   (RMSNorm: without mean(g))
 *   dw = sum over rows of dy * xhat,   db = sum over rows of dy
 *
 * Each workgroup takes a block of ROWS rows, keeps the block's dw (and db) in registers and writes them
 * as one partial per block; columnSums adds the blocks in a fixed order. The row sums are the
 * shared-memory tree of common.ts (of g * xhat, and for LayerNorm of g beside it as one vec2 tree).
 */
import { groupsFor, type GpuRuntime, type GpuTensor } from '../runtime.js';
import { checkAddTo, columnSums, rowColumnsPerThread, ROW_THREADS, ROWS_PER_BLOCK, TREE_SUM } from './common.js';

const WG = ROW_THREADS;
const ROWS = ROWS_PER_BLOCK;

const backwardCode = (per: number, centered: boolean) => {
  // every difference between the two norms: RMSNorm's text, then LayerNorm's
  const either = (rmsNorm: string, layerNorm: string) => (centered ? layerNorm : rmsNorm);
  // the bindings in order; a LayerNorm's mean and bias partial sit among the RMSNorm's
  const storage = [
    '// x, dy, dx: (M, d); with accumulate, dx is added to what dx holds',
    'var<storage, read> x: array<f32>;',
    '// w: (d)',
    'var<storage, read> w: array<f32>;',
    ...(centered ? ['// mean, rstd: (M)', 'var<storage, read> mean: array<f32>;'] : ['// rstd: (M)']),
    'var<storage, read> rstd: array<f32>;',
    'var<storage, read> dy: array<f32>;',
    'var<storage, read_write> dx: array<f32>;',
    `// partialW${either('', ', partialB')}: (blocks, d), dw${either('', ' and db')} summed over each block of ROWS rows`,
    'var<storage, read_write> partialW: array<f32>;',
    ...(centered ? ['var<storage, read_write> partialB: array<f32>;'] : []),
  ];
  let binding = 1;
  const bindings = storage.map((line) => (line.startsWith('//') ? line : `@group(0) @binding(${binding++}) ${line}`)).join('\n');
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, blocks: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> params: Params;
${bindings}
const WG = ${WG}u;
const PER = ${per}u;
const ROWS = ${ROWS}u;
// the row's sum of g * xhat${either('', ' (.y), beside that of g (.x)')}
var<workgroup> red: array<${either('f32', 'vec2f')}, WG>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) groups: vec3u) {
  let d = params.cols;
  for (var block = wid.x; block < params.blocks; block += groups.x) {
    var dw: array<f32, PER>;${either('', '\n    var db: array<f32, PER>;')}
    var ws: array<f32, PER>;
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      dw[j] = 0.0;${either('', '\n      db[j] = 0.0;')}
      ws[j] = 0.0;
      if (c < d) { ws[j] = w[c]; }
    }
    let end = min(params.rows, (block + 1u) * ROWS);
    for (var row = block * ROWS; row < end; row++) {${either('', '\n      let mu = mean[row];')}
      let r = rstd[row];
      var xhat: array<f32, PER>;
      var g: array<f32, PER>;
      var sums = ${either('0.0', 'vec2f(0.0)')};
      for (var j = 0u; j < PER; j++) {
        let c = lid + j * WG;
        xhat[j] = 0.0;
        g[j] = 0.0;
        if (c < d) {
          let gy = dy[row * d + c];
          xhat[j] = ${either('x[row * d + c] * r', '(x[row * d + c] - mu) * r')};
          g[j] = gy * ws[j];
          dw[j] += gy * xhat[j];${either('', '\n          db[j] += gy;')}
        }
        sums += ${either('g[j] * xhat[j]', 'vec2f(g[j], g[j] * xhat[j])')};
      }
      red[lid] = sums;
      ${TREE_SUM}
      let means = red[0] / f32(d);
      workgroupBarrier();
      for (var j = 0u; j < PER; j++) {
        let c = lid + j * WG;
        if (c < d) {
          var v = r * (g[j] - ${either('xhat[j] * means', 'means.x - xhat[j] * means.y')});
          if (params.accumulate != 0u) { v += dx[row * d + c]; }
          dx[row * d + c] = v;
        }
      }
    }
    for (var j = 0u; j < PER; j++) {
      let c = lid + j * WG;
      if (c < d) {
        partialW[block * d + c] = dw[j];${either('', '\n        partialB[block * d + c] = db[j];')}
      }
    }
  }
}`;
};

/** The inputs of a norm's backward pass; `mean` and `dBias` are LayerNorm's alone. */
export interface NormBackwardInputs {
  x: GpuTensor;
  weight: GpuTensor;
  mean?: GpuTensor;
  rstd: GpuTensor;
  dy: GpuTensor;
  dWeight: GpuTensor;
  dBias?: GpuTensor;
  addTo?: GpuTensor;
}

/**
 * Returns dx: (M, d), or adds it to `addTo` and returns that; writes dWeight (and, with a mean, dBias):
 * (d), overwritten. `name` (the caller's) names the pipeline and the error of a wrong `addTo`.
 */
export function normBackward(rt: GpuRuntime, name: string, inputs: NormBackwardInputs): GpuTensor {
  const { x, weight, mean, rstd, dy, dWeight, dBias, addTo } = inputs;
  const centered = mean !== undefined;
  if (centered !== (dBias !== undefined)) throw new Error(`${name}: a mean and a bias gradient go together`);
  const d = weight.size;
  const M = x.size / d;
  const blocks = Math.max(1, Math.ceil(M / ROWS));
  const dx = addTo ? checkAddTo(addTo, x, name) : rt.tensor(x.shape);
  const partialW = rt.tensor([blocks, d]);
  const partialB = centered ? rt.tensor([blocks, d]) : null;
  const per = rowColumnsPerThread(d);
  const buffers = centered ? [x, weight, mean, rstd, dy, dx, partialW, partialB!] : [x, weight, rstd, dy, dx, partialW];
  rt.dispatch(rt.pipeline(`${name}:${per}`, () => backwardCode(per, centered)), buffers,
    [{ u: M }, { u: d }, { u: blocks }, { u: addTo ? 1 : 0 }], groupsFor(blocks, 1));
  columnSums(rt, partialW, blocks, d, dWeight);
  rt.release(partialW);
  if (partialB) {
    columnSums(rt, partialB, blocks, d, dBias!);
    rt.release(partialB);
  }
  return dx;
}
