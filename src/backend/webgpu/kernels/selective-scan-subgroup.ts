/**
 * The selective scan's kernels with their sums over n done by subgroup shuffles instead of workgroup
 * memory (the layout, the chunks and the saved boundary states are selective-scan.ts's; this file only
 * holds the WGSL). A channel's N states are N neighbouring lanes of one subgroup, so a sum over n is an
 * xor butterfly over those lanes, with no barrier; a sum over the channels of one subgroup is the
 * butterfly over the lanes N, 2N, ... apart. Sums run in a fixed order (both lanes of a butterfly pair add
 * the same two numbers), so the bits are the same run after run; they differ from the cpu's order by
 * rounding only.
 *
 * - Forward: y_t = C_t . h_t by butterfly, where the workgroup-memory kernel writes N terms a step and
 *   has a thread add them after a barrier. On the H200 this forward pass took 2.1 ms where the
 *   workgroup-memory one took 2.9 (othello-base, 8 layers, 256 x 59), one butterfly a step; it now sums
 *   two steps in one (`pairedButterfly`), which on an H100 took it from 5.76 to 4.67 ms a chess-base
 *   8 x 1023 step and from 2.19 to 1.80 at othello-base 256 x 59.
 * - Backward (the default wherever it fits; `--scan-backward step` picks the other): du and dDelta
 *   (sums over n) by butterfly straight to one value a channel and step; dB and dC (sums over the
 *   channels) by butterfly within each subgroup, so workgroup memory holds one term a subgroup instead
 *   of one a channel: at N = 16, 24.1 KB of a workgroup's terms and states at 2 steps between
 *   reductions where the step kernel holds 38.9 KB at its 4, so more workgroups fit an SM. On the H200,
 *   with one butterfly a sum, it ran each N = 16 layer 10 to 15% faster than the step kernel timed alone
 *   (tools/scan-check.mjs --kernels step,subgroup --reduce 1,2,4), and inside whole othello-base 256 x 59
 *   steps (`gamba bench train --profile`) took 9.12 ms a step against 10.76; at 4 steps between
 *   reductions it had been slower (13.9 ms against 10.7). Its four sums stay in butterflies of their own
 *   (see backwardSubgroupCode).
 *   (An earlier kernel that summed a whole chunk per reduction, 3 barriers a chunk instead of 10, ran
 *   no faster: 11.2 ms a step against 10.9.)
 *
 * Needs N a power of two no larger than the subgroup, and whole subgroups in a workgroup
 * (`subgroupScanFits`); lanes are invocations lid % SG of subgroup lid / SG, as on NVIDIA and lavapipe.
 */
import { advanceState, BACKWARD_BINDINGS, BACKWARD_STEP_HEAD, backwardStagedFloats, backwardTail, CHUNK, constants, FORWARD_BINDINGS, FORWARD_HEAD } from './selective-scan-parts.js';

/** True when N states a channel and ch channels a workgroup map onto whole subgroups of `sg` lanes. */
export function subgroupScanFits(N: number, ch: number, sg: number): boolean {
  const pow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
  return pow2(N) && pow2(sg) && N <= sg && (ch * N) % sg === 0;
}

/** `v += shuffleXor(v, o)` for each offset o: a butterfly sum of one value over the lanes those offsets span. */
const butterfly = (v: string, offsets: number[]) => offsets.map((o) => `${v} += subgroupShuffleXor(${v}, ${o}u);`).join('\n        ');

/** Offsets N/2, ..., 1: the sum over a channel's N lanes. */
const overStates = (N: number) => Array.from({ length: Math.log2(N) }, (_, i) => N >> (i + 1));
/** Offsets N, 2N, ..., sg/2: the sum over the channels of one subgroup, state by state. */
const overChannels = (N: number, sg: number) => Array.from({ length: Math.log2(sg / N) }, (_, i) => N << i);

/**
 * WGSL that sums two values, `a` and `b`, over the lanes that `offsets` span (largest first) in one
 * butterfly, into `var out`: at the first offset each lane keeps one value and sends its partner the
 * other, so the lanes with that offset's bit clear go on with a's sum and the others with b's, and the
 * remaining offsets finish both at once. That is half the shuffles of two butterflies, and each lane adds
 * the same two numbers as it would in a's or b's own butterfly, so the sums keep their bits. Every lane
 * runs it (dead channels add zeros), in uniform control flow: the shuffles need the whole subgroup.
 * Null where the offsets are none (nothing to sum).
 */
