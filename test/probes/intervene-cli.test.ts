/**
 * `gamba intervene` and `gamba probe --intervene` end to end: on a tiny checkpoint trained for two
 * steps, the numbers are reproducible with --seed, the state is edited only where its probe beats the
 * control, the report carries the section and redraws; bad flags are refused with one line. On the
 * shipped othello-base, an edit through the layer-6 probe moves the predicted moves towards the edited
 * board's legal moves, and a random edit of the same size does not.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReport } from '../../probes/report.js';
import { startTraining } from '../../src/train/trainer.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const SAMPLES = join('datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-intervene-cli-'));
const checkpoint = join(root, 'ckpt');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FLAGS = ['--data', SAMPLES, '--fit-games', '30', '--games', '12', '--epochs', '1', '--backend', 'cpu', '--batch', '8', '--json'];

beforeAll(async () => {
  requireBuiltCli();
  await startTraining({
    outDir: checkpoint, game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
    clip: 1, seed: 2, valEvery: 10, valGames: 4, saveEvery: 10, steps: 2,
  });
}, 120_000);

function intervene(...args: string[]) {
  const run = gamba('intervene', '--checkpoint', checkpoint, ...FLAGS, ...args);
  expect(run.stderr).not.toMatch(/^gamba:/m);
  expect(run.status).toBe(0);
  const result = JSON.parse(run.stdout);
  delete result.seconds;
  return result;
}

describe('gamba intervene', () => {
  it('edits one layer through its probe beside a random edit, the same numbers for the same seed', () => {
    const first = intervene('--layer', '2', '--seed', '3');
    expect(first).toMatchObject({ layer: 2, edit: 'flip', strength: 1, seed: 3, games: 12 });
    expect(first.sites).toBeGreaterThan(0);
    expect(first.sites).toBeLessThanOrEqual(12);
    // The probes of layer 2 only, each beside its random-init control.
    expect(first.probes.map((p: { source: string; layer: number }) => `${p.source} ${p.layer}`)).toEqual(['residual 2', 'state 2']);
    for (const p of first.probes) expect(p.randomInit).not.toBeNull();
    // The residual is always edited; the state only when its probe's margin over the control is above zero.
    const edited = first.layers.map((l: { source: string; layer: number }) => `${l.source} ${l.layer}`);
    expect(edited[0]).toBe('residual 2');
    for (const l of first.layers) {
      expect(l.readsEdit).toBeGreaterThanOrEqual(0);
      for (const key of ['top1LegalEdited', 'top1LegalOriginal', 'overlapEdited', 'overlapOriginal']) {
        for (const scores of [l.probe, l.random, first.unedited]) expect(scores[key]).toBeGreaterThanOrEqual(0);
      }
    }
    expect(intervene('--layer', '2', '--seed', '3')).toEqual(first);
    const other = intervene('--layer', '2', '--seed', '4', '--source', 'residual');
    expect(other.layers.map((l: { source: string }) => l.source)).toEqual(['residual']);
    expect(other.layers[0].relativeNorm).not.toBe(first.layers[0].relativeNorm);
  });

  it('refuses a layer the model lacks, layer 0, a strength of 0 and a non-Othello target, with one line each', () => {
    const cases: [string[], string][] = [
      [['--layer', '3'], 'gamba: --layer 3: the model has residual layers 0..2 (0 = the embeddings) and state layers 1..2\n'],
      [['--layer', '0'], 'gamba: --layer 0: the embeddings hold no board to edit; give a layer from 1 to n_layers\n'],
      [['--layer', '1', '--strength', '0'], 'gamba: --strength: expected a positive number, got 0\n'],
    ];
    for (const [args, message] of cases) {
      const run = gamba('intervene', '--checkpoint', checkpoint, ...FLAGS, ...args);
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(message);
    }
    const target = gamba('probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--target', 'flipped', '--intervene', '--out', join(root, 'nope'));
    expect(target.status).toBe(2);
    expect(target.stderr).toBe('gamba: --target flipped: interventions edit the board through the mine-theirs probes (leave --target out, or give mine-theirs)\n');
  });
});

describe('gamba probe --intervene', () => {
  it('adds the interventions at every layer past the embeddings to report.json, the page and the summary', () => {
    const out = join(root, 'report');
    const run = gamba('probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '30', '--eval-games', '8', '--source', 'residual', '--no-random-init',
      '--backend', 'cpu', '--batch', '8', '--intervene', '--edit', 'empty', '--out', out);
    expect(run.stderr).not.toMatch(/^gamba:/m);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/interventions \(empty one square, strength 1\) at \d+ positions of 8 held-out games/);
    const report = readReport(join(out, 'report.json'));
    expect(report.version).toBe(4);
    expect(report.interventions).toMatchObject({ edit: 'empty', games: 8 });
    expect(report.interventions!.layers.map((l) => `${l.source} ${l.layer}`)).toEqual(['residual 1', 'residual 2']);
    expect(report.timings.interventionSeconds).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Interventions: does the model play on the board the probe reads?</h2>');
    expect(html).toContain('residual layer 2: random');
  });
});

describe('interventions on othello-base', () => {
  it('move its predictions towards the edited board\'s legal moves through the layer-6 probe, and not along a random direction', () => {
    const run = gamba('intervene', '--checkpoint', join('models', 'othello-base'), '--data', SAMPLES, '--layer', '6', '--fit-games', '100', '--games', '40',
      '--source', 'residual', '--no-random-init', '--backend', 'cpu', '--json');
    expect(run.stderr).not.toMatch(/^gamba:/m);
    expect(run.status).toBe(0);
    const { unedited, layers: [layer], sites } = JSON.parse(run.stdout);
    expect(sites).toBeGreaterThanOrEqual(35);
    expect(layer.readsEdit).toBe(1);
    expect(layer.probe.overlapEdited).toBeGreaterThan(unedited.overlapEdited + 0.03);
    expect(layer.probe.overlapEdited).toBeGreaterThan(layer.random.overlapEdited + 0.03);
    expect(layer.probe.overlapOriginal).toBeLessThan(unedited.overlapOriginal);
    expect(Math.abs(layer.random.overlapEdited - unedited.overlapEdited)).toBeLessThan(0.03);
  }, 240_000);
});
