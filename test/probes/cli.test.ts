/**
 * `gamba probe` and `gamba report` end to end on a tiny checkpoint trained for two steps: the report
 * files, probes that re-apply to the same numbers, refusals of bad input with one-line errors.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { othelloLabels } from '../../games/othello/labels.js';
import { captureFeatures, closeCapture } from '../../probes/capture.js';
import { applyProbe } from '../../probes/device-probe.js';
import { loadProbe } from '../../probes/linear-probe.js';
import { probeMetrics } from '../../probes/metrics.js';
import { readReport } from '../../probes/report.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { createModel } from '../../src/model/models.js';
import { PRESETS } from '../../src/model/config.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { startTraining } from '../../src/train/trainer.js';
import { gpu, noGpuReason } from '../backend/webgpu/gpu-fixture.js';

const REPO = join(import.meta.dirname, '..', '..');
/** Layers 1..n of the preset the test trains (layer 0 = the embeddings). */
const LAYERS = Array.from({ length: PRESETS.tiny.n_layers }, (_, i) => i + 1);
const LAST = LAYERS.length;
const SAMPLES = join(REPO, 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-probe-cli-'));
const checkpoint = join(root, 'ckpt');
const out = join(root, 'report');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function gamba(...args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO, 'bin', 'gamba.js'), ...args], { encoding: 'utf8', cwd: root });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const PROBE_FLAGS = ['--data', SAMPLES, '--games', '30', '--eval-games', '10', '--epochs', '1', '--backend', 'cpu', '--batch', '16'];
let first: ReturnType<typeof gamba>;

beforeAll(async () => {
  await startTraining({
    outDir: checkpoint, game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
    clip: 1, seed: 2, valEvery: 10, valGames: 4, saveEvery: 10, steps: 2,
  });
  first = gamba('probe', '--checkpoint', checkpoint, ...PROBE_FLAGS, '--out', out, '--json');
}, 120_000);

