/**
 * tools/subgroup-matrix-repro.mjs on this machine's adapter: its f32 control kernel survives its runs
 * with numbers that match the float64 reference (split over K and over dispatches too), one JSON line
 * per child lands in --out, and on an adapter without subgroup matrices (lavapipe) the subgroup-matrix
 * configurations are reported unsupported, with the reason, instead of failing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpu, noGpuReason } from '../backend/webgpu/gpu-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-smr-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function harness(...args: string[]) {
  const run = spawnSync(process.execPath, ['tools/subgroup-matrix-repro.mjs', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.skipIf(!gpu)(`subgroup-matrix repro harness${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  it('runs the f32 control kernel, whole and split over K and dispatches, to the reference numbers', () => {
    const plan = join(root, 'plan.json');
    writeFileSync(plan, JSON.stringify([
      { name: 'f32 control', kernel: 'f32', reps: 3 },
      { name: 'f32 split', kernel: 'f32', reps: 3, kSplit: 32, maxWorkgroups: 5 },
    ]));
    const out = join(root, 'results.jsonl');
    const run = harness('--plan', plan, '--shapes', '64x64x64,128x48x96', '--runs', '2', '--out', out);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/f32 control\s+2\/2 {4}x2 runs/);
    expect(run.stdout).toMatch(/f32 split\s+2\/2 {4}x2 runs/);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.config} ${l.shape} ${l.outcome} ${l.runsDone}`)).toEqual([
      'f32 control 64x64x64 ok 2', 'f32 control 128x48x96 ok 2', 'f32 split 64x64x64 ok 2', 'f32 split 128x48x96 ok 2',
    ]);
    for (const l of lines) expect(l.maxError).toBeLessThan(1e-6);
  });

  // Software adapters (lavapipe) have no subgroup matrices; a hardware one may.
  it.skipIf(!gpu?.adapterName.endsWith('[software]'))('reports the subgroup-matrix kernels unsupported on a software adapter', () => {
    const run = harness('--plan', 'screen', '--shapes', '64x64x64', '--runs', '1', '--budget', '60', '--json');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    const baseline = report.screen.find((s: { config: { name: string } }) => s.config.name === 'baseline');
    expect(baseline.results[0]).toMatchObject({ outcome: 'unsupported', detail: 'adapter lacks chromium-experimental-subgroup-matrix' });
    expect(report.screen.find((s: { config: { name: string } }) => s.config.name === 'f32 control').survived).toBe(1);
  });
});
