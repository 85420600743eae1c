/**
 * compare.html: one self-contained page (inline CSS and SVG, no script) drawn from compare.json alone:
 *   - a table of the models: size, training, legal-move rate, best probe layer of each source beside
 *     its random-init control;
 *   - probe cell and board accuracy by layer (residual solid, state dashed), one colour per model;
 *   - cell and board accuracy by move number at each model's best residual layer;
 *   - learning curves, where several models are one run's checkpoints: legal rate and best residual
 *     probe against training tokens and minutes;
 *   - the lens (legal top-1 by residual layer, logit lens solid, tuned lens dashed).
 */
import type { CompareReport, ComparedModel, LearningCurve } from './compare.js';
import { PAGE_STYLE, shareChart, yRange } from './report-html.js';
import { escapeXml, lineChart, ticks, type Series } from './svg-charts.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const pct = (v: number, digits = 1) => `${(100 * v).toFixed(digits)}%`;
const colorOf = (i: number) => PALETTE[i % PALETTE.length];

export function renderCompareHtml(compare: CompareReport): string {
  const title = `${compare.models.length} models compared: ${compare.game} ${compare.target} probes`;
  const html = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>${escapeXml(title)}</title>`, `<style>${PAGE_STYLE}</style>`, '</head>', '<body>'];
  html.push(`<h1>${escapeXml(title)}</h1>`);
  html.push(modelTable(compare.models, compare.afterMove));
  html.push(`<p class="note">Tokens: training steps x batch x positions per game, from each checkpoint's trainer-state.json, with the minutes its steps took and the backend they ran on (- where the checkpoint was shipped without it), and the weight and layer of the auxiliary board loss it trained with (gamba train --aux-board-loss). Legal: the share of held-out positions whose greedy move is legal, from the eval.json of gamba eval --json beside the checkpoint. Best layers: highest held-out cell accuracy of each source, next to the same probe on a randomly initialised model of the same config; after move ${compare.afterMove}: the best residual layer's accuracy over the held-out positions after that move, pooled.</p>`);

  html.push('<h2>Probe accuracy by layer</h2>', '<div class="row">');
  html.push(byLayerChart(compare, 'cellAcc', 'Cell accuracy by layer'));
  html.push(byLayerChart(compare, 'boardAcc', 'Full-board accuracy by layer'));
  html.push('</div>');
  html.push('<p class="note">Solid: the residual stream (layer 0 = embeddings, layer i = after layer i); dashed: a Mamba\'s SSM state of layer i.</p>');

  html.push('<h2>By move number, at each model\'s best residual layer</h2>', '<div class="row">');
  html.push(byMoveChart(compare, 'cellAcc', 'Cell accuracy by move number'));
  html.push(byMoveChart(compare, 'boardAcc', 'Full-board accuracy by move number'));
  html.push('</div>');

  if (compare.curves.length > 0) {
    html.push('<h2>Learning curves</h2>', '<div class="row">');
    html.push(curveChart(compare.curves, 'tokens', 'legalTop1', 'Legal top-1 by training tokens'));
    html.push(curveChart(compare.curves, 'tokens', 'residualCellAcc', 'Best residual probe (cells) by training tokens'));
    html.push('</div>', '<div class="row">');
    html.push(curveChart(compare.curves, 'minutes', 'legalTop1', 'Legal top-1 by training minutes'));
    html.push(curveChart(compare.curves, 'minutes', 'residualCellAcc', 'Best residual probe (cells) by training minutes'));
    html.push('</div>');
    if (compare.curves.some((c) => c.points.some((p) => Object.keys(p.scores).length > 0))) {
      html.push('<div class="row">', scoreChart(compare.curves, 'tokens'), scoreChart(compare.curves, 'minutes'), '</div>');
    }
    html.push('<p class="note">One line per run whose checkpoints are among the models (the run\'s directory, its --snapshot-every snapshots, its --save-best best), one point per checkpoint; minutes are those its trainer state records, on the backend the table names. Match scores: the gamba play matches kept in each checkpoint\'s matches directory, pooled by opponent, one line per opponent.</p>');
  }

  if (compare.models.some((m) => m.lens)) {
    html.push('<h2>The lens: legal next moves read from each layer</h2>', '<div class="row">', lensChart(compare), '</div>');
    html.push('<p class="note">The share of held-out positions whose top-1 move is legal when layer l is read through the model\'s own final norm and head (logit lens, solid) or through a linear map fitted to the final logits (tuned lens, dashed).</p>');
  }
  html.push('</body>', '</html>');
  return html.join('\n') + '\n';
}

function modelTable(models: ComparedModel[], afterMove: number): string {
  const rows = ['<table>', '<tr><th class="left">model</th><th class="left">architecture</th><th>parameters</th><th>d_model x layers</th><th>d_state</th>' +
    '<th>steps</th><th>tokens</th><th>minutes</th><th>aux board loss</th><th>legal</th><th>best residual: cell / board</th><th>random-init there</th>' +
    `<th>after move ${afterMove}: cell / board</th><th>random-init there</th><th>best state: cell / board</th><th>random-init there</th><th class="left">match scores</th></tr>`];
  models.forEach((m, i) => {
    const best = (source: 'residual' | 'state') => {
      const b = m.best.find((x) => x.source === source);
      if (!b) return source === 'residual' ? '<td>-</td><td>-</td><td>-</td><td>-</td>' : '<td>-</td><td>-</td>';
      const control = m.layers.find((l) => l.source === source && l.layer === b.layer)?.control;
      const pair = (a: { cellAcc: number; boardAcc: number } | null | undefined) => `<td>${a ? `${pct(a.cellAcc, 2)} / ${pct(a.boardAcc, 2)}` : '-'}</td>`;
      const late = source === 'residual' ? `${pair(b.late)}${pair(b.late?.control)}` : '';
      return `<td>layer ${b.layer}: ${pct(b.cellAcc, 2)} / ${pct(b.boardAcc, 2)}</td>${pair(control)}${late}`;
    };
    const t = m.training;
    rows.push(`<tr><td class="left"><span class="swatch" style="background:${colorOf(i)}"></span>${escapeXml(m.name)}</td><td class="left">${escapeXml(m.architecture)}${m.preset ? ` (${escapeXml(m.preset)})` : ''}</td>` +
      `<td>${(m.parameters / 1e6).toFixed(2)}M</td><td>${m.dModel} x ${m.nLayers}</td><td>${m.dState ?? '-'}</td>` +
      `<td>${t ? t.steps : '-'}</td><td>${t ? `${(t.tokens / 1e6).toFixed(1)}M` : '-'}</td><td>${t ? `${t.minutes.toFixed(1)} (${escapeXml(t.backend)})` : '-'}</td>` +
      `<td>${t?.auxBoardLoss ? `${t.auxBoardLoss.weight} at layer ${t.auxBoardLoss.layer}` : '-'}</td>` +
      `<td>${m.legalTop1 === null ? '-' : pct(m.legalTop1, 2)}</td>${best('residual')}${best('state')}` +
      `<td class="left">${m.matches.length === 0 ? '-' : m.matches.map((s) => `${escapeXml(s.opponent)}: ${s.score.toFixed(3)} (${s.wins}-${s.draws}-${s.losses})`).join('<br>')}</td></tr>`);
  });
  rows.push('</table>');
  return rows.join('\n');
}

function byLayerChart(compare: CompareReport, key: 'cellAcc' | 'boardAcc', title: string): string {
  const series: Series[] = [];
  compare.models.forEach((m, i) => {
    for (const source of ['residual', 'state'] as const) {
      const rows = m.layers.filter((l) => l.source === source).sort((a, b) => a.layer - b.layer);
      if (rows.length > 0) series.push({ name: `${m.name}: ${source}`, color: colorOf(i), dash: source === 'state' ? '6 4' : undefined, markers: true, points: rows.map((r) => [r.layer, r[key]]) });
    }
  });
  const depth = Math.max(...compare.models.map((m) => m.nLayers));
  return shareChart(title, 'layer', 'held-out accuracy', series, depth > 12 ? 2 : 1);
}

function byMoveChart(compare: CompareReport, key: 'cellAcc' | 'boardAcc', title: string): string {
  const series: Series[] = [];
  compare.models.forEach((m, i) => {
    const b = m.best.find((x) => x.source === 'residual') ?? m.best[0];
    series.push({ name: `${m.name}: ${b.source} layer ${b.layer}`, color: colorOf(i), points: b.byMove.map((p) => [p.move, p[key]]) });
  });
  return shareChart(title, compare.moveAxis, 'held-out accuracy', series, 10);
}

function lensChart(compare: CompareReport): string {
  const series: Series[] = [];
  compare.models.forEach((m, i) => {
    if (!m.lens) return;
    series.push({ name: `${m.name}: logit lens`, color: colorOf(i), markers: true, points: m.lens.map((l) => [l.layer, l.logit]) });
    series.push({ name: `${m.name}: tuned lens`, color: colorOf(i), dash: '6 4', markers: true, points: m.lens.map((l) => [l.layer, l.tuned]) });
  });
  const depth = Math.max(...compare.models.map((m) => m.nLayers));
  return shareChart('Legal top-1 by residual layer', 'residual layer (0 = embeddings)', 'share of held-out positions', series, depth > 12 ? 2 : 1);
}

/** One run per line: a checkpoint's legal rate or best residual probe against its training tokens or minutes. */
function curveChart(curves: LearningCurve[], x: 'tokens' | 'minutes', y: 'legalTop1' | 'residualCellAcc', title: string): string {
  const series: Series[] = curves.map((c, i) => ({
    name: c.run, color: colorOf(i), markers: true,
    points: c.points.filter((p) => p[y] !== null).map((p) => [p[x], p[y]!] as [number, number]),
  }));
  const range = yRange(series.flatMap((s) => s.points.map((p) => p[1])), 1);
  return trainingChart(title, x, y === 'legalTop1' ? 'legal top-1' : 'held-out cell accuracy', series, range, (v) => pct(v, 0));
}

/** Match score against each opponent a run's checkpoints played, one line per (run, opponent). */
function scoreChart(curves: LearningCurve[], x: 'tokens' | 'minutes'): string {
  const series: Series[] = [];
  curves.forEach((c, i) => {
    const opponents = [...new Set(c.points.flatMap((p) => Object.keys(p.scores)))].sort();
    opponents.forEach((opponent, k) => series.push({
      name: `${c.run}: ${opponent}`, color: colorOf(i), dash: ['', '6 4', '2 4', '10 3 2 3'][k % 4] || undefined, markers: true,
      points: c.points.filter((p) => opponent in p.scores).map((p) => [p[x], p.scores[opponent]] as [number, number]),
    }));
  });
  return trainingChart(`Match score by training ${x}`, x, 'score', series, { min: 0, max: 1, step: 0.2 }, (v) => v.toFixed(1));
}

/** A chart against training tokens (drawn in millions) or minutes, from 0 to a round end. */
function trainingChart(title: string, x: 'tokens' | 'minutes', yLabel: string, series: Series[], y: { min: number; max: number; step: number }, formatY: (v: number) => string): string {
  const scale = x === 'tokens' ? 1e-6 : 1;
  const scaled = series.map((s) => ({ ...s, points: s.points.map(([px, py]) => [Number((px * scale).toPrecision(4)), py] as [number, number]) }));
  const xMax = niceCeiling(Math.max(...scaled.flatMap((s) => s.points.map((p) => p[0])), 1e-9));
  return lineChart({
    title, xLabel: x === 'tokens' ? 'training tokens (millions)' : 'training minutes', yLabel, series: scaled,
    xMin: 0, xMax, yMin: y.min, yMax: y.max, xTicks: ticks(0, xMax, xMax / 5), yTicks: ticks(y.min, y.max, y.step), formatY,
  });
}

/** The smallest 1, 2 or 5 times a power of ten at or above v (an axis end). */
function niceCeiling(v: number): number {
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * power).find((c) => c >= v * (1 - 1e-9))!;
}
