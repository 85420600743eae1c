/**
 * The shipped othello-base experiments (models/othello-base-experiments): each comparison is what
 * `gamba compare` writes now from the shipped runs, and every figure in the README's tables is the
 * files' own (compare.json for the probes, legal rate and minutes; metrics.jsonl for the loss); the
 * learning-rate sweep's table is its runs' own, and each size's study run used the sweep's winner.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparedModel } from '../../probes/compare.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { bestLayer, cellBoard, pct, readCompare, readJson, readJsonl, readmeRow as readmeRowOf } from './shipped-tables.js';

const DIR = 'models/othello-base-experiments';
const SIZES = [4, 8, 16, 32, 64];
const SWEEP_RATES = ['3e-4', '1e-3', '3e-3'];
/** Run after the study, one step past the grid's top; the README's last column. */
const PAST_GRID = '6e-3';
const STUDIES = [
  { compare: 'compare-d-state', runs: SIZES.map((n) => `n${n}-3e-3`), names: SIZES.map((n) => `d_state-${n}`) },
  { compare: 'compare-d-state-1e-3', runs: SIZES.map((n) => `n${n}`), names: SIZES.map((n) => `d_state-${n} at 1e-3`) },
  { compare: 'compare-aux-board-loss', runs: ['n16', 'aux'], names: ['without-aux', 'with-aux'] },
];
const root = mkdtempSync(join(tmpdir(), 'gamba-experiments-'));
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const readmeRow = (name: string) => readmeRowOf(DIR, name);

/** The validation loss a run last recorded. */
function lastValLoss(runDir: string): number {
  const metrics = readJsonl(runDir, 'metrics.jsonl') as { valLoss?: number }[];
  return metrics.filter((r) => r.valLoss !== undefined).at(-1)!.valLoss!;
}

/** What a run's trainer state says it trained with and how far. */
function trainedWith(runDir: string): { lr: number; dState: number; step: number } {
  const state = readJson(runDir, 'trainer-state.json') as { step: number; run: { lr: number } };
  const config = readJson(runDir, 'config.json') as { d_state: number };
  return { lr: state.run.lr, dState: config.d_state, step: state.step };
}

/** The row a model's files give, in the README's columns. */
function expectedRow(m: ComparedModel, run: string): string[] {
  const valLoss = lastValLoss(join(DIR, 'runs', run));
  const residual = bestLayer(m, 'residual')!;
  const state = bestLayer(m, 'state')!;
  return [
    m.name, `${(m.parameters / 1e6).toFixed(2)}M`, valLoss.toFixed(4), `${pct(m.legalTop1!)}%`,
    `${residual.b.layer}: ${cellBoard(residual.b)}`, cellBoard(residual.control!), cellBoard(residual.b.late!),
    `${state.b.layer}: ${cellBoard(state.b)}`, cellBoard(state.control!),
    m.training!.minutes.toFixed(2),
  ];
}

describe('the shipped othello-base experiments', () => {
  it.each(STUDIES)('$compare is what gamba compare draws from the shipped runs, and the README gives its figures', ({ compare, runs, names }) => {
    const out = join(root, compare);
    const run = gamba('compare', ...runs.map((r) => join(DIR, 'runs', r, 'probe-mine-theirs')), '--name', ...names, '--out', out);
    expect(run.status, run.stderr).toBe(0);
    const fresh = readCompare(out);
    const shipped = readCompare(join(DIR, compare));
    expect({ ...fresh, createdAt: null }).toEqual({ ...shipped, createdAt: null });
    expect(readFileSync(join(out, 'compare.html'), 'utf8')).toBe(readFileSync(join(DIR, compare, 'compare.html'), 'utf8'));
    shipped.models.forEach((m, i) => {
      expect(m.training!.steps).toBe(2000);
      expect(readmeRow(m.name)).toEqual(expectedRow(m, runs[i]));
    });
  });

  it.each(SIZES)('the sweep of d_state %i: every rate ran 300 steps, the README gives its validation losses, and the study run used the winner', (n) => {
    const losses = [...SWEEP_RATES, PAST_GRID].map((rate) => {
      const dir = join(DIR, 'sweep', `n${n}-${rate}`);
      expect(trainedWith(dir)).toEqual({ lr: Number(rate), dState: n, step: 300 });
      return lastValLoss(dir);
    });
    expect(readmeRow(String(n)).slice(1)).toEqual(losses.map((l) => l.toFixed(4)));
    losses.pop();
    const winner = Number(SWEEP_RATES[losses.indexOf(Math.min(...losses))]);
    expect(trainedWith(join(DIR, 'runs', `n${n}-3e-3`))).toEqual({ lr: winner, dState: n, step: 2000 });
  });
});
