/**
 * Interventions: is the board the probes read the board the model plays from? At a held-out Othello
 * position, take a square whose edit changes the legal moves, push the activation at layer L along the
 * mine/theirs probe's direction until the probe reads that square flipped (or emptied), run the rest of
 * the model, and compare its next-move prediction with the legal moves of the edited board and of the
 * original one, next to an edit of the same size along a random direction.
 *
 *   site     one per held-out game: a position and a square drawn with the seed, where the edited
 *            board (the engine's OthelloBoard, same player to move) still has a legal move and its
 *            legal moves differ from the original's
 *   edit     x' = x + alpha g, g = (w_to - w_lead) * invStd, the gradient in x of the probe's logit gap
 *            between the class wanted (`to`) and the class it reads otherwise (`lead`): the smallest
 *            alpha at which `to` leads every other class of the square by the margin `lead` led `to`
 *            by before (the reading mirrored), times `strength` (1 by default: the smallest edit that
 *            mirrors the reading; Nanda's follow-up scales its edits up the same way). Where the probe
 *            already reads `to` by that much the edit is zero.
 *   control  a Gaussian direction of the same norm, drawn per site
 *   sources  the residual stream after layer L (step()'s residual observer), or a Mamba's SSM state of
 *            layer L through a state probe, edited before the layer reads its output from it
 *            (MambaLM.step's state editor); either way only the site's step is edited
 *
 * Scored per edit (none, probe, random): the share of sites whose top-1 prediction is legal on the
 * edited board and on the original board, and the mean overlap of the top-k predictions with each
 * board's legal moves (k = that board's legal-move count; Li et al.'s measure, as a share).
 */
import { OthelloBoard, EMPTY_CELL, BLACK_CELL, WHITE_CELL } from '../games/othello/board.js';
import { MINE, THEIRS } from '../games/othello/labels.js';
import { SQUARE_TO_TOKEN, TOKEN_TO_SQUARE } from '../games/othello/notation.js';
import { gatherRows, type Tensor } from '../src/backend/backend.js';
import { innerSize } from '../src/model/config.js';
import type { LanguageModel } from '../src/model/language-model.js';
import { MambaLM } from '../src/model/mamba.js';
import { Rng } from '../src/util/rng.js';
import { yieldToEventLoop } from '../src/util/event-loop.js';
import type { FeatureSource } from './capture.js';
import type { ProbedGame } from './game-points.js';
import type { LinearProbe } from './linear-probe.js';
import { SQUARES } from './targets.js';

export type EditKind = 'flip' | 'empty';
export const EDIT_KINDS: readonly EditKind[] = ['flip', 'empty'];

/** Rng streams of the site draw and the control directions. */
const SITE_STREAM = 11;
const CONTROL_STREAM = 12;
/** The centre squares start occupied and have no move token: emptying one would ask for an impossible move. */
const CENTRE = new Set([27, 28, 35, 36]);

export interface EditSite {
  /** Held-out game index. */
  game: number;
  /** Probe point k of that game (move k + 1); the edit is made at the step that reads token `at`. */
  point: number;
  at: number;
  square: number;
  /** Mine/theirs class of the square on the board (0 empty, 1 mine, 2 theirs) and after the edit. */
  from: number;
  to: number;
  /** Move tokens legal after the position, on the original board and on the edited one (ascending). */
  legalOriginal: number[];
  legalEdited: number[];
}

export interface EditScores {
  /** Share of sites whose top-1 prediction is legal on the edited board. */
  top1LegalEdited: number;
  /** ... on the original board. */
  top1LegalOriginal: number;
  /** Mean share of the edited board's k legal moves among the top-k predictions. */
  overlapEdited: number;
  /** ... of the original board's. */
  overlapOriginal: number;
}

export interface InterventionLayer {
  source: FeatureSource;
  layer: number;
  /** Sites where the probe reads the edited class at the square after the edit (checked on the host). */
  readsEdit: number;
  /** Mean share of the other 63 squares whose reading the edit changed. */
  otherSquaresChanged: number;
  /** Mean norm of the edit over the norm of the activation it is added to. */
  relativeNorm: number;
  probe: EditScores;
  random: EditScores;
}

export interface InterventionReport {
  edit: EditKind;
  /** The edit is this many times the smallest one that mirrors the probe's reading. */
  strength: number;
  seed: number;
  /** Sites edited, and the held-out games they were drawn from (one site per game at most). */
  sites: number;
  games: number;
  /** The model's predictions without an edit. */
  unedited: EditScores;
  layers: InterventionLayer[];
  seconds: number;
}

/** A probe to edit through: which activation and where. */
export interface EditProbe {
  source: FeatureSource;
  layer: number;
  probe: LinearProbe;
}

