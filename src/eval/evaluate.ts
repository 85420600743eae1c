/**
 * Evaluates a checkpoint on a dataset split: loads both, checks they belong together (same game,
 * same vocabulary), and scores the legal-move rate on the first N games of the split: Othello's
 * top-1 next move (legal-moves.ts), chess's greedy move read character by character (chess-legal-moves.ts).
 */
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../datasets/format.js';
import { openDataset } from '../../datasets/reader.js';
import { createBackend } from '../backend/index.js';
import { createModel } from '../model/models.js';
import { checkBatchFits } from '../model/memory.js';
import { checkModelFitsDataset, loadCheckpoint } from '../train/load-checkpoint.js';
import type { BackendKind } from '../train/run-spec.js';
import { UserError } from '../util/errors.js';
import { note } from '../util/output.js';
import { chessLegalMoveRate, type ChessLegalMoveReport } from './chess-legal-moves.js';
import { legalMoveRate, type LegalMoveReport } from './legal-moves.js';

export interface EvaluateOptions {
  checkpoint: string;
  data: string;
  split: 'val' | 'train';
  /** At most this many games (the first of the split). */
  games: number;
  backend: BackendKind;
  batch?: number;
  onProgress?: (gamesDone: number, games: number) => void;
}

export interface CheckpointEvaluation {
  /** Othello: the next token of every prefix; chess: the greedy move of every White and Black move. */
  report: LegalMoveReport | ChessLegalMoveReport;
  split: 'val' | 'train';
  backend: string;
}

export async function evaluateCheckpoint(options: EvaluateOptions): Promise<CheckpointEvaluation> {
  const checkpoint = loadCheckpoint(options.checkpoint, note);
  const dataset = openDataset(options.data);
  const manifest = dataset.manifest;
  const manifestPath = join(options.data, MANIFEST_FILE);
  if (manifest.game !== 'othello' && manifest.game !== 'chess') throw new UserError(`${manifestPath}: a ${manifest.game} dataset; the legal-move rate is implemented for othello and chess`);
  checkModelFitsDataset(checkpoint, options.data, manifest);
  const count = Math.min(options.games, dataset.count(options.split));
  if (count === 0) throw new UserError(`${manifestPath}: the ${options.split} split has no games`);
  const games = dataset.readGames(options.split, 0, count);
  dataset.close();
  const backend = await createBackend(options.backend);
  // Forward passes of `batch` games (fewer when the split has fewer): refused in one line if they cannot fit.
  const batch = options.batch ?? 64;
  checkBatchFits(backend, checkpoint.config, Math.min(batch, count), manifest.recordLength - 1, `--batch ${batch}`, false);
  const model = createModel(backend, checkpoint.config, checkpoint.params);
  const onProgress = (done: number) => options.onProgress?.(done, count);
  const report = manifest.game === 'chess'
    ? await chessLegalMoveRate(model, games, manifest.recordLength, { batch, onProgress, where: `${manifestPath}: ${options.split}` })
    : await legalMoveRate(model, manifest.vocabSize, games, manifest.recordLength, { batch, onProgress });
  return { report, split: options.split, backend: backend.name };
}
