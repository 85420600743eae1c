/**
 * The Othello model shipped in models/othello-base (trained on an H200, see its README): it loads on the
 * cpu backend from a fresh clone, still plays legal Othello, decodes the board, plays gtp-rhino, and its
 * shipped probe report is exactly what `gamba report` draws from the shipped report.json.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RHINO_PATH } from '../../games/othello/gtp.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const MODEL = 'models/othello-base';
const REPORT = join(MODEL, 'probe-mine-theirs');
const SAMPLES = 'datasets/samples/othello';
const root = mkdtempSync(join(tmpdir(), 'gamba-reference-'));

beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the shipped reference Othello model', () => {
  it('is a checkpoint of at most 9M parameters in a file under 20 MB', () => {
    const checkpoint = loadCheckpoint(MODEL);
    expect(checkpoint.game).toBe('othello');
    let parameters = 0;
    for (const tensor of checkpoint.params.values()) parameters += tensor.length;
    expect(parameters).toBeLessThanOrEqual(9_000_000);
    expect(statSync(join(MODEL, 'model.safetensors')).size).toBeLessThan(20 * 1024 * 1024);
  });

  it('predicts a legal move at almost every position of held-out sample games on the cpu backend', () => {
    // Measured: 99.05% over 5,000 held-out games of the training set's own held-out split.
    const run = gamba('eval', '--checkpoint', MODEL, '--data', SAMPLES, '--games', '40', '--backend', 'cpu', '--json');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.positions).toBeGreaterThan(2000);
    expect(report.legalTop1).toBeGreaterThan(0.97);
  });

  it('decodes the mine/theirs board from its residual stream far above the majority baseline', () => {
    const out = join(root, 'probe');
    const run = gamba('probe', '--checkpoint', MODEL, '--data', SAMPLES, '--games', '60', '--eval-games', '20', '--source', 'residual',
      '--no-random-init', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const best = Math.max(...report.layers.map((l: { cellAcc: number }) => l.cellAcc));
    expect(best).toBeGreaterThan(report.baselines.majority.cellAcc + 0.2);
  });

  it.skipIf(!existsSync(RHINO_PATH))('plays gtp-rhino on the cpu backend', () => {
    const run = gamba('play', '--game', 'othello', '--checkpoint', MODEL, '--opponent', 'rhino', '--games', '2', '--backend', 'cpu',
      '--out', join(root, 'rhino'), '--json');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.games).toBe(2);
    expect(summary.wins + summary.draws + summary.losses).toBe(2);
  });

  it('ships a probe report whose HTML is what `gamba report` draws from its report.json', () => {
    const redraw = join(root, 'report');
    rmSync(redraw, { recursive: true, force: true });
    mkdirSync(redraw);
    copyFileSync(join(REPORT, 'report.json'), join(redraw, 'report.json'));
    const run = gamba('report', redraw);
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(join(redraw, 'report.html'))).toEqual(readFileSync(join(REPORT, 'report.html')));
    const report = JSON.parse(readFileSync(join(REPORT, 'report.json'), 'utf8'));
    const sources = new Set(report.layers.map((l: { source: string }) => l.source));
    expect(sources).toEqual(new Set(['residual', 'state']));
    expect(report.baselines.randomInit.length).toBeGreaterThan(0);
  });
});
