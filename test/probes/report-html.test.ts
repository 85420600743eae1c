/**
 * report.html drawn from a hand-made report: self-contained (no script, no external resource), and
 * loaded in headless Chromium without console errors, with its charts present in the DOM.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProbeMetrics } from '../../probes/metrics.js';
import { renderReportHtml } from '../../probes/report-html.js';
import { validateReport, type LayerResult, type ProbeReport } from '../../probes/report.js';
import { CHROMIUM, hasChromium, loadInChromium } from './chromium.js';
const dir = mkdtempSync(join(tmpdir(), 'gamba-report-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function metrics(cellAcc: number, boardAcc: number): ProbeMetrics {
  return {
    positions: 590,
    cellAcc,
    boardAcc,
    byMove: Array.from({ length: 59 }, (_, t) => ({ move: t + 1, positions: 10, cellAcc: Math.max(0.5, cellAcc - t / 400), boardAcc: Math.max(0, boardAcc - t / 100) })),
    perSquare: Array.from({ length: 64 }, (_, s) => Math.min(1, cellAcc - 0.1 + ((s * 7) % 13) / 60)),
  };
}

function layer(source: 'residual' | 'state', n: number, cellAcc: number, boardAcc: number): LayerResult {
  return { layer: n, source, dim: source === 'residual' ? 64 : 2048, fitPositions: 1000, validationPositions: 100, ridge: 0.01, epochsKept: 2, trainCellAcc: cellAcc + 0.01, valCellAcc: cellAcc, fitSeconds: 1.5, ...metrics(cellAcc, boardAcc) };
}

/** The layer with its margin over a control of the given accuracies (interval +-1 point). */
function withMargin(l: LayerResult, controlCell: number, controlBoard: number): LayerResult {
  const cell = l.cellAcc - controlCell;
  const board = l.boardAcc - controlBoard;
  return { ...l, margin: { cellAcc: cell, cellLow: cell - 0.01, cellHigh: cell + 0.01, boardAcc: board, boardLow: board - 0.01, boardHigh: board + 0.01 } };
}

/** A report as `gamba probe` writes it, with made-up numbers (and a name that needs escaping). */
export function sampleReport(): ProbeReport {
  const truth = Array.from({ length: 64 }, (_, s) => (s % 3) as number);
  return {
    format: 'gamba-probe-report',
    version: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
    target: 'mine-theirs',
    classes: ['empty', 'mine', 'theirs'],
    checkpoint: { dir: 'runs/<tiny> & co', game: 'othello', preset: 'tiny', config: { d_model: 64, n_layers: 4, d_state: 16, expand: 2 } },
    data: { dir: 'datasets/samples/othello', game: 'othello', datasetSeed: 1, fitSplit: 'train', fitGames: 100, evalSplit: 'val', evalGames: 10, positionsPerGame: 59 },
    options: { sources: ['residual', 'state'], seed: 1, statePositions: 4, batch: 256, epochs: 3, ridgeStart: 0.01, validationGames: 'every 10th', lrScale: 0.2, backend: 'cpu', randomInit: { seed: 1, stream: 7 } },
    layers: [0, 1, 2, 3, 4].map((n) => withMargin(layer('residual', n, 0.6 + n * 0.08, n * 0.05), 0.59, 0.01))
      .concat([1, 2, 3, 4].map((n) => withMargin(layer('state', n, 0.65 + n * 0.07, n * 0.04), 0.7, 0.02))),
    baselines: {
      majority: metrics(0.62, 0),
      randomInit: [0, 1, 2, 3, 4].map((n) => layer('residual', n, 0.59, 0.01)).concat([1, 2, 3, 4].map((n) => layer('state', n, 0.7, 0.02))),
    },
    best: { source: 'residual', layer: 4 },
    bestMargin: { source: 'residual', layer: 4 },
    examples: [12, 24].map((move, game) => ({ game, move, source: 'residual' as const, layer: 4, truth, predicted: truth.map((c, s) => (s === 5 ? (c + 1) % 3 : c)) })),
    lens: {
      positions: 590,
      tunedRidge: 1e-4,
      layers: [0, 1, 2, 3, 4].map((n) => {
        const scores = (legal: number) => ({ legalTop1: legal, agreeTop1: legal * 0.9, byMove: [{ move: 1, positions: 10, legalTop1: legal, agreeTop1: legal * 0.9 }] });
        return { layer: n, logit: scores(n / 4), tuned: scores(0.5 + n / 8) };
      }),
    },
    probes: [],
    timings: { totalSeconds: 100, captureSeconds: 20, fitSeconds: 70, scoreSeconds: 10, trainedFitSeconds: 35 },
  };
}

