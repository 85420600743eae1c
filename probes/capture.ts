/**
 * Activation capture: runs a model over games through the recurrent step() path, many games per step
 * call, and streams to feature files, per layer,
 *   residual: the residual stream x: (d) after the embedding (layer 0) and after each layer i (layer i),
 *             before the final norm;
 *   state:    the SSM hidden state h: (E, N) of layer i (layer i = 1..n_layers), flattened e-major.
 * The row for (game g, position t) is taken after feeding token t, so it pairs with the board after
 * move t. Only positions selected by `keep` are written: the state is E*N floats per layer and position
 * (2048 for `tiny`), so callers subsample it.
 *
 * Row order: games in batches of `batch`; within a batch, position-major (t, then game). `rowIndex`
 * gives the order up front, so labels can be lined up without waiting for the capture.
 */
import { join } from 'node:path';
import type { Tensor } from '../src/backend/backend.js';
import { innerSize } from '../src/model/config.js';
import type { MambaLM } from '../src/model/mamba.js';
import { FeatureFile } from './feature-file.js';

export type FeatureSource = 'residual' | 'state';

export const FEATURE_SOURCES: readonly FeatureSource[] = ['residual', 'state'];

/** The positions one source keeps: keep[g * positions + t] = 1 for position t of game g. */
export type PositionMask = Uint8Array;

export interface RowIndex {
  rows: number;
  /** Per row: index of the game among the captured games. */
  game: Int32Array;
  /** Per row: position t (the board after move t, 0-based). */
  move: Uint8Array;
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
  /** Positions t = 0..positions-1 per game are candidates (fewer when the game is shorter). */
  positions: number;
  /** Per source, the positions to keep (null: every position). A source absent here is not captured. */
  keep: Partial<Record<FeatureSource, PositionMask | null>>;
  onProgress?: (gamesDone: number, games: number) => void;
}

/** Number of moves of each game (tokens before the first padding token 0). */
export function gameLengths(games: Uint8Array, recordLength: number): Int32Array {
  const count = games.length / recordLength;
  const lengths = new Int32Array(count);
  for (let g = 0; g < count; g++) {
    let n = 0;
    while (n < recordLength && games[g * recordLength + n] !== 0) n++;
    lengths[g] = n;
  }
  return lengths;
}

/** The rows a capture with these settings writes, in its order. */
export function rowIndex(lengths: Int32Array, positions: number, batch: number, keep: PositionMask | null): RowIndex {
  const games: number[] = [];
  const moves: number[] = [];
  for (let g0 = 0; g0 < lengths.length; g0 += batch) {
    const g1 = Math.min(lengths.length, g0 + batch);
    for (let t = 0; t < positions; t++) {
      for (let g = g0; g < g1; g++) {
        if (t < lengths[g] && (keep === null || keep[g * positions + t])) {
          games.push(g);
          moves.push(t);
        }
      }
    }
  }
  return { rows: games.length, game: Int32Array.from(games), move: Uint8Array.from(moves) };
}

export async function captureFeatures(model: MambaLM, games: Uint8Array, recordLength: number, options: CaptureOptions): Promise<CapturedSource[]> {
  const be = model.backend;
  const { d_model: d, n_layers: L, d_state: N } = model.config;
  const stateDim = innerSize(model.config) * N;
  const P = options.positions;
  const lengths = gameLengths(games, recordLength);
  const count = lengths.length;
  const residualKeep = options.keep.residual;
  const stateKeep = options.keep.state;
  const captured: CapturedSource[] = [];
  let residual: CapturedSource | null = null;
  let state: CapturedSource | null = null;
  if (residualKeep !== undefined) {
    const layers = Array.from({ length: L + 1 }, (_, i) => i);
    residual = {
      source: 'residual',
      layers,
      files: layers.map((i) => new FeatureFile(join(options.dir, `${options.name}-residual-${i}.f32`), d)),
      index: rowIndex(lengths, P, options.batch, residualKeep),
    };
    captured.push(residual);
  }
  if (stateKeep !== undefined) {
    const layers = Array.from({ length: L }, (_, i) => i + 1);
    state = {
      source: 'state',
      layers,
      files: layers.map((i) => new FeatureFile(join(options.dir, `${options.name}-state-${i}.f32`), stateDim)),
      index: rowIndex(lengths, P, options.batch, stateKeep),
    };
    captured.push(state);
  }
  const kept = (mask: PositionMask | null | undefined, g: number, t: number) => mask !== undefined && t < lengths[g] && (mask === null || mask[g * P + t] === 1);

  for (let g0 = 0; g0 < count; g0 += options.batch) {
    const B = Math.min(options.batch, count - g0);
    let steps = 0;
    for (let b = 0; b < B; b++) steps = Math.max(steps, Math.min(P, lengths[g0 + b]));
    const stepState = model.newStepState(B);
    const tokens = new Int32Array(B);
    // Which games of the batch keep a row at this position, per source.
    const residualRows: number[] = [];
    const stateRows: number[] = [];
    for (let t = 0; t < steps; t++) {
      residualRows.length = 0;
      stateRows.length = 0;
      for (let b = 0; b < B; b++) {
        const g = g0 + b;
        // Finished games get the padding token: their outputs are not kept.
        tokens[b] = t < recordLength ? games[g * recordLength + t] : 0;
        if (kept(residualKeep, g, t)) residualRows.push(b);
        if (kept(stateKeep, g, t)) stateRows.push(b);
      }
      const downloads: Promise<Float32Array>[] = [];
      const onResidual = residual && residualRows.length > 0 ? (_layer: number, x: Tensor) => void downloads.push(be.download(x)) : undefined;
      await model.step(stepState, tokens, onResidual);
      if (residual && residualRows.length > 0) {
        // x: (B, d) per layer
        const xs = await Promise.all(downloads);
        for (let i = 0; i <= L; i++) appendRows(residual.files[i], xs[i], residualRows, d);
      }
      if (state && stateRows.length > 0) {
        for (let i = 0; i < L; i++) {
          // h: (B, E, N)
          const h = await be.download(stepState.ssm[i]);
          appendRows(state.files[i], h, stateRows, stateDim);
        }
      }
    }
    for (const t of [...stepState.conv, ...stepState.ssm]) be.dispose(t);
    options.onProgress?.(g0 + B, count);
  }
  for (const source of captured) {
    for (const file of source.files) {
      if (file.rows !== source.index.rows) throw new Error(`capture: ${file.path} has ${file.rows} rows, expected ${source.index.rows}`);
    }
  }
  return captured;
}

/** Appends rows b of x: (B, dim), for b in `which` (ascending), coalescing runs of consecutive rows. */
function appendRows(file: FeatureFile, x: Float32Array, which: number[], dim: number): void {
  let i = 0;
  while (i < which.length) {
    let j = i + 1;
    while (j < which.length && which[j] === which[j - 1] + 1) j++;
    file.append(x, j - i, which[i] * dim);
    i = j;
  }
}

/** Closes a capture's files (the caller removes the scratch directory). */
export function closeCapture(captured: CapturedSource[]): void {
  for (const source of captured) for (const file of source.files) file.close();
}