describe('gamba probe', () => {
  it('probes every layer of residual stream and state, with both baselines, and writes the report files', () => {
    expect(first.stderr).not.toMatch(/^gamba:/m);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    const expected = [...[0, ...LAYERS].map((layer) => ({ layer, source: 'residual' })), ...LAYERS.map((layer) => ({ layer, source: 'state' }))];
    expect(summary.layers.map((l: { layer: number; source: string }) => ({ layer: l.layer, source: l.source }))).toEqual(expected);
    expect(summary.baselines.randomInit.map((l: { layer: number; source: string }) => ({ layer: l.layer, source: l.source }))).toEqual(expected);
    expect(summary.report).toBe(join(out, 'report.json'));

    const report = readReport(join(out, 'report.json'));
    expect(report.target).toBe('mine-theirs');
    expect(report.classes).toEqual(['empty', 'mine', 'theirs']);
    expect(report.data).toMatchObject({ fitGames: 30, evalGames: 10, fitSplit: 'train', evalSplit: 'val', positionsPerGame: 59 });
    // Held-out residual rows: every position 0..58 of the first 10 val games.
    const games = openDataset(SAMPLES).readGames('val', 0, 10);
    let positions = 0;
    for (let g = 0; g < 10; g++) positions += Math.min(59, othelloLabels(games.subarray(g * 60, (g + 1) * 60)).moves);
    expect(report.layers[0].positions).toBe(positions);
    expect(report.baselines.majority.positions).toBe(positions);
    // State rows: 4 sampled positions per game. Probe-training games 9, 19, 29 validate the fit.
    expect(report.layers.find((l) => l.source === 'state')!.positions).toBe(40);
    expect(report.layers.find((l) => l.source === 'state')!.fitPositions).toBe(27 * 4);
    expect(report.layers.find((l) => l.source === 'state')!.validationPositions).toBe(3 * 4);
    for (const l of [...report.layers, ...report.baselines.randomInit]) {
      expect(l.byMove.reduce((n, m) => n + m.positions, 0)).toBe(l.positions);
    }
    expect(report.probes).toHaveLength(expected.length);
    for (const p of report.probes) expect(existsSync(join(out, p.file))).toBe(true);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(6);
  });

  it('saves probes that, re-applied to freshly captured activations, give the reported accuracy', async () => {
    const report = readReport(join(out, 'report.json'));
    const probe = loadProbe(join(out, 'probes', `residual-layer${LAST}.safetensors`));
    expect(probe.meta).toMatchObject({ target: 'mine-theirs', source: 'residual', layer: String(LAST) });
    const loaded = loadCheckpoint(checkpoint);
    const be = new CpuBackend();
    const model = createModel(be, loaded.config, loaded.params);
    const games = openDataset(SAMPLES).readGames('val', 0, 10);
    const scratch = mkdtempSync(join(root, 'capture-'));
    const points = Array.from({ length: 10 }, (_, g) => Int32Array.from({ length: Math.min(59, othelloLabels(games.subarray(g * 60, (g + 1) * 60)).moves) }, (_, t) => t));
    const [residual] = await captureFeatures(model, games, 60, { dir: scratch, name: 'again', batch: 3, points, keep: { residual: null } });
    const file = residual.files[LAST];
    const x = new Float32Array(file.rows * file.dim);
    for (const chunk of file.chunks(1000)) x.set(chunk.data, chunk.start * file.dim);
    closeCapture([residual]);
    const labels = new Uint8Array(residual.index.rows * 64);
    for (let r = 0; r < residual.index.rows; r++) {
      const g = residual.index.game[r];
      const t = residual.index.move[r];
      labels.set(othelloLabels(games.subarray(g * 60, (g + 1) * 60)).mineTheirs.subarray(t * 64, (t + 1) * 64), r * 64);
    }
    const metrics = probeMetrics(await applyProbe(be, probe, x, residual.index.rows), labels, residual.index.move);
    const reported = report.layers.find((l) => l.source === 'residual' && l.layer === LAST)!;
    expect(metrics.cellAcc).toBeCloseTo(reported.cellAcc, 3);
    expect(metrics.boardAcc).toBeCloseTo(reported.boardAcc, 3);
  });

  it('decodes a binary target from the state alone, without the control, when asked', () => {
    const legal = join(root, 'legal');
    const result = gamba('probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '20', '--eval-games', '5', '--epochs', '0', '--backend', 'cpu',
      '--target', 'legal', '--source', 'state', '--state-positions', '2', '--no-random-init', '--out', legal, '--json');
    expect(result.code).toBe(0);
    const report = readReport(join(legal, 'report.json'));
    expect(report.classes).toEqual(['illegal', 'legal']);
    expect(report.layers.map((l) => `${l.source} ${l.layer}`)).toEqual(LAYERS.map((i) => `state ${i}`));
    expect(report.layers[0].positions).toBe(10);
    expect(report.baselines.randomInit).toEqual([]);
    expect(report.options.randomInit).toBeNull();
    expect(report.probes.map((p) => p.file)).toEqual(LAYERS.map((i) => join('probes', `state-layer${i}.safetensors`)));
    expect(loadProbe(join(legal, 'probes', 'state-layer2.safetensors')).classes).toBe(2);
    expect(readFileSync(join(legal, 'report.html'), 'utf8')).toContain('no random-init control');
  });

  it('refuses to replace a report without --force, and bad flags, with one line each', () => {
    const again = gamba('probe', '--checkpoint', checkpoint, ...PROBE_FLAGS, '--out', out);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`gamba: --out ${out}: already holds report.json (use --force to replace it)\n`);
    const missing = gamba('probe', '--checkpoint', join(root, 'nope'), ...PROBE_FLAGS, '--out', join(root, 'r2'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`gamba: ${join(root, 'nope')}: no such checkpoint directory\n`);
    const games = gamba('probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '0', '--out', join(root, 'r3'));
    expect(games.code).toBe(2);
    expect(games.stderr).toBe('gamba: --games: expected an integer from 1 to 9007199254740991, got 0\n');
    const target = gamba('probe', '--checkpoint', checkpoint, ...PROBE_FLAGS, '--target', 'colour', '--out', join(root, 'r4'));
    expect(target.code).toBe(2);
    expect(target.stderr.trim().split('\n')).toHaveLength(1);
    expect(target.stderr).toMatch(/--target|target/);
    expect(existsSync(join(root, 'r2'))).toBe(false);
  });
});

describe.skipIf(!gpu)(`gamba probe --backend webgpu${gpu ? '' : ` (skipped: ${noGpuReason})`}`, () => {
  it('fits the same probes as the cpu backend: every held-out cell accuracy within 0.2 points', () => {
    // Enough rows that the validated choices (ridge penalty, early stop) do not hang on one cell: 180
    // probe-training games (900 state rows of 2048 features), 50 held out.
    const flags = ['--data', SAMPLES, '--games', '200', '--eval-games', '50', '--state-positions', '5', '--epochs', '1', '--batch', '50', '--json'];
    const reports = (['cpu', 'webgpu'] as const).map((backend) => {
      const dir = join(root, `agree-${backend}`);
      const result = gamba('probe', '--checkpoint', checkpoint, ...flags, '--backend', backend, '--out', dir);
      expect(result.stderr).not.toMatch(/^gamba:/m);
      expect(result.code).toBe(0);
      return readReport(join(dir, 'report.json'));
    });
    const [onCpu, onGpu] = reports;
    expect(onCpu.options.backend).toBe('cpu');
    expect(onGpu.options.backend).toBe('webgpu');
    const pairs = [[onGpu.layers, onCpu.layers], [onGpu.baselines.randomInit, onCpu.baselines.randomInit]] as const;
    for (const [gpuLayers, cpuLayers] of pairs) {
      expect(gpuLayers.map((l) => `${l.source} ${l.layer}`)).toEqual(cpuLayers.map((l) => `${l.source} ${l.layer}`));
      gpuLayers.forEach((l, i) => expect(Math.abs(l.cellAcc - cpuLayers[i].cellAcc), `${l.source} ${l.layer}`).toBeLessThanOrEqual(0.002));
    }
  }, 300_000);
});

describe('gamba bench probe', () => {
  it('times one fit on synthetic rows stage by stage, holding back every 10th row, and refuses bad sizes', () => {
    const result = gamba('bench', 'probe', '--rows', '400', '--dim', '32', '--backend', 'cpu', '--json');
    expect(result.code).toBe(0);
    const bench = JSON.parse(result.stdout);
    expect(bench).toMatchObject({ backend: 'cpu', rows: { fit: 360, validation: 40 }, dim: 32, classes: 3 });
    for (const stage of ['total', 'statistics', 'ridge', 'descent']) expect(bench.seconds[stage]).toBeGreaterThanOrEqual(0);
    expect(bench.seconds.total).toBeGreaterThanOrEqual(bench.seconds.ridge);
    expect(bench.valCellAcc).toBeGreaterThan(0);
    const bad = gamba('bench', 'probe', '--rows', '5', '--backend', 'cpu');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('gamba: --rows: expected an integer from 20 to 2147483648, got 5\n');
  });
});

describe('gamba report', () => {
  it('redraws report.html from report.json, identical to the page the probe run wrote', () => {
    const copy = join(root, 'copy');
    cpSync(out, copy, { recursive: true });
    const original = readFileSync(join(copy, 'report.html'), 'utf8');
    rmSync(join(copy, 'report.html'));
    const result = gamba('report', copy, '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ html: join(copy, 'report.html') });
    expect(readFileSync(join(copy, 'report.html'), 'utf8')).toBe(original);
  });

  it('refuses a missing or malformed report.json with one line naming the file and field', () => {
    const bad = join(root, 'bad');
    cpSync(out, bad, { recursive: true });
    const json = join(bad, 'report.json');
    const report = JSON.parse(readFileSync(json, 'utf8'));
    report.layers[2].cellAcc = 1.5;
    writeFileSync(json, JSON.stringify(report));
    let result = gamba('report', bad);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`gamba: ${json}: malformed probe report: layers[2].cellAcc must be a number from 0 to 1, got 1.5\n`);
    writeFileSync(json, '{"format": "gamba-probe-report", ');
    result = gamba('report', bad);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^gamba: ${json}: malformed probe report: not valid JSON \\(.*\\)\\n$`));
    rmSync(json);
    result = gamba('report', bad);
    expect(result.stderr).toBe(`gamba: ${json}: no such report (run \`gamba probe\` first)\n`);
    result = gamba('report', join(root, 'nowhere'));
    expect(result.stderr).toBe(`gamba: ${join(root, 'nowhere')}: no such report directory\n`);
  });
});