function pairedButterfly(out: string, a: string, b: string, offsets: number[]): string | null {
  if (offsets.length === 0) return null;
  const [first, ...rest] = offsets;
  return [
    `let ${out}Upper = (lid & ${first}u) != 0u;`,
    `var ${out} = select(${a}, ${b}, ${out}Upper) + subgroupShuffleXor(select(${b}, ${a}, ${out}Upper), ${first}u);`,
    ...rest.map((o) => `${out} += subgroupShuffleXor(${out}, ${o}u);`),
  ].join('\n        ');
}

/** Workgroup memory (floats) of the subgroup backward kernel with `steps` between reductions. */
export const backwardSubgroupFloats = (N: number, ch: number, sg: number, steps: number) =>
  backwardStagedFloats(N, ch) + CHUNK * ch * N + steps * 2 * (ch + N * ((ch * N) / sg + 1));

/**
 * The forward kernel: y_t of two steps at a time, their terms summed over n in one paired butterfly (lane
 * n = 0 ends with step tt's sum, lane N/2 with step tt + 1's); at N = 1 each lane's terms are the sums.
 */
export const forwardSubgroupCode = (N: number, ch: number) => {
  const sums = pairedButterfly('sum', 'first', 'second', overStates(N));
  return /* wgsl */ `
enable subgroups;
${FORWARD_BINDINGS}
${constants(N, ch)}
// C_t . h_t of the chunk's steps and the workgroup's channels: (CHUNK, CH)
var<workgroup> sY: array<f32, CHUNK * CH>;
${FORWARD_HEAD}
    for (var tt = 0u; tt < count; tt += 2u) {
      let paired = tt + 1u < count;
      var first = 0.0;
      var second = 0.0;
      if (live) {
        {
          ${advanceState('tt')}
          first = bc.y * h;
        }
        if (paired) {
          ${advanceState('(tt + 1u)')}
          second = bc.y * h;
        }
      }
      ${sums ?? ''}
      if (n == 0u) { sY[tt * CH + c0] = ${sums ? 'sum' : 'first'}; }
      if (paired && n == ${sums ? N / 2 : 0}u) { sY[(tt + 1u) * CH + c0] = ${sums ? 'sum' : 'second'}; }
    }
    workgroupBarrier();
    if (params.writeY != 0u) {
      for (var o = lid; o < count * CH; o += WG) {
        let ek = wid.x * CH + o % CH;
        if (ek < E) { y[(rowBase + o / CH) * E + ek] = sY[o] + d[ek] * sIn[o].x; }
      }
    }
  }
}`;
};

/**
 * The backward kernel: du and dDelta summed over n, and dB and dC over the subgroup's channels, each in a
 * butterfly of its own, from inputs staged one array each (selective-scan-parts.ts says why). A version
 * with the forward pass's packed staging ran 1.6 to 1.7 times as long whether its sums were paired (an
 * H100, chess-base 8 x 1023: 30.3 ms a step against 19.5) or not (an H200: 33.1 against 20.0); pairing
 * with this staging has not been timed.
 */
export const backwardSubgroupCode = (N: number, ch: number, sg: number, reduce: number) => /* wgsl */ `
enable subgroups;
${BACKWARD_BINDINGS}${constants(N, ch, reduce)}
const SG = ${sg}u;
// subgroups a workgroup, and that count padded (the dB and dC terms are read along it)
const SGS = WG / SG;
const SGP = SGS + 1u;
// du and dDelta of REDUCE steps, already summed over n: (2, REDUCE, CH)
var<workgroup> sDu: array<f32, 2u * REDUCE * CH>;
// dB and dC of REDUCE steps, each subgroup's sum over its channels: (2, REDUCE, N, SGP)
var<workgroup> sBC: array<f32, 2u * REDUCE * N * SGP>;
${BACKWARD_STEP_HEAD}
        // every lane runs the shuffles, in uniform control flow (the step loop's bounds are uniform)
        ${butterfly('termDu', overStates(N))}
        ${butterfly('termDelta', overStates(N))}
        ${butterfly('termB', overChannels(N, sg))}
        ${butterfly('termC', overChannels(N, sg))}
        if (n == 0u) {
          sDu[r * CH + c0] = termDu;
          sDu[(REDUCE + r) * CH + c0] = termDelta;
        }
        if (lid % SG < N) {
          sBC[(r * N + n) * SGP + lid / SG] = termB;
          sBC[((REDUCE + r) * N + n) * SGP + lid / SG] = termC;
        }
      }
${backwardTail(
    // du (q = 0) and dDelta (q = 1), summed over n by the butterfly
    'let s = sDu[o];',
    // dB (q = 0) and dC (q = 1): this group's sums over its subgroups
    'var s = 0.0; for (var k = 0u; k < SGS; k++) { s += sBC[((q * REDUCE + r) * N + m) * SGP + k]; }')}`;
