/**
 * The shipped Mamba-against-transformer runs (models/othello-mamba-vs-gpt): both comparison pages are
 * what `gamba compare` writes now from the shipped runs, and every figure of the README's two tables is
 * the files' own (compare.json for probes and legal rates, metrics.jsonl for the validation loss).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport, ComparedModel } from '../../probes/compare.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const DIR = 'models/othello-mamba-vs-gpt';
const RUNS = ['mamba-9m', 'gpt-11m'];
const SNAPSHOTS: Record<string, number[]> = { 'mamba-9m': [500, 1000, 2000], 'gpt-11m': [500, 1000, 1500, 2000] };
const snapshotDir = (run: string, step: number) => join(DIR, 'runs', run, 'snapshots', `step-${String(step).padStart(7, '0')}`, 'probe-mine-theirs');
const PAGES = [
  { compare: 'compare', reports: RUNS.map((r) => join(DIR, 'runs', r, 'probe-mine-theirs')), names: RUNS },
  {
    compare: 'curve',
    reports: RUNS.flatMap((r) => SNAPSHOTS[r].map((s) => snapshotDir(r, s))),
    names: RUNS.flatMap((r) => SNAPSHOTS[r].map((s) => `${r}-${s}`)),
  },
];
const root = mkdtempSync(join(tmpdir(), 'gamba-mamba-vs-gpt-'));
beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const readCompare = (dir: string): CompareReport => JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as CompareReport;
const pct = (v: number) => (100 * v).toFixed(2);
const cellBoard = (a: { cellAcc: number; boardAcc: number }) => `${pct(a.cellAcc)} / ${pct(a.boardAcc)}`;

/** The README table row that starts with `first`, cell by cell. */
function readmeRow(first: string): string[] {
  const line = readFileSync(join(DIR, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith(`| ${first} `));
  expect(line, `a README row for ${first}`).toBeDefined();
  return line!.split('|').slice(1, -1).map((cell) => cell.trim());
}

function bestLayer(m: ComparedModel, source: 'residual' | 'state') {
  const b = m.best.find((x) => x.source === source);
  return b && { b, control: m.layers.find((l) => l.source === source && l.layer === b.layer)!.control };
}

describe('the shipped Mamba against transformer runs', () => {
  it.each(PAGES)('$compare is what gamba compare draws from the shipped runs', ({ compare, reports, names }) => {
    const out = join(root, compare);
    const run = gamba('compare', ...reports, '--name', ...names, '--out', out);
    expect(run.status, run.stderr).toBe(0);
    const fresh = readCompare(out);
    expect({ ...fresh, createdAt: null }).toEqual({ ...readCompare(join(DIR, compare)), createdAt: null });
    expect(readFileSync(join(out, 'compare.html'), 'utf8')).toBe(readFileSync(join(DIR, compare, 'compare.html'), 'utf8'));
  });

  it('the README gives the final models figures, at equal tokens', () => {
    const models = readCompare(join(DIR, 'compare')).models;
    expect(models.map((m) => m.training!.tokens)).toEqual([30_208_000, 30_208_000]);
    for (const m of models) {
      const metrics = readFileSync(join(DIR, 'runs', m.name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { valLoss?: number });
      const residual = bestLayer(m, 'residual')!;
      const state = bestLayer(m, 'state');
      expect(readmeRow(m.name)).toEqual([
        m.name, metrics.filter((r) => r.valLoss !== undefined).at(-1)!.valLoss!.toFixed(4), `${pct(m.legalTop1!)}%`,
        `${residual.b.layer}: ${cellBoard(residual.b)}`, cellBoard(residual.control!), pct(residual.b.late!.cellAcc),
        state ? `${state.b.layer}: ${cellBoard(state.b)}` : '-', state ? cellBoard(state.control!) : '-',
      ]);
    }
  });

  it('the README learning curve is the snapshots figures', () => {
    const models = readCompare(join(DIR, 'curve')).models;
    for (const step of [500, 1000, 1500, 2000]) {
      const cells = RUNS.map((r) => {
        const m = models.find((x) => x.name === `${r}-${step}`);
        if (!m) return '-';
        expect(m.training!.steps).toBe(step);
        const b = bestLayer(m, 'residual')!.b;
        return `${pct(m.legalTop1!)} / ${cellBoard(b)}`;
      });
      expect(readmeRow(String(step)).slice(1)).toEqual(cells);
    }
  });
});
