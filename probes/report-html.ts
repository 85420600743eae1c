/**
 * report.html of a probe run: one self-contained page (inline CSS and SVG, no script, no network)
 * drawn from report.json alone, so `gamba report` can redraw it at any time:
 *   - a summary line, the margin over the random-init control in words, and what was run (model,
 *     data, seeds, timings);
 *   - cell and board accuracy by layer: residual stream and SSM state, each beside the random-init
 *     control, and the majority baseline; the margin (trained minus random-init) by layer, with its
 *     95% interval over held-out games;
 *   - cell and board accuracy by move number at the best layer of each source;
 *   - per-square accuracy at the best layer, beside the majority baseline's;
 *   - a few decoded boards beside the true ones (wrong squares outlined; chess pieces as letters,
 *     White's upper case, rank 8 at the top);
 *   - the interventions, when run: the moves predicted after an edit of the board through the probe
 *     beside a random edit of the same size, by layer, in a chart and a table;
 *   - every number in a table.
 */
import type { FeatureSource } from './capture.js';
import type { MoveAccuracy, ProbeMetrics } from './metrics.js';
import type { Margin } from './margin.js';
import type { LensReport } from './lens.js';
import type { EditScores, InterventionReport } from './intervene.js';
import type { LayerResult, ProbeReport } from './report.js';
import { PROBE_POINTS_TEXT } from './game-points.js';
import { boardGrid, escapeXml, lineChart, sequentialColor, ticks, type GridCell, type Series } from './svg-charts.js';

const COLORS: Record<FeatureSource, string> = { residual: '#1f77b4', state: '#d62728' };
const CONTROL_COLORS: Record<FeatureSource, string> = { residual: '#8fbbe0', state: '#f0a3a3' };
const MAJORITY_COLOR = '#555';

const pct = (v: number, digits = 1) => `${(100 * v).toFixed(digits)}%`;
/** A difference of accuracies in percentage points, signed. */
const points = (v: number, digits = 1) => `${v >= 0 ? '+' : '\u2212'}${Math.abs(100 * v).toFixed(digits)}`;
const CHESS_LETTERS = ' PNBRQKpnbrqk';

export const PAGE_STYLE = `
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.lead { font-size: 15px; margin: 6px 0 12px; }
.note { color: #555; font-size: 13px; max-width: 1100px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.chart .chart-title { font-size: 14px; font-weight: 600; }
.chart .tick, .board .coord { font-size: 11px; fill: #444; }
.chart .axis-label { font-size: 12px; fill: #333; }
.chart .legend { font-size: 12px; fill: #222; }
.chart .grid { stroke: #e4e4e4; }
.chart .axis { stroke: #666; }
.chart .frame { fill: none; stroke: #999; }
.board .cell-text { font-size: 11px; font-weight: 600; }
.board .board-caption { font-size: 12px; fill: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; }
td.left, th.left { text-align: left; }
tr.best td { background: #fff6d5; font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; margin: 8px 0; }
dl.meta dt { color: #555; }
dl.meta dd { margin: 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 50%; vertical-align: -1px; margin: 0 4px 0 10px; border: 1px solid #555; }
.example { border: 1px solid #e2e2e2; border-radius: 6px; padding: 8px; }
.example h3 { font-size: 13px; margin: 0 0 6px; font-weight: 600; }
`;

