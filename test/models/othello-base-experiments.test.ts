/**
 * The shipped othello-base experiments (models/othello-base-experiments): each comparison is what
 * `gamba compare` writes now from the shipped runs, and every figure in the README's tables is the
 * files' own (compare.json for the probes, legal rate and minutes; metrics.jsonl for the loss).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparedModel } from '../../probes/compare.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { bestLayer, cellBoard, pct, readCompare, readmeRow as readmeRowOf } from './shipped-tables.js';

const DIR = 'models/othello-base-experiments';
const STUDIES = [
  { compare: 'compare-d-state', runs: ['n4', 'n8', 'n16', 'n32', 'n64'], names: ['d_state-4', 'd_state-8', 'd_state-16', 'd_state-32', 'd_state-64'] },
  { compare: 'compare-aux-board-loss', runs: ['n16', 'aux'], names: ['without-aux', 'with-aux'] },
];
const root = mkdtempSync(join(tmpdir(), 'gamba-experiments-'));
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const readmeRow = (name: string) => readmeRowOf(DIR, name);

/** The row a model's files give, in the README's columns. */
function expectedRow(m: ComparedModel, run: string): string[] {
  const metrics = readFileSync(join(DIR, 'runs', run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { valLoss?: number });
  const valLoss = metrics.filter((r) => r.valLoss !== undefined).at(-1)!.valLoss!;
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
});
