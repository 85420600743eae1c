/**
 * The selective scan on the GPU against the cpu backend: y and every gradient (du, dDelta, dB, dC,
 * dA_log, dD), with and without the forward pass's saved chunk boundaries, and step() against the
 * full sequence. Inputs at the scales of a trained layer: delta in (0.001, 0.1) as softplus gives,
 * A_log[e, n] = log(n + 1) as mamba's init, u, B, C, D, dy uniform in [-1, 1].
 *
 * Tolerances (|gpu - cpu| <= atol + rtol |cpu|), float32 sums in another order than the cpu's:
 * - y, du: sums of N terms per (row, channel): atol 1e-6, rtol 1e-5;
 * - dDelta: the same, but its two terms cancel (decay and input paths): atol 1e-5, rtol 1e-4;
 * - dB, dC: sums over the E channels: atol 1e-6 sqrt(E), rtol 1e-5;
 * - dA_log, dD: sums over all batch * length rows: atol 1e-6 sqrt(M), rtol 1e-5.
 * On lavapipe the worst case uses about a sixth of each bound; a 0.1% error in dA_log fails it.
 * The chunk is 16 steps: lengths 15, 16, 17 straddle it, 59 and 300 take several chunks. Which
 * kernels run depends on the adapter's subgroups (selective-scan-subgroup.ts): on lavapipe (8 lanes)
 * N = 1, 2, 4 and 8 take the subgroup kernels and N = 3 and 16 the workgroup-memory ones; a test below says
 * which ran, so a change of adapter cannot leave one path untested unnoticed, and another runs both
 * backward kernels at one N.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, SelectiveScanInputs, Tensor } from '../../../src/backend/backend.js';
import { Rng } from '../../../src/util/rng.js';
import { mostScanStates, selectiveScanBackward, type ScanBackwardOverride } from '../../../src/backend/webgpu/kernels/selective-scan.js';
import { configFromPreset } from '../../../src/model/config.js';
import { checkBatchFits } from '../../../src/model/memory.js';
import { formatBytes } from '../../../src/util/output.js';
import type { WebGpuBackend as GpuBackend } from '../../../src/backend/webgpu/webgpu-backend.js';
import { timeParallelBytes, timeParallelFits } from '../../../src/backend/webgpu/kernels/selective-scan-time-parallel.js';
import { cpu, gpu, noGpuReason, randomArray, toleranceRatio } from './gpu-fixture.js';

interface ScanCase {
  batch: number;
  length: number;
  E: number;
  N: number;
}

function scanData(rng: Rng, { batch, length, E, N }: ScanCase) {
  const M = batch * length;
  const delta = new Float32Array(M * E);
  for (let i = 0; i < delta.length; i++) delta[i] = 0.001 + 0.099 * rng.nextFloat();
  const aLog = new Float32Array(E * N);
  for (let i = 0; i < aLog.length; i++) aLog[i] = Math.log((i % N) + 1);
  return {
    u: randomArray(rng, M * E), delta, aLog, b: randomArray(rng, M * N), c: randomArray(rng, M * N), d: randomArray(rng, E), dy: randomArray(rng, M * E),
  };
}

type ScanData = ReturnType<typeof scanData>;

function upload(be: Backend, data: ScanData, { batch, length, E, N }: ScanCase): SelectiveScanInputs {
  const M = batch * length;
  return {
    u: be.upload(data.u, [M, E]), delta: be.upload(data.delta, [M, E]), aLog: be.upload(data.aLog, [E, N]),
    b: be.upload(data.b, [M, N]), c: be.upload(data.c, [M, N]), d: be.upload(data.d, [E]), batch, length,
  };
}

/** y, du, dDelta, dB, dC, dALog, dD. */
async function forwardBackward(be: Backend, data: ScanData, shape: ScanCase, keepSaved: boolean): Promise<Float32Array[]> {
  const inputs = upload(be, data, shape);
  const { y, saved } = be.selectiveScanForward(inputs, keepSaved);
  // dALog and dD start as garbage: the backward pass must overwrite them.
  const dALog = be.upload(new Float32Array(shape.E * shape.N).fill(9), [shape.E, shape.N]);
  const dD = be.upload(new Float32Array(shape.E).fill(9), [shape.E]);
  const g = be.selectiveScanBackward(inputs, keepSaved ? saved : null, be.upload(data.dy, [shape.batch * shape.length, shape.E]), dALog, dD);
  return Promise.all([y, g.du, g.dDelta, g.dB, g.dC, dALog, dD].map((t) => be.download(t)));
}