export function renderReportHtml(report: ProbeReport): string {
  const sources = [...new Set(report.layers.map((l) => l.source))];
  const best = report.layers.find((l) => l.source === report.best.source && l.layer === report.best.layer)!;
  const majority = report.baselines.majority;
  const bestControl = bestOf(report.baselines.randomInit);
  const title = `Board probe (${report.target}) of ${report.checkpoint.dir}`;
  const lead = [
    `Best: <b>${best.source} layer ${best.layer}</b>, cell accuracy <b>${pct(best.cellAcc, 2)}</b>, full-board accuracy <b>${pct(best.boardAcc, 2)}</b>`,
    `majority baseline ${pct(majority.cellAcc, 2)} / ${pct(majority.boardAcc, 2)}`,
    bestControl ? `random-init control at best ${pct(bestControl.cellAcc, 2)} / ${pct(bestControl.boardAcc, 2)} (${bestControl.source} layer ${bestControl.layer})` : 'no random-init control',
  ].join('; ');
  const chess = report.data.game === 'chess';
  const html: string[] = [];
  html.push('<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>${escapeXml(title)}</title>`, `<style>${PAGE_STYLE}</style>`, '</head>', '<body>');
  html.push(`<h1>${escapeXml(title)}</h1>`);
  html.push(`<p class="lead">${lead}.</p>`);
  html.push(`<p class="lead margin-summary">${marginSummary(report)}</p>`);
  html.push(metaList(report));
  html.push(`<p class="note">Cell accuracy: share of squares decoded right, over all 64 squares of every held-out position. Board accuracy: share of positions with all 64 squares right. A linear probe per layer (softmax over ${report.classes.length} classes per square: ${report.classes.map(escapeXml).join(', ')}) is fitted on the probe-training games and scored on the held-out games. Residual layer 0 is the embedding, layer i the stream after layer i (before the final norm); state layer i is layer i's SSM state h (E x N). Probe points: ${escapeXml(report.data.probePoints ?? PROBE_POINTS_TEXT.othello.points)}.${report.mine ? ` &ldquo;Mine&rdquo; is ${escapeXml(report.mine)}.` : ''} Random-init: the same probes on a randomly initialised model of the same config. Majority: the most common class of each square at each move number in the probe-training games.</p>`);

  html.push('<h2>Accuracy by layer</h2>', '<div class="row">');
  html.push(byLayerChart(report, sources, 'cellAcc', 'Cell accuracy by layer'));
  html.push(byLayerChart(report, sources, 'boardAcc', 'Full-board accuracy by layer'));
  html.push('</div>');
  if (report.layers.some((l) => l.margin)) {
    html.push('<h2>Margin over the random-init control by layer</h2>', '<div class="row">');
    html.push(marginChart(report, sources, 'cell'));
    html.push(marginChart(report, sources, 'board'));
    html.push('</div>');
    html.push('<p class="note">Trained minus random-init accuracy at the same source and layer, on the same held-out positions, in percentage points; the band is the 95% interval over held-out games (games, not positions, are the independent units). A margin near zero means the probe reads as much from an untrained model of the same shape: what it decodes there comes from the architecture and the input, not from training.</p>');
  }

  const bestBySource = sources.map((s) => bestOf(report.layers.filter((l) => l.source === s))!);
  html.push(`<h2>Accuracy by move number (best layer of each source: ${bestBySource.map((b) => `${b.source} ${b.layer}`).join(', ')})</h2>`, '<div class="row">');
  html.push(byMoveChart(report, bestBySource, 'cellAcc', 'Cell accuracy by move number'));
  html.push(byMoveChart(report, bestBySource, 'boardAcc', 'Full-board accuracy by move number'));
  html.push('</div>');
  if (sources.includes('state') && report.options.statePositions > 0) {
    html.push(`<p class="note">The state is probed at ${report.options.statePositions} sampled positions per game (of ${report.data.positionsPerGame}), so its by-move curve rests on fewer positions than the residual one (counts in report.json).</p>`);
  }

  if (report.lens) {
    const lens = report.lens;
    const moves = lens.layers[0].logit.legalTop1 !== null;
    html.push('<h2>The lens: the next move read from each layer</h2>', '<div class="row">');
    html.push(lensChart(report.lens));
    html.push('</div>');
    html.push(`<p class="note">Each residual layer read as if it were the last: the <b>logit lens</b> puts it through the model's own final norm and head; the <b>tuned lens</b> through a linear map per layer fitted (least squares, ridge ${lens.tunedRidge} per row) to the final logits on the probe-training positions. ${moves ? 'Solid: the share of held-out positions whose top-1 move is legal; dashed: ' : ''}the share whose top-1 is the model's own top-1${moves ? '' : ' (chess tokens are characters of a move, so legality is not scored)'}. ${lens.positions} held-out positions (after the game is over there is no next move); by move number in report.json.</p>`);
  }

  if (report.interventions && report.interventions.layers.length > 0) {
    const iv = report.interventions;
    html.push('<h2>Interventions: does the model play on the board the probe reads?</h2>', '<div class="row">');
    html.push(interventionChart(iv, 'overlapEdited', 'Top-k overlap with the edited board\'s legal moves'));
    html.push(interventionChart(iv, 'overlapOriginal', 'Top-k overlap with the original board\'s legal moves'));
    html.push('</div>');
    html.push(`<p class="note">At one position of each of ${iv.games} held-out games (${iv.sites} had a square whose ${iv.edit === 'flip' ? 'flip' : 'emptying'} changes the legal moves, seed ${iv.seed}), the activation at the layer was pushed along the mine/theirs probe's direction until the probe read the square ${iv.edit === 'flip' ? 'flipped' : 'empty'} by the margin it read it before${iv.strength !== 1 ? `, times ${iv.strength}` : ''}; the rest of the model then ran on the edit. <b>Random</b>: an edit of the same size along a Gaussian direction. The overlap is the share of a board's k legal moves among the model's top-k predictions; an edit the model reads moves the predictions towards the edited board's legal moves and away from the original's.</p>`);
    html.push(interventionTable(iv));
  }

  html.push(`<h2>Per-square accuracy: ${best.source} layer ${best.layer} beside the majority baseline</h2>`, '<div class="row">');
  html.push(squareHeatmap(best, `${best.source} layer ${best.layer}: cell ${pct(best.cellAcc)}`, chess));
  html.push(squareHeatmap(majority, `majority baseline: cell ${pct(majority.cellAcc)}`, chess));
  html.push('</div>');
  html.push(`<p class="note">Colour from 50% (dark) to 100% (yellow); ${chess ? 'rank 8 at the top, White at the bottom, as chess diagrams are drawn' : 'a1 at the top left, as the square indices run (a1 = 0, h8 = 63)'}.</p>`);

  if (report.examples.length > 0) {
    html.push(`<h2>Decoded boards (${report.examples[0].source} layer ${report.examples[0].layer}, held-out games)</h2>`);
    html.push(chess
      ? `<p class="note">Pieces as letters (P pawn, N knight, B bishop, R rook, Q queen, K king): mine (${escapeXml(report.mine ?? 'the side to move')}) upper case on a light disc, theirs lower case on a dark disc. Rank 8 at the top. Wrong squares of the decoded board are outlined in red.</p>`
      : `<p class="note">Legend:${legend(report)}. Wrong squares of the decoded board are outlined in red.</p>`);
    html.push('<div class="row">');
    for (const e of report.examples) {
      const wrong = e.truth.reduce((n, c, s) => n + (c === e.predicted[s] ? 0 : 1), 0);
      html.push('<div class="example">', `<h3>Held-out game ${e.game}, ${escapeXml(report.data.boardAt ?? 'after move')} ${e.move}: ${wrong === 0 ? 'all 64 right' : `${wrong} square${wrong === 1 ? '' : 's'} wrong`}</h3>`, '<div class="row">');
      html.push(boardGrid(e.truth.map((c, s) => classCell(report, c, false, s)), 26, 'true board', chess));
      html.push(boardGrid(e.predicted.map((c, s) => classCell(report, c, c !== e.truth[s], s)), 26, 'decoded', chess));
      html.push('</div>', '</div>');
    }
    html.push('</div>');
  }

  html.push('<h2>All numbers</h2>');
  html.push(numbersTable(report));
  html.push(`<p class="note">Written by gamba probe on ${escapeXml(report.createdAt)}; report.json beside this page has every number (by move, per square, timings).</p>`);
  html.push('</body>', '</html>');
  return html.join('\n') + '\n';
}

/**
 * The margin in words: the layer with the largest margin over its control, and, when the control's best
 * layer already decodes about as well as the trained model's, that too (so a small margin is not
 * mistaken for a failed probe, nor a large accuracy for something the model learned).
 */
export function marginSummary(report: ProbeReport): string {
  const withMargin = report.layers.filter((l) => l.margin);
  if (withMargin.length === 0) {
    return report.baselines.randomInit.length > 0
      ? 'This report predates margins (report version 1): rerun gamba probe for the margin over the random-init control with its interval.'
      : 'No random-init control was fitted, so no margin: the accuracies above do not say how much of the board the model learned.';
  }
  const top = report.bestMargin
    ? withMargin.find((l) => l.source === report.bestMargin!.source && l.layer === report.bestMargin!.layer)!
    : withMargin.reduce((a, b) => (b.margin!.cellAcc > a.margin!.cellAcc ? b : a));
  const control = report.baselines.randomInit.find((r) => r.source === top.source && r.layer === top.layer)!;
  const m = top.margin!;
  const overMajority = top.cellAcc - report.baselines.majority.cellAcc;
  const parts = [
    `Largest margin over the random-init control: <b>${top.source} layer ${top.layer}</b>, <b>${points(m.cellAcc)} points</b> of cell accuracy (${pct(top.cellAcc, 2)} trained vs ${pct(control.cellAcc, 2)} random-init; 95% interval ${points(m.cellLow)} to ${points(m.cellHigh)}) and ${points(m.boardAcc)} points of full-board accuracy; ${points(overMajority)} points over the majority baseline (${pct(report.baselines.majority.cellAcc, 2)})`,
  ];
  if (m.cellLow <= 0) parts.push('an interval that reaches zero or below: no layer decodes clearly more than the untrained model');
  else if (overMajority <= 0.005) parts.push('so the margin is the control falling below the majority baseline, not board information the model added');
  else parts.push('so training put board information there that an untrained model of the same shape does not carry');
  const sentences = [`${parts.join(', ')}.`];
  // Where the control alone is strong: say it, per source.
  for (const source of [...new Set(withMargin.map((l) => l.source))]) {
    const controls = report.baselines.randomInit.filter((r) => r.source === source);
    const bestControl = bestOf(controls);
    if (!bestControl) continue;
    const gain = bestControl.cellAcc - report.baselines.majority.cellAcc;
    const trainedBest = bestOf(report.layers.filter((l) => l.source === source))!;
    if (gain > 0.02) {
      sentences.push(`The random-init ${source === 'state' ? 'SSM state' : 'residual stream'} already decodes ${pct(bestControl.cellAcc, 2)} (layer ${bestControl.layer}), ${points(gain)} points above the majority baseline, against ${pct(trainedBest.cellAcc, 2)} at the trained model's best ${source} layer (${trainedBest.layer}): much of what a probe reads there needs no training.`);
    }
  }
  return sentences.join(' ');
}

function bestOf(rows: LayerResult[]): LayerResult | null {
  let best: LayerResult | null = null;
  for (const r of rows) if (!best || r.cellAcc > best.cellAcc) best = r;
  return best;
}

function metaList(report: ProbeReport): string {
  const c = report.checkpoint.config as Record<string, unknown>;
  const t = report.timings;
  const items: [string, string][] = [
    ['model', `${report.checkpoint.preset ?? 'custom'}: d_model ${c.d_model}, ${c.n_layers} layers, d_state ${c.d_state}, expand ${c.expand}`],
    ['data', `${report.data.dir} (${report.data.game}): fitted on ${report.data.fitGames} ${report.data.fitSplit} games, scored on ${report.data.evalGames} ${report.data.evalSplit} games, probe points among input positions 1..${report.data.positionsPerGame} of each game`],
    ['probe', `target ${report.target}; sources ${report.options.sources.join(' + ')}; ridge start then ${report.options.epochs} epochs of descent; seed ${report.options.seed}${report.options.sources.includes('state') ? `; state positions per game ${report.options.statePositions || 'all'}` : ''}`],
    ['time', `${t.totalSeconds.toFixed(0)} s in all: capture ${t.captureSeconds.toFixed(0)} s, fitting ${t.fitSeconds.toFixed(0)} s (trained model ${t.trainedFitSeconds.toFixed(0)} s), scoring ${t.scoreSeconds.toFixed(0)} s${t.lensSeconds !== undefined ? `, lens ${t.lensSeconds.toFixed(0)} s` : ''}${t.interventionSeconds !== undefined ? `, interventions ${t.interventionSeconds.toFixed(0)} s` : ''} (${escapeXml(report.options.backend)} backend)`],
  ];
  return `<dl class="meta">${items.map(([k, v]) => `<dt>${k}</dt><dd>${escapeXml(v)}</dd>`).join('')}</dl>`;
}

/** y range of a chart: from a round value below the data (at most `floor`) to a round value above. */
export function yRange(values: number[], floor: number): { min: number; max: number; step: number } {
  const lo = Math.min(floor, ...values);
  const hi = Math.max(...values, lo + 0.01);
  const span = hi - lo;
  const step = span > 0.5 ? 0.1 : span > 0.2 ? 0.05 : span > 0.08 ? 0.02 : 0.01;
  return { min: Math.max(0, Math.floor(lo / step) * step), max: Math.min(1, Math.ceil(hi / step) * step), step };
}

function byLayerChart(report: ProbeReport, sources: FeatureSource[], key: 'cellAcc' | 'boardAcc', title: string): string {
  const series: Series[] = [];
  for (const s of sources) {
    const rows = report.layers.filter((l) => l.source === s).sort((a, b) => a.layer - b.layer);
    series.push({ name: `${s} (trained)`, color: COLORS[s], points: rows.map((r) => [r.layer, r[key]]), markers: true });
    const control = report.baselines.randomInit.filter((l) => l.source === s).sort((a, b) => a.layer - b.layer);
    if (control.length > 0) series.push({ name: `${s} (random-init)`, color: CONTROL_COLORS[s], dash: '6 4', points: control.map((r) => [r.layer, r[key]]), markers: true });
  }
  const layers = [...report.layers, ...report.baselines.randomInit].map((l) => l.layer);
  const xMin = Math.min(...layers);
  const xMax = Math.max(...layers);
  const m = report.baselines.majority[key];
  series.push({ name: 'majority baseline', color: MAJORITY_COLOR, dash: '2 4', points: [[xMin, m], [xMax, m]] });
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  const range = yRange(values, key === 'cellAcc' ? 0.5 : 0);
  return lineChart({
    title, xLabel: 'layer (residual 0 = embeddings; state i = SSM state of layer i)', yLabel: key === 'cellAcc' ? 'cell accuracy' : 'board accuracy',
    series, xMin, xMax, yMin: range.min, yMax: range.max, xTicks: ticks(xMin, xMax, 1), yTicks: ticks(range.min, range.max, range.step), formatY: (v) => pct(v, range.step < 0.02 ? 1 : 0),
  });
}

/** The lens by residual layer: legal rate (Othello) and agreement with the model's own top-1. */
function lensChart(lens: LensReport): string {
  const series: Series[] = [];
  const kinds = [['logit', 'logit lens', '#ff7f0e'], ['tuned', 'tuned lens', '#2ca02c']] as const;
  for (const [kind, name, color] of kinds) {
    if (lens.layers[0][kind].legalTop1 !== null) series.push({ name: `${name}: legal`, color, markers: true, points: lens.layers.map((l) => [l.layer, l[kind].legalTop1!]) });
    series.push({ name: `${name}: agrees with the model`, color, dash: '6 4', markers: true, points: lens.layers.map((l) => [l.layer, l[kind].agreeTop1]) });
  }
  const xMin = lens.layers[0].layer;
  const xMax = lens.layers[lens.layers.length - 1].layer;
  return lineChart({
    title: 'Top-1 next move by residual layer', xLabel: 'residual layer (0 = embeddings)', yLabel: 'share of held-out positions',
    series, xMin, xMax, yMin: 0, yMax: 1, xTicks: ticks(xMin, xMax, 1), yTicks: ticks(0, 1, 0.1), formatY: (v) => pct(v, 0),
  });
}

/** An intervention score by layer: the probe's edit and the random edit per source, and no edit as a line. */
function interventionChart(iv: InterventionReport, key: keyof EditScores, title: string): string {
  const series: Series[] = [];
  const layers = iv.layers.map((l) => l.layer);
  const xMin = Math.min(...layers);
  const xMax = Math.max(xMin + 1, ...layers);
  for (const source of ['residual', 'state'] as const) {
    const rows = iv.layers.filter((l) => l.source === source).sort((a, b) => a.layer - b.layer);
    if (rows.length === 0) continue;
    series.push({ name: `${source}: probe edit`, color: COLORS[source], markers: true, points: rows.map((r) => [r.layer, r.probe[key]]) });
    series.push({ name: `${source}: random edit`, color: CONTROL_COLORS[source], dash: '6 4', markers: true, points: rows.map((r) => [r.layer, r.random[key]]) });
  }
  series.push({ name: 'no edit', color: MAJORITY_COLOR, dash: '2 4', points: [[xMin, iv.unedited[key]], [xMax, iv.unedited[key]]] });
  return shareChart(title, 'edited after layer', 'mean over the edited positions', series, 1);
}

/** A chart of shares (0..1) drawn over the series' own x extent and a y range fitted to their values. */
export function shareChart(title: string, xLabel: string, yLabel: string, series: Series[], xStep: number): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs);
  const xMax = Math.max(xMin + 1, ...xs);
  const y = yRange(series.flatMap((s) => s.points.map((p) => p[1])), 1);
  return lineChart({
    title, xLabel, yLabel, series, xMin, xMax, yMin: y.min, yMax: y.max,
    xTicks: ticks(xMin, xMax, xStep), yTicks: ticks(y.min, y.max, y.step), formatY: (v) => pct(v, 0),
  });
}

