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
 *   has a thread add them after a barrier. On the H200 this forward pass takes 2.1 ms where the
 *   workgroup-memory one took 2.9 (othello-base, 8 layers, 256 x 59).
 * - Backward (the default wherever it fits; `--scan-backward step` picks the other): du and dDelta
 *   (sums over n) by butterfly straight to one value a channel and step; dB and dC (sums over the
 *   channels) by butterfly within each subgroup, so workgroup memory holds one term a subgroup instead
 *   of one a channel: at N = 16, 24.1 KB of a workgroup's terms and states at 2 steps between
 *   reductions where the step kernel holds 38.9 KB at its 4, so more workgroups fit an SM. On the H200
 *   it ran each N = 16 layer 10 to 15% faster than the step kernel timed alone (tools/scan-check.mjs
 *   --kernels step,subgroup --reduce 1,2,4), and inside whole othello-base 256 x 59 steps
 *   (`gamba bench train --profile`) took 9.12 ms a step against 10.76; at 4 steps between reductions it
 *   had been slower (13.9 ms against 10.7).
 *   (An earlier kernel that summed a whole chunk per reduction, 3 barriers a chunk instead of 10, ran
 *   no faster: 11.2 ms a step against 10.9.)
 *
 * Needs N a power of two no larger than the subgroup, and whole subgroups in a workgroup
 * (`subgroupScanFits`); lanes are invocations lid % SG of subgroup lid / SG, as on NVIDIA and lavapipe.
 */
import { BACKWARD_BINDINGS, BACKWARD_STEP_HEAD, backwardTail, CHUNK, constants, FORWARD_BINDINGS, FORWARD_STEP_HEAD } from './selective-scan-parts.js';

/** True when N states a channel and ch channels a workgroup map onto whole subgroups of `sg` lanes. */
export function subgroupScanFits(N: number, ch: number, sg: number): boolean {
  const pow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
  return pow2(N) && pow2(sg) && N <= sg && (ch * N) % sg === 0;
}

/** `v += shuffleXor(v, o)` for each offset o: a butterfly sum over the lanes those offsets span. */
const butterfly = (v: string, offsets: number[]) => offsets.map((o) => `${v} += subgroupShuffleXor(${v}, ${o}u);`).join('\n        ');

/** Offsets N/2, ..., 1: the sum over a channel's N lanes. */
const overStates = (N: number) => Array.from({ length: Math.log2(N) }, (_, i) => N >> (i + 1));
/** Offsets N, 2N, ..., sg/2: the sum over the channels of one subgroup, state by state. */
const overChannels = (N: number, sg: number) => Array.from({ length: Math.log2(sg / N) }, (_, i) => N << i);

/** Workgroup memory (floats) of the subgroup backward kernel with `steps` between reductions. */
export const backwardSubgroupFloats = (N: number, ch: number, sg: number, steps: number) =>
  2 * CHUNK * N + 3 * CHUNK * ch + CHUNK * ch * N + steps * 2 * (ch + N * ((ch * N) / sg + 1));

export const forwardSubgroupCode = (N: number, ch: number) => /* wgsl */ `
enable subgroups;
${FORWARD_BINDINGS}
${constants(N, ch)}
// C_t . h_t of the chunk's steps and the workgroup's channels: (CHUNK, CH)
var<workgroup> sY: array<f32, CHUNK * CH>;
${FORWARD_STEP_HEAD}
      // every lane runs the shuffles (dead channels add zeros): they need the whole subgroup
      ${butterfly('term', overStates(N))}
      if (n == 0u) { sY[tt * CH + c0] = term; }
    }
    workgroupBarrier();
    if (params.writeY != 0u) {
      for (var o = lid; o < count * CH; o += WG) {
        let ek = wid.x * CH + o % CH;
        if (ek < E) { y[(rowBase + o / CH) * E + ek] = sY[o] + d[ek] * s_u[o]; }
      }
    }
  }
}`;

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