const NAMES = ['y', 'du', 'dDelta', 'dB', 'dC', 'dALog', 'dD'];

/** The tolerances of y and every gradient (the header says why), in NAMES order. */
function tolerances({ batch, length, E }: ScanCase): { atol: number[]; rtol: number[] } {
  const M = batch * length;
  return {
    atol: [1e-6, 1e-6, 1e-5, 1e-6 * Math.sqrt(E), 1e-6 * Math.sqrt(E), 1e-6 * Math.sqrt(M), 1e-6 * Math.sqrt(M)],
    rtol: [1e-5, 1e-5, 1e-4, 1e-5, 1e-5, 1e-5, 1e-5],
  };
}

/**
 * The backward kernel an override picks: `run` gives du, dDelta, dB, dC, dALog, dD (from the forward
 * pass's saved states, run once when first needed); `refuses` expects the override refused before
 * anything runs, forward pass included.
 */
function backwardRunner(be: GpuBackend, data: ScanData, shape: ScanCase) {
  const inputs = upload(be, data, shape);
  const dy = be.upload(data.dy, [shape.batch * shape.length, shape.E]);
  let saved: Tensor | null | undefined;
  const run = async (override: ScanBackwardOverride, keepSaved = true): Promise<Float32Array[]> => {
    if (saved === undefined) saved = be.selectiveScanForward(inputs, true).saved;
    // dALog and dD start as garbage: the backward pass must overwrite them.
    const dALog = be.upload(new Float32Array(shape.E * shape.N).fill(9), [shape.E, shape.N]);
    const dD = be.upload(new Float32Array(shape.E).fill(9), [shape.E]);
    const g = selectiveScanBackward(be.rt, inputs as never, (keepSaved ? saved : null) as never, dy as never, dALog as never, dD as never, override);
    return Promise.all([g.du, g.dDelta, g.dB, g.dC, dALog, dD].map((t) => be.download(t)));
  };
  const refuses = (override: ScanBackwardOverride) =>
    expect(() => selectiveScanBackward(be.rt, inputs as never, null, dy as never, be.zeros([shape.E, shape.N]) as never, be.zeros([shape.E]) as never, override));
  return { run, refuses };
}

/** Every gradient of `got` (du .. dD) within tolerance of the cpu's `want` (y .. dD). */
function expectGradients(got: Float32Array[], want: Float32Array[], shape: ScanCase, what: string): void {
  const { atol, rtol } = tolerances(shape);
  NAMES.slice(1).forEach((name, i) => expect(toleranceRatio(got[i], want[i + 1], atol[i + 1], rtol[i + 1]), `${name} ${what}`).toBeLessThanOrEqual(1));
}