export interface InterventionOptions {
  edit: EditKind;
  /** Multiplies every probe edit (1 = the smallest edit that mirrors the reading). */
  strength: number;
  seed: number;
  /** Games per step() call (each carries two edited copies in the edit passes). */
  batch: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * One site per game where one exists: the game's probe points in a seeded order, at each the occupied
 * squares in a seeded order, the first edit that keeps a legal move and changes the legal moves.
 * `probed` holds the games' mine/theirs labels.
 */
export function chooseSites(records: Uint8Array, recordLength: number, probed: ProbedGame[], edit: EditKind, seed: number): EditSite[] {
  const rng = new Rng(seed, SITE_STREAM);
  const sites: EditSite[] = [];
  const board = OthelloBoard.initial();
  for (let g = 0; g < probed.length; g++) {
    const { at, labels } = probed[g];
    const points = Array.from({ length: at.length }, (_, k) => k);
    rng.shuffle(points);
    search: for (const k of points) {
      board.reset();
      for (let t = 0; t <= at[k]; t++) board.play(TOKEN_TO_SQUARE[records[g * recordLength + t]]);
      if (board.isOver()) continue;
      const cells = Array.from({ length: SQUARES }, (_, s) => board.cellAt(s));
      const squares = cells.flatMap((cell, s) => (cell !== EMPTY_CELL && !(edit === 'empty' && CENTRE.has(s)) ? [s] : []));
      rng.shuffle(squares);
      const legalOriginal = movesOf(board);
      for (const square of squares) {
        const from = labels[k * SQUARES + square];
        const edited = cells.slice();
        edited[square] = edit === 'empty' ? EMPTY_CELL : cells[square] === BLACK_CELL ? WHITE_CELL : BLACK_CELL;
        const after = OthelloBoard.fromCells(edited, board.toMove);
        if (after.isOver()) continue;
        const legalEdited = movesOf(after);
        if (legalEdited.length === legalOriginal.length && legalEdited.every((m, i) => m === legalOriginal[i])) continue;
        const to = edit === 'empty' ? 0 : from === MINE ? THEIRS : MINE;
        sites.push({ game: g, point: k, at: at[k], square, from, to, legalOriginal, legalEdited });
        break search;
      }
    }
  }
  return sites;
}

/** The legal move tokens of a board, ascending. */
function movesOf(board: OthelloBoard): number[] {
  return board.legalMoves().map((s) => SQUARE_TO_TOKEN[s]).sort((a, b) => a - b);
}

export interface ProbeEdit {
  /** The edit to add to x (zeros where the probe already reads `to` by the mirrored margin). */
  delta: Float32Array;
  /** The probe reads `to` at the square after the edit. */
  readsTo: boolean;
  /** Other squares whose reading the edit changed. */
  otherChanged: number;
}

/** The probe's edit of x (one activation row) that makes it read class `to` at `square` (see the header). */
export function probeEdit(probe: LinearProbe, x: Float32Array, square: number, to: number, strength = 1): ProbeEdit {
  const { dim: D, classes: C, weight, bias, mean, invStd } = probe;
  const z = new Float64Array(D);
  for (let j = 0; j < D; j++) z[j] = (x[j] - mean[j]) * invStd[j];
  const row = (k: number) => weight.subarray((square * C + k) * D, (square * C + k + 1) * D);
  const logit = (k: number, v: Float64Array) => {
    const w = row(k);
    let s = bias[square * C + k];
    for (let j = 0; j < D; j++) s += w[j] * v[j];
    return s;
  };
  const l = Array.from({ length: C }, (_, k) => logit(k, z));
  let lead = -1;
  for (let k = 0; k < C; k++) if (k !== to && (lead < 0 || l[k] > l[lead])) lead = k;
  const margin = Math.abs(l[lead] - l[to]);
  // g in x, and its image in z (g * invStd) along which the logits move: l_k(alpha) = l_k + alpha a_k.
  const wTo = row(to);
  const wLead = row(lead);
  const g = new Float64Array(D);
  const gz = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    g[j] = (wTo[j] - wLead[j]) * invStd[j];
    gz[j] = g[j] * invStd[j];
  }
  const a = Array.from({ length: C }, (_, k) => logit(k, gz) - bias[square * C + k]);
  let alpha = 0;
  for (let k = 0; k < C; k++) {
    const slope = a[to] - a[k];
    if (k !== to && slope > 0) alpha = Math.max(alpha, (margin - (l[to] - l[k])) / slope);
  }
  alpha *= strength;
  const delta = Float32Array.from(g, (v) => alpha * v);
  const zEdited = Float64Array.from(z, (v, j) => v + alpha * gz[j]);
  const before = decode(probe, z);
  const after = decode(probe, zEdited);
  let otherChanged = 0;
  for (let s = 0; s < SQUARES; s++) if (s !== square && before[s] !== after[s]) otherChanged++;
  return { delta, readsTo: after[square] === to, otherChanged };
}

