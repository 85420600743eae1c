/**
 * Activation capture: runs a model over games through the recurrent step() path, many games per step
 * call, and streams to feature files, per layer,
 *   residual: the residual stream x: (d) after the embedding (layer 0) and after each layer i (layer i),
 *             before the final norm;
 *   state:    a Mamba's SSM hidden state h: (E, N) of layer i (layer i = 1..n_layers), flattened e-major.
 * The row for (game g, probe point k) is taken after feeding the token at points[g][k] (game-points.ts
 * says what that position is per game). Only the probe points selected by `keep` are written: the state
 * is E*N floats per layer and point (2048 for `tiny`), so callers subsample it.
 *
 * Row order: games in batches of `batch`; within a batch, by token position, then game. `rowIndex`
 * gives the order up front, so labels can be lined up without waiting for the capture.
 */
import { join } from 'node:path';
import { gatherRows, type Tensor } from '../src/backend/backend.js';
import { innerSize } from '../src/model/config.js';
import type { LanguageModel } from '../src/model/language-model.js';
import { MambaLM } from '../src/model/mamba.js';
import { FeatureFile } from './feature-file.js';
import { yieldToEventLoop } from '../src/util/event-loop.js';

export type FeatureSource = 'residual' | 'state';

export const FEATURE_SOURCES: readonly FeatureSource[] = ['residual', 'state'];

/** The probe points one source keeps: per game, 1 for each point of that game it keeps. */
export type PointMask = Uint8Array[];

export interface RowIndex {
  rows: number;
  /** Per row: index of the game among the captured games. */
  game: Int32Array;
  /** Per row: the probe point k of that game (0-based; reported as move number k + 1). */
  move: Int32Array;
  /** Per row: the token position the row is read after. */
  at: Int32Array;
}

export interface CapturedSource {
  source: FeatureSource;
  /** The layer number of each file (residual 0..n_layers, state 1..n_layers). */
  layers: number[];
  files: FeatureFile[];
  index: RowIndex;
}

export interface CaptureOptions {
  /** Scratch directory for the feature files. */
  dir: string;
  /** File name prefix (e.g. 'trained-train'), so several captures can share `dir`. */
  name: string;
  /** Games per step() call. */
  batch: number;
  /** Per game, the token positions of its probe points, ascending and below the record length. */
  points: Int32Array[];
  /** Per source, the points to keep (null: every point). A source absent here is not captured. */
  keep: Partial<Record<FeatureSource, PointMask | null>>;
  /** The layers to capture (absent: every layer of each source). */
  layers?: readonly number[];
  onProgress?: (gamesDone: number, games: number) => void;
}

/** The rows a capture with these settings writes, in its order. */
export function rowIndex(points: Int32Array[], batch: number, keep: PointMask | null): RowIndex {
  const games: number[] = [];
  const moves: number[] = [];
  const ats: number[] = [];
  for (let g0 = 0; g0 < points.length; g0 += batch) {
    const rows: [number, number, number][] = [];
    for (let g = g0; g < Math.min(points.length, g0 + batch); g++) {
      points[g].forEach((at, k) => {
        if (keep === null || keep[g][k]) rows.push([at, g, k]);
      });
    }
    rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [at, g, k] of rows) {
      ats.push(at);
      games.push(g);
      moves.push(k);
    }
  }
  return { rows: games.length, game: Int32Array.from(games), move: Int32Array.from(moves), at: Int32Array.from(ats) };
}