function interventionTable(iv: InterventionReport): string {
  const cells = (s: EditScores) => `<td>${pct(s.top1LegalEdited)}</td><td>${pct(s.top1LegalOriginal)}</td><td>${pct(s.overlapEdited)}</td><td>${pct(s.overlapOriginal)}</td>`;
  const rows = ['<table>', '<tr><th class="left">edit</th><th>top-1 legal, edited board</th><th>top-1 legal, original board</th><th>overlap, edited</th><th>overlap, original</th>' +
    '<th>probe reads the edit</th><th>other squares changed</th><th>|edit| / |x|</th></tr>'];
  rows.push(`<tr><td class="left">no edit</td>${cells(iv.unedited)}<td>-</td><td>-</td><td>-</td></tr>`);
  for (const l of iv.layers) {
    rows.push(`<tr><td class="left">${l.source} layer ${l.layer}: probe</td>${cells(l.probe)}<td>${pct(l.readsEdit)}</td><td>${pct(l.otherSquaresChanged)}</td><td>${l.relativeNorm.toPrecision(2)}</td></tr>`);
    rows.push(`<tr><td class="left">${l.source} layer ${l.layer}: random</td>${cells(l.random)}<td>-</td><td>-</td><td>${l.relativeNorm.toPrecision(2)}</td></tr>`);
  }
  rows.push('</table>');
  return rows.join('\n');
}