/** The probe's reading (arg max class) of every square from standardised z. */
function decode(probe: LinearProbe, z: Float64Array): Uint8Array {
  const { dim: D, classes: C, weight, bias } = probe;
  const out = new Uint8Array(SQUARES);
  for (let s = 0; s < SQUARES; s++) {
    let best = -Infinity;
    for (let k = 0; k < C; k++) {
      const r = (s * C + k) * D;
      let v = bias[s * C + k];
      for (let j = 0; j < D; j++) v += weight[r + j] * z[j];
      if (v > best) {
        best = v;
        out[s] = k;
      }
    }
  }
  return out;
}

/** Edits of one activation at the sites (null: that site is not edited). */
export interface SiteEdits {
  source: FeatureSource;
  layer: number;
  deltas: (Float32Array | null)[];
}

/**
 * Feeds each site's game up to its step and returns the next-token logits there, (sites, V) per variant
 * (null = no edit), and the activations the unedited first variant produced at the `capture` layers,
 * (sites, D) per `${source}:${layer}`. Rows of a step are the chunk's sites, once per variant.
 */
export async function logitsAtSites(
  model: LanguageModel, records: Uint8Array, recordLength: number, sites: EditSite[], batch: number,
  variants: (SiteEdits | null)[], capture: { source: FeatureSource; layer: number }[], onProgress?: (done: number, total: number) => void,
): Promise<{ logits: Float32Array[]; captured: Map<string, Float32Array> }> {
  const be = model.backend;
  const V = model.config.vocab_size;
  const ssm = model instanceof MambaLM ? model : null;
  const logits = variants.map(() => new Float32Array(sites.length * V));
  const captured = new Map<string, Float32Array>();
  const widths = new Map<FeatureSource, number>([['residual', model.config.d_model]]);
  if (ssm) widths.set('state', innerSize(ssm.config) * ssm.config.d_state);
  for (const { source, layer } of [...capture, ...variants.filter((v) => v !== null)]) {
    if (!widths.has(source)) throw new Error(`interventions: the ${source} source needs a Mamba, not a ${model.config.architecture}`);
    if (capture.some((c) => c.source === source && c.layer === layer)) captured.set(`${source}:${layer}`, new Float32Array(sites.length * widths.get(source)!));
  }
  for (let s0 = 0; s0 < sites.length; s0 += batch) {
    const chunk = sites.slice(s0, s0 + batch);
    const n = chunk.length;
    const rows = n * variants.length;
    const state = model.newStepState(rows);
    const tokens = new Int32Array(rows);
    const steps = Math.max(...chunk.map((s) => s.at)) + 1;
    for (let t = 0; t < steps; t++) {
      for (let v = 0; v < variants.length; v++) for (let i = 0; i < n; i++) tokens[v * n + i] = records[chunk[i].game * recordLength + t];
      const active = chunk.flatMap((s, i) => (s.at === t ? [i] : []));
      const reads: Promise<void>[] = [];
      // Gathers the active rows of the first variant into the captured array.
      const keep = (source: FeatureSource, layer: number, x: Tensor) => {
        const out = captured.get(`${source}:${layer}`);
        if (!out || active.length === 0) return;
        const width = widths.get(source)!;
        const gathered = gatherRows(be, x, active);
        reads.push(be.download(gathered).then((data) => {
          be.dispose(gathered);
          active.forEach((i, r) => out.set(data.subarray(r * width, (r + 1) * width), (s0 + i) * width));
        }));
      };
      // The (rows, width) edit of the variants editing `source` at `layer` this step, or null.
      const editsAt = (source: FeatureSource, layer: number, shape: readonly number[]): Tensor | null => {
        const width = widths.get(source)!;
        let host: Float32Array | null = null;
        variants.forEach((variant, v) => {
          if (!variant || variant.source !== source || variant.layer !== layer) return;
          for (const i of active) {
            const delta = variant.deltas[s0 + i];
            if (!delta) continue;
            host ??= new Float32Array(rows * width);
            host.set(delta, (v * n + i) * width);
          }
        });
        return host ? be.upload(host, shape) : null;
      };
      const onResidual = (layer: number, x: Tensor): Tensor | void => {
        keep('residual', layer, x);
        const delta = active.length > 0 ? editsAt('residual', layer, x.shape) : null;
        if (!delta) return;
        const edited = be.add(x, delta);
        be.dispose(delta);
        return edited;
      };
      const onState = (layer: number, h: Tensor): Tensor | void => (active.length > 0 ? editsAt('state', layer, h.shape) ?? undefined : undefined);
      const out = ssm ? await ssm.step(state, tokens, onResidual, onState) : await model.step(state, tokens, onResidual);
      if (ssm && active.length > 0) for (const { source, layer } of capture) if (source === 'state') keep('state', layer, ssm.ssmState(state, layer - 1));
      await Promise.all(reads);
      for (let v = 0; v < variants.length; v++) for (const i of active) logits[v].set(out.subarray((v * n + i) * V, (v * n + i + 1) * V), (s0 + i) * V);
    }
    model.disposeStepState(state);
    onProgress?.(s0 + n, sites.length);
    await yieldToEventLoop();
  }
  return { logits, captured };
}