describe('renderReportHtml', () => {
  const report = validateReport(JSON.parse(JSON.stringify(sampleReport())), 'sample report');
  const html = renderReportHtml(report);
  const page = join(dir, 'report.html');
  writeFileSync(page, html);
  // Charts: 2 by layer, 2 margins by layer, 2 by move, the lens, 2 heatmaps, 2 boards per example.
  const svgCount = 9 + 2 * report.examples.length;

  it('is self-contained: no script, no stylesheet or image from elsewhere, names escaped', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link|<img|<iframe|url\(/i);
    // The only URL is the SVG namespace.
    expect(html.match(/https?:\/\/[^"]*/g)!.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html).toContain('runs/&lt;tiny&gt; &amp; co');
    expect((html.match(/<svg /g) ?? []).length).toBe(svgCount);
    // One wrong square per example board: outlined once each.
    expect((html.match(/stroke="#e53935"/g) ?? []).length).toBe(report.examples.length);
  });

  it('names the layer of largest margin and says where the random-init model already decodes much', () => {
    const summary = html.match(/<p class="lead margin-summary">(.*)<\/p>/)![1];
    // Residual 4: 92% trained vs 59% random-init; state 4: 93% vs 70%.
    expect(summary).toContain('<b>residual layer 4</b>, <b>+33.0 points</b> of cell accuracy (92.00% trained vs 59.00% random-init; 95% interval +32.0 to +34.0)');
    expect(summary).toContain('The random-init SSM state already decodes 70.00%');
    expect(summary).not.toContain('random-init residual stream already');
    // The table gives every layer's margin with its interval.
    expect(html).toContain('<td>+23.00 [+22.00, +24.00]</td>');
  });

  it('draws the lens by residual layer, legal and agreeing shares of both lenses, and checks its numbers', () => {
    expect(html).toContain('Top-1 next move by residual layer');
    for (const name of ['logit lens: legal', 'tuned lens: legal', 'logit lens: agrees with the model', 'tuned lens: agrees with the model']) expect(html).toContain(name);
    const bad = JSON.parse(JSON.stringify(sampleReport()));
    bad.lens.layers[2].tuned.agreeTop1 = 1.5;
    expect(() => validateReport(bad, 'bad.json')).toThrow('bad.json: malformed probe report: lens.layers[2].tuned.agreeTop1 must be a number from 0 to 1, got 1.5');
    const chess = JSON.parse(JSON.stringify(sampleReport()));
    for (const l of chess.lens.layers) for (const kind of ['logit', 'tuned']) {
      l[kind].legalTop1 = null;
      l[kind].byMove[0].legalTop1 = null;
    }
    const page = renderReportHtml(validateReport(chess, 'chess report'));
    expect(page).not.toContain('lens: legal');
    expect(page).toContain('logit lens: agrees with the model');
  });

  it('redraws a version 1 report (no margins), saying so', () => {
    const old = JSON.parse(JSON.stringify(sampleReport()));
    old.version = 1;
    delete old.bestMargin;
    delete old.lens;
    for (const l of old.layers) delete l.margin;
    const page = renderReportHtml(validateReport(old, 'old report'));
    expect(page).toContain('predates margins');
    expect((page.match(/<svg /g) ?? []).length).toBe(6 + 2 * old.examples.length);
  });

  it.skipIf(!hasChromium)(`loads in headless Chromium without console errors, with every chart in the DOM${hasChromium ? '' : ` [skipped: ${CHROMIUM} is absent; apt-get install -y chromium]`}`, () => {
    const { status, dom, problems } = loadInChromium(page, dir);
    expect(status).toBe(0);
    expect((dom.match(/<svg /g) ?? []).length).toBe(svgCount);
    expect(dom).toContain('Cell accuracy by layer');
    expect(dom).toContain('Full-board accuracy by move number');
    expect(dom).toContain('Cell accuracy margin over random-init');
    expect(problems).toEqual([]);
  });
});
