/**
 * The lens: what each layer of the residual stream already predicts of the next move.
 *
 *   logit lens   the model's own readout (final norm, then the head) applied to layer l's stream
 *   tuned lens   a linear map per layer from the standardised stream to the final logits, fitted by
 *                least squares on the probe-training positions (ridge of TUNED_RIDGE per row: with
 *                100,000 rows and a few hundred features it only guards against constant features)
 *
 * Each is scored on the held-out positions: the share whose top-1 move is legal in the game (Othello;
 * null for chess, whose tokens are characters of a move, not moves) and the share that agrees with the
 * model's own top-1 (layer L's logit lens), overall and by move number. Positions after the game is
 * over have no legal move and are left out, as the eval's legal-move rate leaves them out. Everything
 * past the statistics runs through Backend ops, like the probe fits.
 */
import type { Backend, Tensor } from '../src/backend/backend.js';
import type { LanguageModel } from '../src/model/language-model.js';
import { OthelloBoard } from '../games/othello/board.js';
import { PAD_TOKEN, TOKEN_TO_SQUARE } from '../games/othello/notation.js';
import type { CapturedSource } from './capture.js';
import { DeviceAffine } from './device-probe.js';
import { featureStatistics } from './fit-probe.js';
import { chunkRowsFor, type RowSource } from './row-source.js';
import type { ProbeGame } from './targets.js';

/** Ridge penalty of the tuned lens, per fitted row. */
const TUNED_RIDGE = 1e-4;

export interface LensScores {
  /** Share of positions whose top-1 move is legal (null: the game's tokens are not moves). */
  legalTop1: number | null;
  /** Share of positions whose top-1 is the model's own top-1. */
  agreeTop1: number;
  byMove: { move: number; positions: number; legalTop1: number | null; agreeTop1: number }[];
}

export interface LensLayer {
  /** Residual layer: 0 = the embeddings, i = after layer i. */
  layer: number;
  logit: LensScores;
  tuned: LensScores;
}

export interface LensReport {
  /** Held-out positions scored. */
  positions: number;
  tunedRidge: number;
  layers: LensLayer[];
}

/** The rows of two sources (the same rows, other features) chunk by chunk, side by side. */
function* pairedChunks(a: RowSource, b: RowSource, rows: number): Iterable<[{ data: Float32Array; start: number; rows: number }, { data: Float32Array }]> {
  const second = b.chunks(rows)[Symbol.iterator]();
  for (const chunk of a.chunks(rows)) {
    const other = second.next();
    if (other.done || other.value.rows !== chunk.rows) throw new Error('lens: the layers of a capture do not hold the same rows');
    yield [chunk, other.value];
  }
}

/** Fits the tuned lens of every residual layer on the probe-training capture (final logits from its last layer). */
export async function fitTunedLens(model: LanguageModel, fit: CapturedSource): Promise<DeviceAffine[]> {
  const be = model.backend;
  const V = model.config.vocab_size;
  const last = fit.files[fit.files.length - 1];
  const maps: DeviceAffine[] = [];
  for (const file of fit.files) {
    const d = file.dim;
    const stats = { mean: new Float32Array(d), invStd: new Float32Array(d) };
    const n = featureStatistics(file, null, stats);
    const map = new DeviceAffine(be, be.upload(stats.mean, [d]), be.upload(stats.invStd, [d]), be.zeros([V, d]), be.zeros([V]));
    const gram = be.zeros([d, d]);
    const zty = be.zeros([V, d]);
    const targetSum = be.zeros([V]);
    const columnSums = be.zeros([V]);
    for (const [chunk, lastChunk] of pairedChunks(file, last, chunkRowsFor(d))) {
      const z = map.standardiseRows(chunk.data, chunk.rows);
      const finalRaw = be.upload(lastChunk.data.subarray(0, chunk.rows * last.dim), [chunk.rows, last.dim]);
      const target = model.readout(finalRaw);
      be.matmul(z, z, { transA: true, into: gram, accumulate: true });
      be.matmul(target, z, { transA: true, into: zty, accumulate: true });
      be.biasGrad(target, columnSums);
      be.addInPlace(targetSum, columnSums);
      for (const t of [z, finalRaw, target]) be.dispose(t);
    }
    // z is centred, so the bias is the mean target and the weights solve the centred system.
    map.setWeight(await be.solveRidge(gram, TUNED_RIDGE * n, zty));
    map.setBias(be.upload((await be.download(targetSum)).map((s) => s / n), [V]));
    for (const t of [gram, zty, targetSum, columnSums]) be.dispose(t);
    maps.push(map);
  }
  return maps;
}

