/**
 * The shipped Mamba-against-transformer runs (models/othello-mamba-vs-gpt): both models load from the
 * repository on the cpu backend and mostly predict legal moves in games they never saw; both comparison
 * pages are what `gamba compare` writes now from the shipped runs; and every figure of the README's two
 * tables is the files' own (compare.json for probes and legal rates, metrics.jsonl for the validation loss).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { bestLayer, cellBoard, expectFp16Weights, expectShippedModel, pct, readCompare, readJsonl, readmeRow as readmeRowOf } from './shipped-tables.js';

const DIR = 'models/othello-mamba-vs-gpt';
const RUNS = ['mamba-9m', 'gpt-11m'];
const PRESETS: Record<string, { preset: string; parameters: number }> = {
  'mamba-9m': { preset: 'othello-mamba-9m', parameters: 8_823_744 },
  'gpt-11m': { preset: 'othello-gpt-11m', parameters: 11_135_680 },
};
/** The steps each run kept a scored model at: its snapshots, and its final model scored the same way. */
const SNAPSHOTS: Record<string, number[]> = Object.fromEntries(
  RUNS.map((r) => [r, readdirSync(join(DIR, 'runs', r, 'snapshots')).map((d) => Number(d.replace('step-', ''))).sort((a, b) => a - b)]),
);
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
const readmeRow = (first: string) => readmeRowOf(DIR, first);

describe('the shipped Mamba against transformer runs', () => {
  it.each(RUNS)('%s is its preset in fp16 and predicts legal moves in unseen games on the cpu backend', (name) => {
    const dir = join(DIR, 'runs', name);
    const { preset, parameters } = PRESETS[name];
    expectShippedModel(dir, 'othello', preset, parameters);
    expectFp16Weights(dir, parameters);
    // The sample games are uniform-random ones of another seed than the training set's. Measured: 99.52%
    // (Mamba) and 97.97% (transformer) of their 5,851 positions; a random-init model reads about 17%.
    const run = gamba('eval', '--checkpoint', dir, '--data', 'datasets/samples/othello', '--games', '100', '--batch', '50', '--backend', 'cpu', '--json');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { legalTop1: number; positions: number };
    expect(report.positions).toBe(5851);
    expect(report.legalTop1).toBeGreaterThan(0.97);
  });

  it.each(PAGES)('$compare is what gamba compare draws from the shipped runs', ({ compare, reports, names }) => {
    const out = join(root, compare);
    const run = gamba('compare', ...reports, '--name', ...names, '--out', out);
    expect(run.status, run.stderr).toBe(0);
    const fresh = readCompare(out);
    expect({ ...fresh, createdAt: null }).toEqual({ ...readCompare(join(DIR, compare)), createdAt: null });
    expect(readFileSync(join(out, 'compare.html'), 'utf8')).toBe(readFileSync(join(DIR, compare, 'compare.html'), 'utf8'));
  });

  it('the README gives the final models figures', () => {
    const models = readCompare(join(DIR, 'compare')).models;
    // Equal tokens: the Mamba's 5,500 steps of its first run and 6,000 of the continuation from those
    // weights (its README says why), the transformer's 7,000 and 4,500.
    expect(models.map((m) => m.training!.steps)).toEqual([11500, 11500]);
    for (const m of models) {
      const metrics = readJsonl(join(DIR, 'runs', m.name), 'metrics.jsonl') as { valLoss?: number }[];
      const residual = bestLayer(m, 'residual')!;
      const state = bestLayer(m, 'state');
      expect(readmeRow(m.name)).toEqual([
        m.name, metrics.filter((r) => r.valLoss !== undefined).at(-1)!.valLoss!.toFixed(4), `${pct(m.legalTop1!)}%`,
        `${residual.b.layer}: ${cellBoard(residual.b)}`, cellBoard(residual.control!), pct(residual.b.late!.cellAcc),
        state ? `${state.b.layer}: ${cellBoard(state.b)}` : '-', state ? cellBoard(state.control!) : '-',
      ]);
    }
  });

  it('the README play table is the matches pooled in compare.json', () => {
    const models = readCompare(join(DIR, 'compare')).models;
    const opponents = [...new Set(models.flatMap((m) => m.matches.map((s) => s.opponent)))];
    expect(opponents).toEqual(['greedy', 'rhino level 1']);
    for (const opponent of opponents) {
      const cells = models.map((m) => {
        const s = m.matches.find((x) => x.opponent === opponent)!;
        expect(s.games).toBe(100);
        return `${s.wins} - ${s.draws} - ${s.losses}, ${s.score}`;
      });
      expect(readmeRow(opponent).slice(1)).toEqual(cells);
    }
  });

  it('the README learning curve is the snapshots figures', () => {
    const models = readCompare(join(DIR, 'curve')).models;
    const steps = [...new Set(Object.values(SNAPSHOTS).flat())].sort((a, b) => a - b);
    for (const step of steps) {
      const atStep = RUNS.map((r) => models.find((x) => x.name === `${r}-${step}`));
      const cells = atStep.map((m) => {
        if (!m) return '-';
        expect(m.training!.steps).toBe(step);
        const b = bestLayer(m, 'residual')!.b;
        return `${pct(m.legalTop1!)} / ${cellBoard(b)}`;
      });
      const tokens = atStep.find((m) => m)!.training!.tokens;
      expect(readmeRow(`${step} (${(tokens / 1e6).toFixed(1)}M)`).slice(1)).toEqual(cells);
    }
  });
});
