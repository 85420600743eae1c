/**
 * Small SVG drawing helpers for the probe report: a line chart and an 8x8 board grid. Plain strings,
 * no script: the page must read the same with JavaScript off.
 */

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface Series {
  name: string;
  color: string;
  /** SVG stroke-dasharray, e.g. '6 4'; empty for solid. */
  dash?: string;
  points: [number, number][];
  /** Draw a dot at each point. */
  markers?: boolean;
  /** An interval around the line, drawn as a translucent band: [x, low, high] per point. */
  band?: [number, number, number][];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  /** Tick values on the x axis. */
  xTicks: number[];
  yTicks: number[];
  formatY: (v: number) => string;
  width?: number;
  height?: number;
}

/** A line chart with axes, grid, ticks and a legend below the plot. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 560;
  const legendRows = Math.ceil(spec.series.length / 2);
  const plotHeight = spec.height ?? 300;
  const margin = { left: 58, right: 18, top: 34, bottom: 46 };
  const height = plotHeight + legendRows * 20 + 8;
  const innerW = width - margin.left - margin.right;
  const innerH = plotHeight - margin.top - margin.bottom;
  const x = (v: number) => margin.left + (spec.xMax === spec.xMin ? innerW / 2 : ((v - spec.xMin) / (spec.xMax - spec.xMin)) * innerW);
  const y = (v: number) => margin.top + innerH - ((Math.min(spec.yMax, Math.max(spec.yMin, v)) - spec.yMin) / (spec.yMax - spec.yMin)) * innerH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}">`);
  parts.push(`<text x="${width / 2}" y="20" class="chart-title" text-anchor="middle">${escapeXml(spec.title)}</text>`);
  for (const t of spec.yTicks) {
    parts.push(`<line x1="${margin.left}" x2="${margin.left + innerW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" class="tick">${escapeXml(spec.formatY(t))}</text>`);
  }
  for (const t of spec.xTicks) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${margin.top + innerH}" y2="${margin.top + innerH + 4}" class="axis"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${margin.top + innerH + 17}" text-anchor="middle" class="tick">${t}</text>`);
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${innerW}" height="${innerH}" class="frame"/>`);
  parts.push(`<text x="${margin.left + innerW / 2}" y="${margin.top + innerH + 36}" text-anchor="middle" class="axis-label">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${margin.top + innerH / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(spec.yLabel)}</text>`);
  for (const s of spec.series) {
    if (!s.band || s.band.length === 0) continue;
    const upper = s.band.map(([bx, , hi]) => `${x(bx).toFixed(1)} ${y(hi).toFixed(1)}`);
    const lower = s.band.map(([bx, lo]) => `${x(bx).toFixed(1)} ${y(lo).toFixed(1)}`).reverse();
    parts.push(`<path d="M${[...upper, ...lower].join(' L')} Z" fill="${s.color}" fill-opacity="0.18" stroke="none"><title>${escapeXml(`${s.name}: 95% interval`)}</title></path>`);
  }
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${x(px).toFixed(1)} ${y(py).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${escapeXml(s.name)}</title></path>`);
    if (s.markers) {
      for (const [px, py] of s.points) {
        parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.name}: ${px} -> ${spec.formatY(py)}`)}</title></circle>`);
      }
    }
  }
  spec.series.forEach((s, i) => {
    const lx = margin.left + (i % 2) * (innerW / 2);
    const ly = plotHeight + 4 + Math.floor(i / 2) * 20;
    parts.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${lx + 32}" y="${ly + 4}" class="legend">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Evenly spaced ticks from min to max with the given step (inclusive, float-safe). */
export function ticks(min: number, max: number, step: number): number[] {
  const out: number[] = [];
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) out.push(Number((min + i * step).toFixed(10)));
  return out;
}

/** Viridis-like colour for v in [0, 1] (dark blue -> green -> yellow). */
export function sequentialColor(v: number): string {
  const stops: [number, number, number][] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const t = Math.min(1, Math.max(0, v)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface GridCell {
  fill: string;
  /** Text in the cell (e.g. a percentage). */
  text?: string;
  textColor?: string;
  /** A disc drawn in the cell. */
  disc?: { fill: string; stroke: string };
  /** Outline the cell (a wrong prediction). */
  mark?: boolean;
  title?: string;
}

/**
 * An 8x8 board, square index = row * 8 + col with a1 (index 0) at the top left: columns a..h left to
 * right, rows 1..8 top to bottom, labelled on the top and left edges. With `rank8Top` the rows run
 * 8..1 from the top instead, as chess diagrams are drawn (White at the bottom).
 */
export function boardGrid(cells: GridCell[], cellSize: number, caption: string, rank8Top = false): string {
  const rowOf = (r: number) => (rank8Top ? 7 - r : r);
  const pad = 18;
  const size = pad + 8 * cellSize + 2;
  const height = size + 22;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="board" width="${size}" height="${height}" viewBox="0 0 ${size} ${height}" role="img" aria-label="${escapeXml(caption)}">`);
  for (let c = 0; c < 8; c++) parts.push(`<text x="${pad + c * cellSize + cellSize / 2}" y="13" text-anchor="middle" class="coord">${'abcdefgh'[c]}</text>`);
  for (let r = 0; r < 8; r++) parts.push(`<text x="8" y="${pad + rowOf(r) * cellSize + cellSize / 2 + 4}" text-anchor="middle" class="coord">${r + 1}</text>`);
  for (let s = 0; s < 64; s++) {
    const cell = cells[s];
    const cx = pad + (s % 8) * cellSize;
    const cy = pad + rowOf(Math.floor(s / 8)) * cellSize;
    const title = cell.title ? `<title>${escapeXml(cell.title)}</title>` : '';
    parts.push(`<rect x="${cx}" y="${cy}" width="${cellSize}" height="${cellSize}" fill="${cell.fill}" stroke="#333" stroke-width="0.6">${title}</rect>`);
    if (cell.disc) parts.push(`<circle cx="${cx + cellSize / 2}" cy="${cy + cellSize / 2}" r="${cellSize * 0.36}" fill="${cell.disc.fill}" stroke="${cell.disc.stroke}" stroke-width="1">${title}</circle>`);
    if (cell.text !== undefined) {
      parts.push(`<text x="${cx + cellSize / 2}" y="${cy + cellSize / 2 + 4}" text-anchor="middle" class="cell-text" fill="${cell.textColor ?? '#000'}">${escapeXml(cell.text)}</text>`);
    }
    if (cell.mark) parts.push(`<rect x="${cx + 1.5}" y="${cy + 1.5}" width="${cellSize - 3}" height="${cellSize - 3}" fill="none" stroke="#e53935" stroke-width="3"/>`);
  }
  parts.push(`<text x="${size / 2}" y="${size + 16}" text-anchor="middle" class="board-caption">${escapeXml(caption)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