/**
 * Per held-out game, the tokens that are legal moves after each input position (null after the game
 * is over), or null for a game whose tokens are not moves.
 */
export function legalNextTokens(game: ProbeGame, records: Uint8Array, recordLength: number): ((Uint8Array | null)[] | null)[] | null {
  if (game !== 'othello') return null;
  const count = records.length / recordLength;
  const board = OthelloBoard.initial();
  const out: (Uint8Array | null)[][] = [];
  for (let g = 0; g < count; g++) {
    board.reset();
    const positions: (Uint8Array | null)[] = [];
    for (let t = 0; t < recordLength - 1; t++) {
      const token = records[g * recordLength + t];
      if (token === PAD_TOKEN) break;
      board.play(TOKEN_TO_SQUARE[token]);
      if (board.isOver()) break;
      const legal = new Uint8Array(TOKEN_TO_SQUARE.length);
      for (let k = 1; k < legal.length; k++) legal[k] = board.isLegal(TOKEN_TO_SQUARE[k]) ? 1 : 0;
      positions.push(legal);
    }
    out.push(positions);
  }
  return out;
}

/** Scores both lenses of every residual layer on the held-out capture; disposes the tuned maps. */
export async function scoreLens(model: LanguageModel, held: CapturedSource, maps: DeviceAffine[], legal: ((Uint8Array | null)[] | null)[] | null): Promise<LensReport> {
  const be = model.backend;
  const { index } = held;
  const last = held.files[held.files.length - 1];
  // The model's own top-1 at every held-out row, and which rows count (the game is not over there).
  const own = await topTokens(be, last, (x) => model.readout(x));
  const counted = Uint8Array.from({ length: index.rows }, (_, r) => (legal === null || legal[index.game[r]]?.[index.at[r]] ? 1 : 0));
  const layers: LensLayer[] = [];
  for (let l = 0; l < held.files.length; l++) {
    const file = held.files[l];
    const map = maps[l];
    const logit = l === held.files.length - 1 ? own : await topTokens(be, file, (x) => model.readout(x));
    const tuned = await topTokens(be, file, (x) => {
      const z = map.standardise(x);
      const logits = map.logits(z);
      be.dispose(z);
      return logits;
    });
    layers.push({ layer: held.layers[l], logit: lensScores(logit, own, counted, index, legal), tuned: lensScores(tuned, own, counted, index, legal) });
  }
  for (const map of maps) map.dispose();
  let positions = 0;
  for (const c of counted) positions += c;
  return { positions, tunedRidge: TUNED_RIDGE, layers };
}

/** The top-1 token of every row of a source under `logitsOf` (raw rows (R, d) -> logits (R, V)). */
async function topTokens(be: Backend, rows: RowSource, logitsOf: (x: Tensor) => Tensor): Promise<Int32Array> {
  const out = new Int32Array(rows.rows);
  for (const chunk of rows.chunks(chunkRowsFor(rows.dim))) {
    const x = be.upload(chunk.data.subarray(0, chunk.rows * rows.dim), [chunk.rows, rows.dim]);
    const logits = logitsOf(x);
    const top = be.argmaxRows(logits);
    for (const t of [x, logits]) be.dispose(t);
    out.set(await be.download(top), chunk.start);
    be.dispose(top);
  }
  return out;
}

function lensScores(
  top: Int32Array, own: Int32Array, counted: Uint8Array, index: CapturedSource['index'], legal: ((Uint8Array | null)[] | null)[] | null,
): LensScores {
  const moves = new Map<number, { positions: number; legal: number; agree: number }>();
  let positions = 0;
  let legalCount = 0;
  let agree = 0;
  for (let r = 0; r < top.length; r++) {
    if (!counted[r]) continue;
    const move = index.move[r] + 1;
    let m = moves.get(move);
    if (!m) moves.set(move, (m = { positions: 0, legal: 0, agree: 0 }));
    const isLegal = legal ? legal[index.game[r]]![index.at[r]]![top[r]] === 1 : false;
    const agrees = top[r] === own[r];
    m.positions++;
    positions++;
    if (isLegal) {
      m.legal++;
      legalCount++;
    }
    if (agrees) {
      m.agree++;
      agree++;
    }
  }
  const share = (n: number, of: number) => (of > 0 ? n / of : 0);
  return {
    legalTop1: legal ? share(legalCount, positions) : null,
    agreeTop1: share(agree, positions),
    byMove: [...moves.entries()].sort((a, b) => a[0] - b[0]).map(([move, m]) => ({
      move, positions: m.positions, legalTop1: legal ? share(m.legal, m.positions) : null, agreeTop1: share(m.agree, m.positions),
    })),
  };
}