export async function captureFeatures(model: LanguageModel, games: Uint8Array, recordLength: number, options: CaptureOptions): Promise<CapturedSource[]> {
  const be = model.backend;
  const { d_model: d, n_layers: L } = model.config;
  const ssm = model instanceof MambaLM ? model : null;
  if (options.keep.state !== undefined && !ssm) throw new Error(`capture: the state source needs a Mamba, not a ${model.config.architecture}`);
  const stateDim = ssm ? innerSize(ssm.config) * ssm.config.d_state : 0;
  const count = games.length / recordLength;
  if (options.points.length !== count) throw new Error(`capture: probe points for ${options.points.length} games, but ${count} records`);
  for (const p of options.points) if (p.length > 0 && p[p.length - 1] >= recordLength) throw new Error(`capture: probe point ${p[p.length - 1]} past the record length ${recordLength}`);
  const wanted = (layer: number) => options.layers === undefined || options.layers.includes(layer);
  const captured: CapturedSource[] = [];
  if (options.keep.residual !== undefined) {
    const layers = Array.from({ length: L + 1 }, (_, i) => i).filter(wanted);
    if (layers.length > 0) captured.push({
      source: 'residual',
      layers,
      files: layers.map((i) => new FeatureFile(join(options.dir, `${options.name}-residual-${i}.f32`), d)),
      index: rowIndex(options.points, options.batch, options.keep.residual),
    });
  }
  if (options.keep.state !== undefined) {
    const layers = Array.from({ length: L }, (_, i) => i + 1).filter(wanted);
    if (layers.length > 0) captured.push({
      source: 'state',
      layers,
      files: layers.map((i) => new FeatureFile(join(options.dir, `${options.name}-state-${i}.f32`), stateDim)),
      index: rowIndex(options.points, options.batch, options.keep.state),
    });
  }
  // Per source, the next row of its index to write: rows come in the order the steps produce them.
  const cursor = captured.map(() => 0);

  for (let g0 = 0; g0 < count; g0 += options.batch) {
    const B = Math.min(options.batch, count - g0);
    // Steps up to the last kept row of this batch, whatever the source.
    let steps = 0;
    captured.forEach((source, i) => {
      for (let r = cursor[i]; r < source.index.rows && source.index.game[r] < g0 + B; r++) steps = Math.max(steps, source.index.at[r] + 1);
    });
    const stepState = model.newStepState(B);
    const tokens = new Int32Array(B);
    // Per source, which games of the batch keep a row at this position.
    const which: number[][] = captured.map(() => []);
    for (let t = 0; t < steps; t++) {
      for (let b = 0; b < B; b++) tokens[b] = games[(g0 + b) * recordLength + t];
      captured.forEach((source, i) => {
        which[i].length = 0;
        while (cursor[i] < source.index.rows && source.index.at[cursor[i]] === t && source.index.game[cursor[i]] < g0 + B) which[i].push(source.index.game[cursor[i]++] - g0);
      });
      // One download per source and step: the kept rows of every layer side by side. The residual
      // stream x: (B, d) is gathered as the step produces it (the model reuses its memory after); the
      // state h: (B, E, N) persists, gathered after the step.
      const reads: Promise<void>[] = [];
      const read = (source: CapturedSource, parts: Tensor[], rows: number) => {
        const joined = be.concatColumns(parts);
        parts.forEach((t) => be.dispose(t));
        reads.push(be.download(joined).then((data) => {
          be.dispose(joined);
          source.files.forEach((file, l) => appendColumns(file, data, rows, l, source.files.length));
        }));
      };
      const residualAt = captured.findIndex((s) => s.source === 'residual');
      const residuals: Tensor[] = [];
      const onResidual = residualAt >= 0 && which[residualAt].length > 0
        ? (layer: number, x: Tensor) => void (captured[residualAt].layers.includes(layer) && residuals.push(gatherRows(be, x, which[residualAt])))
        : undefined;
      await model.step(stepState, tokens, onResidual);
      if (residuals.length > 0) read(captured[residualAt], residuals, which[residualAt].length);
      const stateAt = captured.findIndex((s) => s.source === 'state');
      if (stateAt >= 0 && which[stateAt].length > 0) {
        read(captured[stateAt], captured[stateAt].layers.map((l) => gatherRows(be, ssm!.ssmState(stepState, l - 1), which[stateAt])), which[stateAt].length);
      }
      await Promise.all(reads);
    }
    model.disposeStepState(stepState);
    options.onProgress?.(g0 + B, count);
    await yieldToEventLoop();
  }
  for (const source of captured) {
    for (const file of source.files) {
      if (file.rows !== source.index.rows) throw new Error(`capture: ${file.path} has ${file.rows} rows, expected ${source.index.rows}`);
    }
  }
  return captured;
}

/** Appends part `part` of `parts` equal column blocks of each of `rows` rows of data to the file. */
function appendColumns(file: FeatureFile, data: Float32Array, rows: number, part: number, parts: number): void {
  const width = file.dim;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray((r * parts + part) * width, (r * parts + part + 1) * width), r * width);
  file.append(out, rows, 0);
}

/** Closes a capture's files (the caller removes the scratch directory). */
export function closeCapture(captured: CapturedSource[]): void {
  for (const source of captured) for (const file of source.files) file.close();
}