/** Trained minus random-init accuracy by layer, per source, with its interval, against a zero line. */
function marginChart(report: ProbeReport, sources: FeatureSource[], key: 'cell' | 'board'): string {
  const series: Series[] = [];
  for (const s of sources) {
    const rows = report.layers.filter((l) => l.source === s && l.margin).sort((a, b) => a.layer - b.layer);
    if (rows.length === 0) continue;
    series.push({
      name: `${s}: trained \u2212 random-init`, color: COLORS[s], markers: true,
      points: rows.map((r) => [r.layer, r.margin![`${key}Acc`]]),
      band: rows.map((r) => [r.layer, r.margin![`${key}Low`], r.margin![`${key}High`]]),
    });
  }
  const layers = report.layers.map((l) => l.layer);
  const xMin = Math.min(...layers);
  const xMax = Math.max(...layers);
  series.push({ name: 'no margin', color: MAJORITY_COLOR, dash: '2 4', points: [[xMin, 0], [xMax, 0]] });
  const values = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0.01, ...values);
  const span = hi - lo;
  const step = span > 0.5 ? 0.1 : span > 0.2 ? 0.05 : span > 0.08 ? 0.02 : span > 0.04 ? 0.01 : 0.005;
  const yMin = Math.floor(lo / step) * step;
  const yMax = Math.ceil(hi / step) * step;
  return lineChart({
    title: `${key === 'cell' ? 'Cell' : 'Full-board'} accuracy margin over random-init`, xLabel: 'layer (residual 0 = embeddings; state i = SSM state of layer i)', yLabel: 'margin (percentage points)',
    series, xMin, xMax, yMin, yMax, xTicks: ticks(xMin, xMax, 1), yTicks: ticks(yMin, yMax, step), formatY: (v) => points(v, step < 0.01 ? 1 : 0),
  });
}

