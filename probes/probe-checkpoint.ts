/**
 * A probe report directory from a checkpoint and a dataset in one call: what `gamba probe` runs, and
 * what the quickstart calls at its end. Resolves the game's default target and the report directory,
 * refuses to replace a finished report unless forced (before the long part), computes the report
 * (run-probe.ts) and writes report.json, report.html and the fitted probes (report-files.ts).
 */
import { join } from 'node:path';
import { MANIFEST_FILE } from '../datasets/format.js';
import { readManifest } from '../datasets/reader.js';
import type { BackendName } from '../src/backend/index.js';
import { UserError } from '../src/util/errors.js';
import type { FeatureSource } from './capture.js';
import type { EditKind } from './intervene.js';
import { DEFAULT_FIT } from './fit-probe.js';
import type { LinearProbe } from './linear-probe.js';
import { checkReportDir, writeReportDir } from './report-files.js';
import { REPORT_HTML, REPORT_JSON, type ProbeReport } from './report.js';
import { computeProbeReport } from './run-probe.js';
import { isProbeGame, resolveTarget, type ProbeTarget } from './targets.js';

export interface RunProbeRequest {
  checkpoint: string;
  data: string;
  /** Absent: the game's first target (mine-theirs for Othello, pieces for chess). */
  target?: ProbeTarget;
  /** Default 'both'. */
  source?: FeatureSource | 'both';
  /** Probe-training games (default 2000) and held-out games (default 500). */
  games?: number;
  evalGames?: number;
  /** Report directory (default <checkpoint>/probe-<target>); refused if it holds a report, unless force. */
  out?: string;
  force?: boolean;
  seed?: number;
  /** State rows per game (default 4; 0 = every probe point). */
  statePositions?: number;
  /** Descent epochs after the ridge start (default DEFAULT_PROBE.epochs). */
  epochs?: number;
  /** Games per model step during capture (default 256). */
  batch?: number;
  /** Default true. */
  randomInit?: boolean;
  /** Edit the board through the trained probes too (run-probe.ts says where); absent: no interventions. */
  intervene?: { edit: EditKind; strength: number };
  backend?: BackendName;
  onProgress?: (stage: string, done: number, total: number) => void;
  onNote?: (message: string) => void;
}

export interface ProbeLayerSummary {
  source: FeatureSource;
  layer: number;
  cellAcc: number;
  boardAcc: number;
}

export interface RunProbeResult {
  /** The report directory and its two files. */
  dir: string;
  reportJson: string;
  reportHtml: string;
  report: ProbeReport;
  /** Highest cell accuracy of the trained model, and its control at the same layer (null without it). */
  best: ProbeLayerSummary & { randomInit: ProbeLayerSummary | null };
  /** Largest cell-accuracy margin over the control (trained minus random-init, with a 95% interval); null without the control. */
  bestMargin: (ProbeLayerSummary & { randomInit: ProbeLayerSummary; cellMargin: number; cellMarginLow: number; cellMarginHigh: number; boardMargin: number }) | null;
  majority: { cellAcc: number; boardAcc: number };
  seconds: number;
}

export const DEFAULT_PROBE = { games: 2000, evalGames: 500, seed: 1, statePositions: 4, epochs: DEFAULT_FIT.epochs, batch: 256 } as const;

/** The target and report directory a request resolves to (reads the dataset's manifest only). */
export function resolveProbeRequest(request: Pick<RunProbeRequest, 'checkpoint' | 'data' | 'target' | 'out'>): { target: ProbeTarget; out: string } {
  const game = readManifest(request.data).game;
  if (!isProbeGame(game)) throw new UserError(`${join(request.data, MANIFEST_FILE)}: a ${game} dataset; board probes are implemented for othello and chess`);
  const target = resolveTarget(game, request.target);
  return { target, out: request.out ?? join(request.checkpoint, `probe-${target}`) };
}

export async function runProbe(request: RunProbeRequest): Promise<RunProbeResult> {
  const { target, out } = resolveProbeRequest(request);
  checkReportDir(out, request.force ?? false);
  const source = request.source;
  const probes: { source: FeatureSource; layer: number; probe: LinearProbe }[] = [];
  const report = await computeProbeReport({
    checkpoint: request.checkpoint,
    data: request.data,
    target,
    sources: source === undefined ? undefined : source === 'both' ? ['residual', 'state'] : [source],
    games: request.games ?? DEFAULT_PROBE.games,
    evalGames: request.evalGames ?? DEFAULT_PROBE.evalGames,
    seed: request.seed ?? DEFAULT_PROBE.seed,
    statePositions: request.statePositions ?? DEFAULT_PROBE.statePositions,
    batch: request.batch ?? DEFAULT_PROBE.batch,
    epochs: request.epochs ?? DEFAULT_PROBE.epochs,
    backend: request.backend ?? 'auto',
    randomInit: request.randomInit ?? true,
    intervene: request.intervene,
    onProbe: (s, layer, probe) => probes.push({ source: s, layer, probe }),
    onProgress: request.onProgress,
    onNote: request.onNote,
  });
  writeReportDir(out, report, probes);
  return { dir: out, reportJson: join(out, REPORT_JSON), reportHtml: join(out, REPORT_HTML), report, ...summarise(report) };
}

function summarise(report: ProbeReport): Pick<RunProbeResult, 'best' | 'bestMargin' | 'majority' | 'seconds'> {
  const brief = (l: ProbeLayerSummary): ProbeLayerSummary => ({ source: l.source, layer: l.layer, cellAcc: l.cellAcc, boardAcc: l.boardAcc });
  const find = (rows: ProbeReport['layers'], at: { source: FeatureSource; layer: number }) => rows.find((l) => l.source === at.source && l.layer === at.layer);
  const best = find(report.layers, report.best)!;
  const bestControl = find(report.baselines.randomInit, report.best);
  let bestMargin: RunProbeResult['bestMargin'] = null;
  if (report.bestMargin) {
    const l = find(report.layers, report.bestMargin)!;
    const c = find(report.baselines.randomInit, report.bestMargin)!;
    bestMargin = { ...brief(l), randomInit: brief(c), cellMargin: l.margin!.cellAcc, cellMarginLow: l.margin!.cellLow, cellMarginHigh: l.margin!.cellHigh, boardMargin: l.margin!.boardAcc };
  }
  return {
    best: { ...brief(best), randomInit: bestControl ? brief(bestControl) : null },
    bestMargin,
    majority: { cellAcc: report.baselines.majority.cellAcc, boardAcc: report.baselines.majority.boardAcc },
    seconds: report.timings.totalSeconds,
  };
}
