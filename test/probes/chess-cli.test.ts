/**
 * `gamba probe` on a chess model end to end: a random-game dataset from `gamba generate chess`, a tiny
 * chess model trained for two steps, then pieces probes at each '.' with both baselines, the margins,
 * decoded boards checked square by square against chess.js, report.html in headless Chromium, and
 * Othello targets and interventions refused for chess data with one line naming the flag or file.
 */
import { Chess } from 'chess.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { movesOfGameString } from '../../games/chess/game-string.js';
import { decodeChessTokens } from '../../games/chess/vocabulary.js';
import { readReport, type ProbeReport } from '../../probes/report.js';
import { startTraining } from '../../src/train/trainer.js';
import { gamba, requireBuiltCli, type CliRun } from '../cli-runner.js';
import { hasChromium, loadInChromium } from './chromium.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-probe-chess-'));
const data = join(root, 'data');
const checkpoint = join(root, 'ckpt');
const out = join(root, 'report');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FIT_GAMES = 12;
const EVAL_GAMES = 4;
let run: CliRun;
let report: ProbeReport;

/** The game strings of the first n val records (trailing padding removed). */
function valGames(n: number): string[] {
  const dataset = openDataset(data);
  const records = dataset.readGames('val', 0, n);
  const L = dataset.recordLength;
  dataset.close();
  return Array.from({ length: n }, (_, g) => decodeChessTokens(records.subarray(g * L, (g + 1) * L)).replace(/ +$/, ''));
}

beforeAll(async () => {
  requireBuiltCli();
  const generated = gamba('generate', 'chess', '--source', 'random', '--games', '24', '--seed', '5', '--val-fraction', '0.25', '--workers', '1', '--out', data, '--json');
  expect(generated.stderr).not.toMatch(/^gamba:/m);
  await startTraining({
    outDir: checkpoint, game: 'chess', data, preset: 'tiny', backend: 'cpu', batch: 2, lr: 3e-3, weightDecay: 0.1,
    clip: 1, seed: 2, valEvery: 10, valGames: 2, saveEvery: 10, steps: 2,
  });
  run = gamba('probe', '--checkpoint', checkpoint, '--data', data, '--games', String(FIT_GAMES), '--eval-games', String(EVAL_GAMES), '--epochs', '1',
    '--backend', 'cpu', '--batch', '8', '--out', out, '--json');
  report = readReport(join(out, 'report.json'));
}, 240_000);