function byMoveChart(report: ProbeReport, bestBySource: LayerResult[], key: 'cellAcc' | 'boardAcc', title: string): string {
  const points = (rows: MoveAccuracy[]) => rows.map((m) => [m.move, m[key]] as [number, number]);
  const series: Series[] = [];
  for (const b of bestBySource) {
    series.push({ name: `${b.source} layer ${b.layer}`, color: COLORS[b.source], points: points(b.byMove) });
    const control = report.baselines.randomInit.find((l) => l.source === b.source && l.layer === b.layer);
    if (control) series.push({ name: `${b.source} layer ${b.layer}, random-init`, color: CONTROL_COLORS[b.source], dash: '6 4', points: points(control.byMove) });
  }
  series.push({ name: 'majority baseline', color: MAJORITY_COLOR, dash: '2 4', points: points(report.baselines.majority.byMove) });
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  const range = yRange(values, key === 'cellAcc' ? 0.5 : 0);
  const moves = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMax = Math.max(10, ...moves);
  return lineChart({
    title, xLabel: report.data.moveAxis ?? PROBE_POINTS_TEXT.othello.moveAxis, yLabel: key === 'cellAcc' ? 'cell accuracy' : 'board accuracy',
    series, xMin: 1, xMax, yMin: range.min, yMax: range.max, xTicks: [1, ...ticks(10, xMax, 10)], yTicks: ticks(range.min, range.max, range.step), formatY: (v) => pct(v, range.step < 0.02 ? 1 : 0),
  });
}