describe.skipIf(!gpu)(`webgpu selective scan${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  const be = gpu!;

  const cases: ScanCase[] = [
    { batch: 1, length: 1, E: 5, N: 16 },
    { batch: 2, length: 15, E: 37, N: 16 },
    { batch: 2, length: 16, E: 37, N: 16 },
    { batch: 3, length: 17, E: 20, N: 16 },
    { batch: 3, length: 59, E: 40, N: 16 },
    { batch: 1, length: 300, E: 24, N: 16 },
    // N = 3: 16 channels of 3 states per workgroup, the last workgroup partly empty
    { batch: 2, length: 33, E: 90, N: 3 },
    // N = 4 and 8 fit lavapipe's subgroups of 8 (N = 16 does not): the subgroup forward kernel, with
    // two channels a subgroup and one, and a last workgroup partly empty
    { batch: 2, length: 37, E: 45, N: 4 },
    { batch: 3, length: 59, E: 40, N: 8 },
    { batch: 1, length: 300, E: 24, N: 8 },
    // N = 1 and 2 on the subgroup kernels: the edges of the paired butterflies (at N = 1 no sum over
    // the states, at N = 2 one round; dB and dC over 8 and 4 channels a subgroup), and odd lengths
    // leave each chunk's last forward step without a partner
    { batch: 2, length: 33, E: 19, N: 1 },
    { batch: 2, length: 17, E: 21, N: 2 },
  ];

  for (const shape of cases) {
    const { batch, length, E, N } = shape;
    it(`y and every gradient match the cpu backend, saved or recomputed (batch ${batch}, length ${length}, E ${E}, N ${N})`, async () => {
      const data = scanData(new Rng(batch * 100000 + length * 100 + E + N), shape);
      const want = await forwardBackward(cpu, data, shape, true);
      const withSaved = await forwardBackward(be, data, shape, true);
      const recomputed = await forwardBackward(be, data, shape, false);
      const { atol, rtol } = tolerances(shape);
      NAMES.forEach((name, i) => {
        expect(toleranceRatio(withSaved[i], want[i], atol[i], rtol[i]), name).toBeLessThanOrEqual(1);
        // The recomputed boundaries come from the same kernel: the same bits.
        expect(recomputed[i], `${name} with saved = null`).toEqual(withSaved[i]);
      });
    });
  }

  it('the cases above ran the workgroup-memory kernels, and the subgroup forward and backward ones where the adapter has subgroups of 8 to 64 lanes', () => {
    const keys = be.rt.pipelineKeys();
    const family = (prefix: string) => keys.some((k) => k.startsWith(prefix));
    expect(family('scanForward:') && family('scanBackward:')).toBe(true);
    const sg = be.rt.gpu.subgroupSize;
    const subgroups = sg !== null && sg >= 8 && sg <= 64;
    expect(family('scanForwardSubgroup:'), `subgroup size ${sg}`).toBe(subgroups);
    // N = 4 and 8 fill whole subgroups of 8 to 64 lanes at their 16 channels a workgroup: the default backward kernel there
    expect(family('scanBackwardSubgroup:4:') && family('scanBackwardSubgroup:8:'), `subgroup size ${sg}`).toBe(subgroups);
  });

  const subgroupCases: ScanCase[] = [
    { batch: 3, length: 59, E: 40, N: 4 },
    { batch: 2, length: 17, E: 37, N: 8 },
    { batch: 1, length: 300, E: 24, N: 8 },
  ];
  for (const shape of subgroupCases) {
    const { batch, length, E, N } = shape;
    const fits = (be.rt.gpu.subgroupSize ?? 0) >= N;
    it.skipIf(!fits)(`the subgroup backward kernel matches the cpu backend, saved or recomputed (batch ${batch}, length ${length}, E ${E}, N ${N})`, async () => {
      const data = scanData(new Rng(batch * 3571 + length * 17 + E + N), shape);
      const want = await forwardBackward(cpu, data, shape, true);
      const { run } = backwardRunner(be, data, shape);
      expectGradients(await run({ kernel: 'subgroup' }), want, shape, 'saved');
      expectGradients(await run({ kernel: 'subgroup' }, false), want, shape, 'recomputed');
      expectGradients(await run({ kernel: 'step' }), want, shape, 'with the step kernel forced');
    });
  }

  it.skipIf(!be.rt.gpu.subgroupSize)('the subgroup backward kernel gives the same bits at any steps between reductions and run after run, and refuses an N that does not fit the subgroups', async () => {
    const sg = be.rt.gpu.subgroupSize!;
    // two channels a subgroup, so the dB and dC butterflies run a round over the channels
    const shape = { batch: 3, length: 59, E: 40, N: sg / 2 };
    const { run } = backwardRunner(be, scanData(new Rng(14), shape), shape);
    const first = await run({ kernel: 'subgroup' });
    expect(be.rt.pipelineKeys().some((k) => k.startsWith(`scanBackwardSubgroup:${sg / 2}:`))).toBe(true);
    const again = await run({ kernel: 'subgroup' });
    const one = await run({ kernel: 'subgroup', reduce: 1 });
    NAMES.slice(1).forEach((name, i) => {
      expect(again[i], `${name} run again`).toEqual(first[i]);
      expect(one[i], `${name} at one step between reductions`).toEqual(first[i]);
    });
    const wide = { batch: 1, length: 20, E: 8, N: 2 * sg };
    const { refuses } = backwardRunner(be, scanData(new Rng(15), wide), wide);
    refuses({ kernel: 'subgroup' }).toThrow(`selective scan: the subgroup backward kernel needs d_state a power of two up to the subgroup size whose ${Math.min(16, 256 / (2 * sg))} channels a workgroup fill whole subgroups (d_state ${2 * sg}; this device's subgroups: ${sg})`);
  });

  it('gives the same bits with one step between the backward pass\'s reductions as with the most that fit (the sums do not depend on it)', async () => {
    const shape = { batch: 3, length: 59, E: 40, N: 16 };
    const { run, refuses } = backwardRunner(be, scanData(new Rng(11), shape), shape);
    const most = await run({});
    const one = await run({ reduce: 1 });
    NAMES.slice(1).forEach((name, i) => expect(one[i], name).toEqual(most[i]));
    refuses({ reduce: 3 }).toThrow(/selective scan: reduce 3 is not a power of two up to \d+/);
  });

  it('matches the cpu backend with fewer channels per workgroup, and refuses a count that is not a power of two up to the default', async () => {
    const shape = { batch: 3, length: 59, E: 40, N: 16 };
    const data = scanData(new Rng(12), shape);
    const want = await forwardBackward(cpu, data, shape, true);
    const { run, refuses } = backwardRunner(be, data, shape);
    // the step kernel, forced: on 32 lanes the default at N = 16 is the subgroup kernel wherever the channels fill a subgroup
    for (const channels of [1, 4, 8]) expectGradients(await run({ kernel: 'step', channels }), want, shape, `at ${channels} channels`);
    for (const channels of [1, 4, 8]) expect(be.rt.pipelineKeys().some((k) => new RegExp(`^scanBackward:16:\\d+:${channels}$`).test(k)), `${channels} channels`).toBe(true);
    for (const channels of [3, 32]) refuses({ channels }).toThrow(`selective scan: ${channels} channels per workgroup is not a power of two up to 16`);
  });

  const timeParallel = timeParallelFits(be.rt.gpu.subgroupSize);
  const timeCases: ScanCase[] = [
    { batch: 1, length: 1, E: 5, N: 16 },
    { batch: 2, length: 17, E: 37, N: 16 },
    { batch: 3, length: 59, E: 40, N: 16 },
    { batch: 2, length: 64, E: 9, N: 4 },
    { batch: 2, length: 65, E: 33, N: 3 },
    { batch: 1, length: 300, E: 24, N: 8 },
    // chunks of 32 and 16 steps: more states leave less workgroup memory for steps
    { batch: 2, length: 50, E: 12, N: 32 },
    { batch: 1, length: 40, E: 10, N: 64 },
  ];
  for (const shape of timeCases) {
    const { batch, length, E, N } = shape;
    it.skipIf(!timeParallel)(`the time-parallel backward kernel matches the cpu backend at 1, 2 and 4 passes, saved or recomputed (batch ${batch}, length ${length}, E ${E}, N ${N})`, async () => {
      const data = scanData(new Rng(batch * 7919 + length * 31 + E + N), shape);
      const want = await forwardBackward(cpu, data, shape, true);
      const { run } = backwardRunner(be, data, shape);
      const limit = be.rt.device.limits.maxComputeWorkgroupStorageSize;
      for (const [passes, keepSaved] of [[1, true], [2, true], [4, false]] as const) {
        if (timeParallelBytes(N, passes) > limit) continue;
        expectGradients(await run({ kernel: 'time-parallel', passes }, keepSaved), want, shape, `at ${passes} passes${keepSaved ? '' : ', recomputed'}`);
      }
    });
  }

  it.skipIf(!timeParallel)('the time-parallel kernel gives the same bits run after run, and refuses a pass count other than 1, 2 or 4 and a state size whose chunk does not fit the workgroup memory', async () => {
    const shape = { batch: 2, length: 70, E: 20, N: 16 };
    const { run, refuses } = backwardRunner(be, scanData(new Rng(5), shape), shape);
    const first = await run({ kernel: 'time-parallel' });
    const second = await run({ kernel: 'time-parallel' });
    NAMES.slice(1).forEach((name, i) => expect(second[i], name).toEqual(first[i]));
    refuses({ kernel: 'time-parallel', passes: 3 }).toThrow('selective scan: 3 passes is not 1, 2 or 4');
    // 128 states need 44,576 bytes of workgroup memory at one pass (chunks of 16 steps): more than lavapipe's 32 KB (the H200's 48 KB hold it)
    const wide = { batch: 1, length: 20, E: 8, N: 128 };
    const limit = be.rt.device.limits.maxComputeWorkgroupStorageSize;
    const bytes = timeParallelBytes(128, 1);
    if (limit < bytes) {
      // (the forward kernel itself does not fit 128 states in 32 KB: refused before it would run)
      const { refuses: refusesWide } = backwardRunner(be, scanData(new Rng(6), wide), wide);
      refusesWide({ kernel: 'time-parallel', passes: 1 }).toThrow(`selective scan: the time-parallel kernel at 128 states and 1 passes needs ${bytes} bytes of workgroup memory, more than this device's ${limit}`);
      refusesWide({ kernel: 'time-parallel' }).toThrow(`selective scan: the time-parallel kernel at 128 states and 1 passes needs ${bytes} bytes`);
    }
  });

  it('runs the most states a channel its workgroup memory holds, and refuses a d_state beyond them in one line before anything runs', async () => {
    const limit = be.rt.device.limits.maxComputeWorkgroupStorageSize;
    const most = mostScanStates(limit);
    expect(most).toBeGreaterThanOrEqual(64);
    const shape = { batch: 1, length: 20, E: 6, N: most };
    const data = scanData(new Rng(13), shape);
    const want = await forwardBackward(cpu, data, shape, true);
    const got = await forwardBackward(be, data, shape, true);
    const { atol, rtol } = tolerances(shape);
    NAMES.forEach((name, i) => expect(toleranceRatio(got[i], want[i], atol[i], rtol[i]), `${name} at ${most} states`).toBeLessThanOrEqual(1));
    const config = configFromPreset('tiny', 61, 59, { d_state: most + 1 });
    expect(() => checkBatchFits(be, config, 2, 59, '--batch 2'))
      .toThrow(`d_state ${most + 1}: more than the ${most} states the webgpu selective scan holds in the device's ${formatBytes(limit)} of workgroup memory (the cpu backend has no such limit)`);
  });

  it('gives the same bits run after run (no atomics, fixed-order sums)', async () => {
    for (const N of [16, 8]) {
      const shape = { batch: 2, length: 40, E: 50, N };
      const data = scanData(new Rng(5), shape);
      const first = await forwardBackward(be, data, shape, true);
      const second = await forwardBackward(be, data, shape, true);
      NAMES.forEach((name, i) => expect(second[i], `${name}, N ${N}`).toEqual(first[i]));
    }
  });

  it('step() token by token equals the full-sequence y, and its state is the scan state', async () => {
    const shape = { batch: 3, length: 19, E: 21, N: 16 };
    const { batch, length, E, N } = shape;
    const data = scanData(new Rng(11), shape);
    const full = await be.download(be.selectiveScanForward(upload(be, data, shape), false).y);
    const aLog = be.upload(data.aLog, [E, N]), d = be.upload(data.d, [E]);
    const h = be.zeros([batch, E, N]);
    const rowsAt = (x: Float32Array, t: number, width: number) => {
      const out = new Float32Array(batch * width);
      for (let b = 0; b < batch; b++) out.set(x.subarray((b * length + t) * width, (b * length + t + 1) * width), b * width);
      return out;
    };
    for (let t = 0; t < length; t++) {
      const y = be.selectiveScanStep(h, be.upload(rowsAt(data.u, t, E), [batch, E]), be.upload(rowsAt(data.delta, t, E), [batch, E]), aLog,
        be.upload(rowsAt(data.b, t, N), [batch, N]), be.upload(rowsAt(data.c, t, N), [batch, N]), d);
      expect(toleranceRatio(await be.download(y), rowsAt(full, t, E), 1e-5, 1e-4), `t = ${t}`).toBeLessThanOrEqual(1);
    }
    // The cpu step from the same inputs ends in the same state.
    const hCpu = cpu.zeros([batch, E, N]);
    for (let t = 0; t < length; t++) {
      cpu.selectiveScanStep(hCpu, cpu.upload(rowsAt(data.u, t, E), [batch, E]), cpu.upload(rowsAt(data.delta, t, E), [batch, E]), cpu.upload(data.aLog, [E, N]),
        cpu.upload(rowsAt(data.b, t, N), [batch, N]), cpu.upload(rowsAt(data.c, t, N), [batch, N]), cpu.upload(data.d, [E]));
    }
    expect(toleranceRatio(await be.download(h), await cpu.download(hCpu), 1e-5, 1e-4)).toBeLessThanOrEqual(1);
  });
});