describe('gamba probe on chess', () => {
  it('probes pieces (13 classes, mine = White) at every . of the held-out games, with both baselines and margins', () => {
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ game: 'chess', target: 'pieces' });
    expect(summary.mine).toMatch(/^White/);
    expect(report.classes).toHaveLength(13);
    expect(report.classes.slice(0, 2)).toEqual(['empty', 'my pawn']);
    expect(report.data).toMatchObject({ game: 'chess', fitGames: FIT_GAMES, evalGames: EVAL_GAMES, positionsPerGame: 1023 });
    // One residual row per '.' among the model's 1023 input positions.
    const games = valGames(EVAL_GAMES);
    const dots = games.map((text) => [...text.slice(0, 1023)].filter((c) => c === '.').length);
    const residual = report.layers.find((l) => l.source === 'residual')!;
    expect(residual.positions).toBe(dots.reduce((a, b) => a + b, 0));
    expect(report.baselines.majority.positions).toBe(residual.positions);
    // By move number = full-move number: move m has a row for every game with at least m dots.
    for (const m of residual.byMove) expect(m.positions).toBe(dots.filter((n) => n >= m.move).length);
    // The state keeps 4 sampled points per game.
    expect(report.layers.find((l) => l.source === 'state')!.positions).toBe(dots.reduce((a, n) => a + Math.min(4, n), 0));
    for (const l of report.layers) {
      const control = report.baselines.randomInit.find((r) => r.source === l.source && r.layer === l.layer)!;
      expect(l.margin!.cellAcc).toBeCloseTo(l.cellAcc - control.cellAcc, 9);
      expect(l.margin!.cellLow).toBeLessThanOrEqual(l.margin!.cellAcc);
      expect(l.margin!.cellHigh).toBeGreaterThanOrEqual(l.margin!.cellAcc);
    }
    const largest = Math.max(...report.layers.map((l) => l.margin!.cellAcc));
    expect(report.layers.find((l) => l.source === report.bestMargin!.source && l.layer === report.bestMargin!.layer)!.margin!.cellAcc).toBe(largest);
  });

  it("pairs each decoded board with the position before White's move of that number, replayed by chess.js", () => {
    const games = valGames(EVAL_GAMES);
    expect(report.examples.length).toBeGreaterThan(0);
    for (const e of report.examples) {
      const chess = new Chess();
      const sans = movesOfGameString(games[e.game]);
      for (let ply = 0; ply < 2 * (e.move - 1); ply++) chess.move(sans[ply]);
      expect(chess.turn()).toBe('w');
      const expected: number[] = [];
      for (let square = 0; square < 64; square++) {
        const piece = chess.get(`${'abcdefgh'[square % 8]}${Math.floor(square / 8) + 1}` as Parameters<Chess['get']>[0]);
        expected.push(piece ? 1 + 'pnbrqk'.indexOf(piece.type) + (piece.color === 'w' ? 0 : 6) : 0);
      }
      expect(e.truth).toEqual(expected);
    }
  });

  it('draws the decoded boards with piece letters, rank 8 at the top, and renders in headless Chromium', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    // White's king on e1 in the starting rows: an upper-case K in a board cell.
    expect(html).toMatch(/class="cell-text" fill="#111">K<\/text>/);
    expect(html).toMatch(/class="cell-text" fill="#fff">k<\/text>/);
    expect(html).toContain("full-move number m (board before White&#39;s move m)".replace('&#39;', "'"));
    expect(html).toContain('Largest margin over the random-init control');
    if (!hasChromium) return;
    const { status, dom, problems } = loadInChromium(join(out, 'report.html'), root);
    expect(status).toBe(0);
    expect(problems).toEqual([]);
    // 8 charts and heatmaps, the lens chart, and two boards per example.
    expect((dom.match(/<svg /g) ?? []).length).toBe(9 + 2 * report.examples.length);
  });

  it('reads the next token from every residual layer (the lens), agreement only: chess tokens are not moves', () => {
    const lens = report.lens!;
    expect(lens.layers.map((l) => l.layer)).toEqual([0, 1, 2]);
    expect(lens.positions).toBe(report.layers.find((l) => l.source === 'residual')!.positions);
    for (const l of lens.layers) for (const kind of ['logit', 'tuned'] as const) expect(l[kind].legalTop1).toBeNull();
    // The last layer's logit lens is the model's own prediction.
    expect(lens.layers[2].logit.agreeTop1).toBe(1);
  });

  it('refuses Othello targets on chess data, and pieces on Othello data, naming the flag', () => {
    const wrong = gamba('probe', '--checkpoint', checkpoint, '--data', data, '--target', 'mine-theirs', '--out', join(root, 'r2'));
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toBe('gamba: --target mine-theirs: not a target for chess data (chess targets: pieces)\n');
    const othello = gamba('probe', '--checkpoint', checkpoint, '--data', 'datasets/samples/othello', '--target', 'pieces', '--out', join(root, 'r3'));
    expect(othello.status).toBe(2);
    expect(othello.stderr).toBe('gamba: --target pieces: not a target for othello data (othello targets: mine-theirs, black-white, flipped, legal)\n');
  });

  it('scores the greedy move of every White and Black move with gamba eval, on generated and on imported games', () => {
    const run = gamba('eval', '--checkpoint', checkpoint, '--data', data, '--games', '3', '--backend', 'cpu', '--json');
    expect(run.stderr).not.toMatch(/^gamba:/m);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ games: 3, split: 'val', backend: 'cpu' });
    // Every move of the 3 games (a game string fits its block, so every move starts within the inputs).
    const plies = valGames(3).map((text) => movesOfGameString(text).length);
    const total = plies.reduce((a, b) => a + b, 0);
    expect(result.positions).toBe(total);
    expect(result.bySide.white.positions).toBe(plies.reduce((n, p) => n + Math.ceil(p / 2), 0));
    expect(result.bySide.black.positions).toBe(plies.reduce((n, p) => n + Math.floor(p / 2), 0));
    expect(result.byMove.reduce((n: number, m: { positions: number }) => n + m.positions, 0)).toBe(total);
    expect(result.byMove[0]).toMatchObject({ move: 1, positions: 6 });

    const imported = join(root, 'imported');
    expect(gamba('dataset', 'import-pgn', 'test/fixtures/chess/mixed.pgn', '--out', imported, '--val-fraction', '0', '--json').status).toBe(0);
    const fromPgn = gamba('eval', '--checkpoint', checkpoint, '--data', imported, '--split', 'train', '--games', '2', '--backend', 'cpu', '--json');
    expect(fromPgn.stderr).not.toMatch(/^gamba:/m);
    expect(JSON.parse(fromPgn.stdout)).toMatchObject({ games: 2, split: 'train' });
    expect(JSON.parse(fromPgn.stdout).positions).toBeGreaterThan(0);
  });

  it('refuses interventions on chess data, naming the manifest', () => {
    for (const args of [['intervene', '--layer', '1'], ['probe', '--intervene', '--out', join(root, 'r4')]]) {
      const run = gamba(args[0], '--checkpoint', checkpoint, '--data', data, ...args.slice(1));
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`gamba: ${join(data, 'manifest.json')}: a chess dataset; interventions edit an Othello board\n`);
    }
  });
});