function squareHeatmap(metrics: ProbeMetrics, caption: string, rank8Top: boolean): string {
  const cells: GridCell[] = metrics.perSquare.map((acc, s) => {
    // 50% .. 100% spans the colour scale: below half is as bad as a coin flip on a binary target.
    const v = (acc - 0.5) / 0.5;
    return {
      fill: sequentialColor(v),
      text: acc >= 0.9995 ? '100' : (100 * acc).toFixed(1),
      textColor: v > 0.6 ? '#111' : '#fff',
      title: `${'abcdefgh'[s % 8]}${Math.floor(s / 8) + 1}: ${pct(acc, 2)}`,
    };
  });
  return boardGrid(cells, 40, caption, rank8Top);
}

/** How a class is drawn: discs for the disc targets, a marker for the binary ones, letters for chess pieces. */
function classCell(report: ProbeReport, c: number, wrong: boolean, square = 0): GridCell {
  if (report.data.game === 'chess') return pieceCell(report, c, wrong, square);
  const binary = report.classes.length === 2;
  const boardFill = binary ? '#f3efe2' : '#2f7d4f';
  const title = report.classes[c] ?? String(c);
  if (c === 0) return { fill: boardFill, mark: wrong, title };
  if (binary) return { fill: boardFill, disc: { fill: '#ff8f00', stroke: '#8a4b00' }, mark: wrong, title };
  return { fill: boardFill, disc: c === 1 ? { fill: '#151515', stroke: '#000' } : { fill: '#f7f7f7', stroke: '#999' }, mark: wrong, title };
}

