#!/usr/bin/env node
// Times `gamba bench train` (or `bench step`) of several builds (this one, an older commit built beside it) and argument
// sets in one go, alternating them round by round so that drift of the machine between calls falls on all
// of them alike, each run a fresh process with its own GPU device. Prints each run's tokens/s, the ratio
// of each build's best to the first's, and with --profile the largest kernels.
//
//   node tools/bench-beside.mjs --build REV [--into .bench]
//       builds commit REV beside this checkout (a git worktree at .bench/REV sharing node_modules) and
//       prints its directory
//   node tools/bench-beside.mjs [--bench train|step] [--rounds 2] [--json] --run "LABEL DIR ARGS..." --run "LABEL DIR ARGS..." ...
//       runs `node DIR/bin/gamba.js bench train ARGS --json` (or bench step) for each --run, --rounds times in turn
//
// For example, the commit before a kernel change against this one, in f32 and mixed precision:
//
//   node tools/bench-beside.mjs --build fdd1769
//   node tools/bench-beside.mjs --rounds 2 \
//     --run "before .bench/fdd1769 --preset chess-base --backend webgpu --batch 8 --steps 15 --precision mixed" \
//     --run "f32 . --preset chess-base --backend webgpu --batch 8 --steps 15 --precision f32" \
//     --run "mixed . --preset chess-base --backend webgpu --batch 8 --steps 15 --precision mixed"
//
// A build need not know every flag of this one (979d86c has no --precision): each --run gives its own.
// Exit 1, with one line naming the run, where a build is missing or a run fails.
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    build: { type: 'string' }, into: { type: 'string', default: '.bench' },
    run: { type: 'string', multiple: true, default: [] }, bench: { type: 'string', default: 'train' }, rounds: { type: 'string', default: '1' }, json: { type: 'boolean', default: false },
  },
});
const repo = resolve(new URL('..', import.meta.url).pathname);
const fail = (line) => {
  process.stderr.write(`bench-beside: ${line}\n`);
  process.exit(1);
};

/** Runs a command to completion, its output passed through to stderr (stdout is the tool's answer); fails with `what` where it exits non-zero. */
function mustRun(what, command, commandArgs, cwd) {
  const done = spawnSync(command, commandArgs, { cwd, stdio: ['ignore', 2, 2] });
  if (done.status !== 0) fail(`${what} failed (${command} ${commandArgs.join(' ')}: exit ${done.status ?? done.signal})`);
}

if (args.build !== undefined) {
  // a worktree of REV, its node_modules this checkout's, built with this checkout's TypeScript
  const dir = resolve(repo, args.into, args.build);
  if (!existsSync(dir)) mustRun(`checking out ${args.build}`, 'git', ['-C', repo, 'worktree', 'add', '--detach', dir, args.build], repo);
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  mustRun(`building ${args.build}`, process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], dir);
  process.stdout.write(`${dir}\n`);
  process.exit(0);
}

if (!['train', 'step'].includes(args.bench)) fail(`--bench is train or step, not ${args.bench}`);
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a whole number from 1, not ${args.rounds}`);
if (args.run.length === 0) fail('give at least one --run "LABEL DIR ARGS..." (or --build REV)');
const runs = args.run.map((spec) => {
  const [label, dir, ...benchArgs] = spec.trim().split(/\s+/);
  if (!dir) fail(`--run "${spec}" needs a label and a build directory`);
  const cli = resolve(dir, 'bin/gamba.js');
  if (!existsSync(cli) || !existsSync(resolve(dir, 'dist'))) fail(`run ${label}: ${resolve(dir)} has no bin/gamba.js and dist/ (build it first: --build REV, or npm run build)`);
  return { label, dir, cli, benchArgs, results: [] };
});

/** The last line of a child's output: its JSON result on stdout, its one-line refusal on stderr. */
const lastLine = (text) => text.trim().split('\n').pop() ?? '';

for (let round = 1; round <= rounds; round++) {
  for (const run of runs) {
    const done = spawnSync(process.execPath, [run.cli, 'bench', args.bench, ...run.benchArgs, '--json'], { cwd: run.dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (done.status !== 0) fail(`run ${run.label}, round ${round}: exit ${done.status ?? done.signal}: ${lastLine(done.stderr)}`);
    let result;
    try {
      result = JSON.parse(lastLine(done.stdout));
    } catch {
      fail(`run ${run.label}, round ${round}: no JSON result on stdout (${lastLine(done.stdout) || 'empty'})`);
    }
    run.results.push(result);
    process.stderr.write(`round ${round} ${run.label}: ${result.tokensPerSec} tokens/s\n`);
  }
}

const best = (run) => Math.max(...run.results.map((r) => r.tokensPerSec));
const summary = runs.map((run) => ({
  label: run.label, dir: run.dir, args: run.benchArgs.join(' '), adapter: run.results[0].adapter ?? run.results[0].backend,
  tokensPerSec: run.results.map((r) => r.tokensPerSec), gpuBytes: run.results[0].gpuBytes,
  bestOverFirst: Number((best(run) / best(runs[0])).toFixed(3)),
  // the kernels of the last round's profile, largest first, where the run asked for --profile
  profile: run.results.at(-1).profile?.slice().sort((a, b) => b.ms - a.ms).map((k) => ({ kernel: k.kernel, ms: k.ms, dispatches: k.dispatches })) ?? null,
}));
if (args.json) {
  process.stdout.write(JSON.stringify(summary) + '\n');
} else {
  const lines = [`adapter: ${summary[0].adapter}`, '| run | tokens/s, round by round | best / first run\'s best | GPU bytes |', '|---|---|---|---|'];
  for (const s of summary) lines.push(`| ${s.label} | ${s.tokensPerSec.map((t) => t.toLocaleString('en-US')).join(', ')} | ${s.bestOverFirst.toFixed(2)} | ${s.gpuBytes?.toLocaleString('en-US') ?? '-'} |`);
  for (const s of summary.filter((x) => x.profile)) {
    const total = s.profile.reduce((sum, k) => sum + k.ms, 0);
    lines.push(`${s.label}, profiled step: ${total.toFixed(2)} ms of kernels; largest: ${s.profile.slice(0, 6).map((k) => `${k.kernel} ${k.ms.toFixed(2)}`).join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
