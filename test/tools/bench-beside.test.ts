/**
 * tools/bench-beside.mjs on the cpu backend: it builds a commit beside this checkout (a git worktree
 * sharing node_modules), times `gamba bench train` (or `bench step`) of that build and of this one
 * round by round, and reports each run's tokens/s and its best against the first run's; a build
 * directory without a build, or a run that gamba refuses, stops it with one line naming the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'gamba-beside-'));
const built = join(root, 'HEAD');
afterAll(() => {
  spawnSync('git', ['worktree', 'remove', '--force', built], { encoding: 'utf8' });
  rmSync(root, { recursive: true, force: true });
});

function tool(...args: string[]) {
  const run = spawnSync(process.execPath, ['tools/bench-beside.mjs', ...args], { encoding: 'utf8', timeout: 240_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const BENCH = '--preset tiny --backend cpu --batch 2 --steps 1';

describe('bench-beside', () => {
  it('builds HEAD beside this checkout and times both builds, round by round, against the first', () => {
    const build = tool('--build', 'HEAD', '--into', root);
    expect(build.status, build.stderr).toBe(0);
    expect(build.stdout.trim()).toBe(built);
    expect(existsSync(join(built, 'dist/src/cli.js'))).toBe(true);

    const run = tool('--rounds', '2', '--json', '--run', `before ${built} ${BENCH}`, '--run', `now . ${BENCH} --seq 8`);
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.map((s: { label: string; args: string }) => `${s.label}: ${s.args}`)).toEqual([`before: ${BENCH}`, `now: ${BENCH} --seq 8`]);
    for (const s of summary) {
      expect(s.tokensPerSec).toHaveLength(2);
      for (const t of s.tokensPerSec) expect(t).toBeGreaterThan(0);
      expect(s.adapter).toBe('cpu');
      expect(s.profile).toBeNull();
    }
    expect(summary[0].bestOverFirst).toBe(1);
    const ratio = Math.max(...summary[1].tokensPerSec) / Math.max(...summary[0].tokensPerSec);
    expect(summary[1].bestOverFirst).toBeCloseTo(ratio, 3);
    // the rounds alternate: each run's progress line, round by round
    expect(run.stderr.match(/^round \d \w+/gm)).toEqual(['round 1 before', 'round 1 now', 'round 2 before', 'round 2 now']);
  });

  it('times bench step as it times bench train', () => {
    const run = tool('--bench', 'step', '--json', '--run', 'now . --preset tiny --backend cpu --batch 2 --tokens 3');
    expect(run.status, run.stderr).toBe(0);
    const [now] = JSON.parse(run.stdout);
    expect(now).toMatchObject({ label: 'now', bestOverFirst: 1, adapter: 'cpu' });
    expect(now.tokensPerSec[0]).toBeGreaterThan(0);
  });

  it('refuses a build directory without a build, and a run that gamba refuses, naming the run', () => {
    const missing = tool('--run', `old ${root}/nowhere ${BENCH}`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`bench-beside: run old: ${root}/nowhere has no bin/gamba.js and dist/ (build it first: --build REV, or npm run build)\n`);
    const refused = tool('--run', 'now . --preset tiny --backend cpu --batch 0 --steps 1');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^bench-beside: run now, round 1: exit 2: gamba: --batch: expected an integer from 1/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(tool('--rounds', 'two', '--run', `now . ${BENCH}`).stderr).toBe('bench-beside: --rounds must be a whole number from 1, not two\n');
    expect(tool('--bench', 'walk', '--run', `now . ${BENCH}`).stderr).toBe('bench-beside: --bench is train or step, not walk\n');
  });
});