/** A chess square: light or dark, with the piece as a letter on a light (mine) or dark (theirs) disc. */
function pieceCell(report: ProbeReport, c: number, wrong: boolean, square: number): GridCell {
  const light = (Math.floor(square / 8) + (square % 8)) % 2 === 1;
  const cell: GridCell = { fill: light ? '#f0d9b5' : '#b58863', mark: wrong, title: report.classes[c] ?? String(c) };
  if (c === 0) return cell;
  const mine = c <= 6;
  return { ...cell, text: CHESS_LETTERS[c] ?? '?', textColor: mine ? '#111' : '#fff', disc: mine ? { fill: '#fafafa', stroke: '#333' } : { fill: '#222', stroke: '#000' } };
}

function legend(report: ProbeReport): string {
  return report.classes
    .map((name, c) => {
      const cell = classCell(report, c, false);
      const fill = cell.disc ? cell.disc.fill : cell.fill;
      return `<span class="swatch" style="background:${fill}"></span>${escapeXml(name)}`;
    })
    .join(' ');
}

function numbersTable(report: ProbeReport): string {
  const rows: string[] = [];
  const opt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : pct(v, 2));
  const margin = (m: Margin | undefined, key: 'cell' | 'board') => (m ? `${points(m[`${key}Acc`], 2)} [${points(m[`${key}Low`], 2)}, ${points(m[`${key}High`], 2)}]` : '-');
  rows.push('<table>', '<tr><th class="left">source</th><th>layer</th><th>dim</th><th>cell acc</th><th>board acc</th><th>random-init cell</th><th>random-init board</th>' +
    '<th>cell margin [95%]</th><th>board margin [95%]</th>' +
    '<th>fit / validation cell acc</th><th>ridge</th><th>epochs kept</th><th>fit positions</th><th>held-out positions</th><th>fit time</th></tr>');
  for (const l of report.layers) {
    const control = report.baselines.randomInit.find((r) => r.source === l.source && r.layer === l.layer);
    const isBest = l.source === report.best.source && l.layer === report.best.layer;
    rows.push(`<tr${isBest ? ' class="best"' : ''}><td class="left">${l.source}</td><td>${l.layer}</td><td>${l.dim}</td><td>${pct(l.cellAcc, 2)}</td><td>${pct(l.boardAcc, 2)}</td>` +
      `<td>${control ? pct(control.cellAcc, 2) : '-'}</td><td>${control ? pct(control.boardAcc, 2) : '-'}</td>` +
      `<td>${margin(l.margin, 'cell')}</td><td>${margin(l.margin, 'board')}</td>` +
      `<td>${opt(l.trainCellAcc)} / ${opt(l.valCellAcc)}</td><td>${l.ridge ?? '-'}</td><td>${l.epochsKept ?? '-'}</td>` +
      `<td>${l.fitPositions}</td><td>${l.positions}</td><td>${l.fitSeconds.toFixed(1)} s</td></tr>`);
  }
  const m = report.baselines.majority;
  rows.push(`<tr><td class="left">majority</td><td>-</td><td>-</td><td>${pct(m.cellAcc, 2)}</td><td>${pct(m.boardAcc, 2)}</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>${m.positions}</td><td>-</td></tr>`);
  rows.push('</table>');
  return rows.join('\n');
}
