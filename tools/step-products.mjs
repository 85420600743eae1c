// The matrix products of one training step of a preset, as the webgpu backend is asked for them: one
// step is run with the backend's matmul wrapped, recording every distinct (M, N, K, transposes,
// accumulate) with how often the step makes it. Shared by tools/matmul-check.mjs and
// tools/matmul-tune.mjs. Build first (npx tsc).
import { parseArgs } from 'node:util';
const dist = new URL('../dist/src/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { rowsCols } = await load('backend/backend.js');
const { configFromPreset } = await load('model/config.js');
const { createModel, initModelParameters } = await load('model/models.js');
const { Rng } = await load('util/rng.js');

/**
 * The command line both tools share (--preset, --batch, --seq, --reps, --tolerance, --json) and a tool's
 * own `options`: the parsed args, with batch, seq (the preset's by default), reps and tolerance as numbers.
 */
export function productArgs(reps, options = {}) {
  const { values: args } = parseArgs({
    options: {
      preset: { type: 'string', default: 'othello-base' },
      batch: { type: 'string', default: '256' },
      seq: { type: 'string' },
      reps: { type: 'string', default: String(reps) },
      tolerance: { type: 'string', default: '2e-3' },
      json: { type: 'boolean', default: false },
      ...options,
    },
  });
  const seq = presetShape(args.preset, args.seq === undefined ? undefined : Number(args.seq)).seq;
  return { args, batch: Number(args.batch), seq, reps: Number(args.reps), tolerance: Number(args.tolerance) };
}

/** Sequence length and vocabulary of a preset's training data (chess: 1023 characters of 32). */
export function presetShape(preset, seq) {
  const chess = preset.startsWith('chess');
  return { vocab: chess ? 32 : 61, seq: seq ?? (chess ? 1023 : 59) };
}

/** [{ M, N, K, transA, transB, accumulate, count }] in order of first use, from one step on `backend`. */
export async function stepProducts(backend, preset, batch, seq) {
  const shape = presetShape(preset, seq);
  const config = configFromPreset(preset, shape.vocab, shape.seq);
  const rng = new Rng(7);
  const model = createModel(backend, config, initModelParameters(config, rng));
  const shapes = new Map();
  const plain = backend.matmul.bind(backend);
  backend.matmul = (a, b, options = {}) => {
    const [ar, ac] = rowsCols(a);
    const [br, bc] = rowsCols(b);
    const transA = options.transA ?? false;
    const transB = options.transB ?? false;
    const product = { M: transA ? ac : ar, K: transA ? ar : ac, N: transB ? br : bc, transA, transB, accumulate: (options.accumulate ?? false) && !!options.into };
    const key = JSON.stringify(product);
    shapes.set(key, { ...product, count: (shapes.get(key)?.count ?? 0) + 1 });
    return plain(a, b, options);
  };
  const tokens = new Int32Array(batch * shape.seq).map(() => 1 + rng.nextInt(config.vocab_size - 1));
  try {
    backend.dispose(model.forwardBackward(tokens, tokens, batch, shape.seq));
    await backend.download(backend.zeros([1]));
  } finally {
    backend.matmul = plain;
  }
  return [...shapes.values()];
}

/** Random operands of a product in [-1, 1): A and B as stored (transposed or not), and a C to add to. */
export function productOperands({ M, N, K }, rng) {
  const random = (n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = rng.nextFloat() * 2 - 1;
    return out;
  };
  return { A: random(M * K), B: random(K * N), C0: random(M * N) };
}

/**
 * The worst error of `out` on 256 sampled entries (the four corners among them) against a float64 dot
 * product of the f32 operands, relative to the sum of |products| there (what rounding the operands to
 * f16 can disturb); Infinity for a NaN.
 */
export function productError({ M, N, K, transA, transB, accumulate }, { A, B, C0 }, out, rng) {
  const at = (i, k) => (transA ? A[k * M + i] : A[i * K + k]);
  const bt = (k, j) => (transB ? B[j * K + k] : B[k * N + j]);
  const samples = [[0, 0], [M - 1, N - 1], [0, N - 1], [M - 1, 0]];
  while (samples.length < 256) samples.push([rng.nextInt(M), rng.nextInt(N)]);
  let worst = 0;
  for (const [i, j] of samples) {
    let ref = accumulate ? C0[i * N + j] : 0;
    let scale = accumulate ? Math.abs(ref) : 0;
    for (let k = 0; k < K; k++) {
      const p = at(i, k) * bt(k, j);
      ref += p;
      scale += Math.abs(p);
    }
    const e = Math.abs(out[i * N + j] - ref) / Math.max(scale, 1e-30);
    worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}