/** The scores of predictions (sites, V) against the sites' legal moves (see the header). */
export function editScores(logits: Float32Array, sites: EditSite[], vocab: number): EditScores {
  let top1Edited = 0;
  let top1Original = 0;
  let overlapEdited = 0;
  let overlapOriginal = 0;
  const order = Array.from({ length: vocab }, (_, k) => k);
  sites.forEach((site, i) => {
    const row = logits.subarray(i * vocab, (i + 1) * vocab);
    // Ties broken by token, so the ranking is the same on every backend that gives the same logits.
    order.sort((a, b) => row[b] - row[a] || a - b);
    const overlap = (legal: number[]) => {
      const top = new Set(order.slice(0, legal.length));
      return legal.filter((m) => top.has(m)).length / legal.length;
    };
    if (site.legalEdited.includes(order[0])) top1Edited++;
    if (site.legalOriginal.includes(order[0])) top1Original++;
    overlapEdited += overlap(site.legalEdited);
    overlapOriginal += overlap(site.legalOriginal);
  });
  const n = Math.max(1, sites.length);
  return { top1LegalEdited: top1Edited / n, top1LegalOriginal: top1Original / n, overlapEdited: overlapEdited / n, overlapOriginal: overlapOriginal / n };
}

/**
 * Runs the interventions of every probe in `probes` at the sites of the held-out games: one pass
 * without edits (which also reads the activations the edits start from), then per probe one pass with
 * the probe's edit and the control side by side.
 */
export async function runInterventions(
  model: LanguageModel, records: Uint8Array, recordLength: number, probed: ProbedGame[], probes: EditProbe[], options: InterventionOptions,
): Promise<InterventionReport> {
  const started = performance.now();
  const V = model.config.vocab_size;
  const sites = chooseSites(records, recordLength, probed, options.edit, options.seed);
  const progress = (stage: string) => (done: number, total: number) => options.onProgress?.(stage, done, total);
  const base = await logitsAtSites(model, records, recordLength, sites, options.batch, [null], probes, progress('interventions: unedited'));
  const layers: InterventionLayer[] = [];
  for (const { source, layer, probe } of probes) {
    const activations = base.captured.get(`${source}:${layer}`)!;
    if (probe.dim * sites.length !== activations.length) throw new Error(`interventions: the ${source} probe of layer ${layer} reads ${probe.dim} features, the model gives ${activations.length / Math.max(1, sites.length)}`);
    const rng = new Rng(options.seed, CONTROL_STREAM);
    const edits: (Float32Array | null)[] = [];
    const controls: (Float32Array | null)[] = [];
    let readsEdit = 0;
    let otherChanged = 0;
    let relativeNorm = 0;
    sites.forEach((site, i) => {
      const x = activations.subarray(i * probe.dim, (i + 1) * probe.dim);
      const edit = probeEdit(probe, x, site.square, site.to, options.strength);
      const random = Float32Array.from({ length: probe.dim }, () => rng.normal());
      const norm = l2(edit.delta);
      const scale = norm / Math.max(l2(random), Number.MIN_VALUE);
      edits.push(norm > 0 ? edit.delta : null);
      controls.push(norm > 0 ? random.map((v) => v * scale) : null);
      if (edit.readsTo) readsEdit++;
      otherChanged += edit.otherChanged / (SQUARES - 1);
      relativeNorm += norm / Math.max(l2(x), Number.MIN_VALUE);
    });
    const pass = await logitsAtSites(model, records, recordLength, sites, options.batch,
      [{ source, layer, deltas: edits }, { source, layer, deltas: controls }], [], progress(`interventions: ${source} layer ${layer}`));
    const n = Math.max(1, sites.length);
    layers.push({
      source, layer, readsEdit: readsEdit / n, otherSquaresChanged: otherChanged / n, relativeNorm: relativeNorm / n,
      probe: editScores(pass.logits[0], sites, V), random: editScores(pass.logits[1], sites, V),
    });
  }
  return {
    edit: options.edit, strength: options.strength, seed: options.seed, sites: sites.length, games: probed.length,
    unedited: editScores(base.logits[0], sites, V), layers, seconds: (performance.now() - started) / 1000,
  };
}

function l2(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}
