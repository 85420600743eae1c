/**
 * The selective scan's forward kernel with its sum over n (y_t = C_t . h_t) done by subgroup shuffles
 * instead of workgroup memory (the layout, the chunks and the saved boundary states are
 * selective-scan.ts's; this file only holds the WGSL). A channel's N states are N neighbouring lanes of
 * one subgroup, so the sum is an xor butterfly over those lanes, with no barrier, where the
 * workgroup-memory kernel writes N terms a step and has a thread add them after a barrier; it needs
 * no (CHUNK, CH, N + 1) array of terms either. Sums run in a fixed order (both lanes of a butterfly
 * pair add the same two numbers), so the bits are the same run after run; they differ from the cpu's
 * order by rounding only. On the H200 this forward pass takes 2.1 ms where the workgroup-memory one
 * took 2.9 (othello-base, 8 layers, 256 x 59).
 *
 * The backward pass stays on workgroup memory: a backward kernel built the same way (butterflies for
 * du and dDelta, and for dB and dC over each subgroup's channels, 3 barriers a chunk instead of 10)
 * ran no faster on the H200 (11.2 ms against 10.9 at othello-base, 93.0 against 93.4 at chess-base 32
 * x 1023): the backward pass is not bound by its barriers (tools/scan-check.mjs --reduce measures
 * whether its workgroup memory, which limits the workgroups an SM holds, is what binds it).
 *
 * Needs N a power of two no larger than the subgroup, and whole subgroups in a workgroup
 * (`subgroupScanFits`); lanes are invocations lid % SG of subgroup lid / SG, as on NVIDIA and lavapipe.
 */
import { constants, FORWARD_BINDINGS, FORWARD_STEP_HEAD } from './selective-scan-parts.js';

/** True when N states a channel and ch channels a workgroup map onto whole subgroups of `sg` lanes. */
export function subgroupScanFits(N: number, ch: number, sg: number): boolean {
  const pow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
  return pow2(N) && pow2(sg) && N <= sg && (ch * N) % sg === 0;
}

/** `v += shuffleXor(v, o)` for each offset o: a butterfly sum over the lanes those offsets span. */
const butterfly = (v: string, offsets: number[]) => offsets.map((o) => `${v} += subgroupShuffleXor(${v}, ${o}u);`).join('\n        ');

/** Offsets N/2, ..., 1: the sum over a channel's N lanes. */
const overStates = (N: number) => Array.from({ length: Math.log2(N) }, (_, i) => N >> (i + 1));

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
