/**
 * metrics.jsonl: one JSON object per training step, appended as the run goes:
 *   {"step":12,"loss":2.91,"lr":0.0006,"gradNorm":1.7,"tokensPerSec":5210}
 * plus "valLoss" on the steps where the validation loss was measured, and in mixed precision "lossScale"
 * (the step's loss scale) and "skipped": true on a step whose gradient overflowed (gradNorm null then).
 * `step` counts completed steps.
 * Lines past the last checkpoint (a run killed between saves) are dropped when the run resumes, so the
 * file of a resumed run has each step once.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number | null;
  tokensPerSec: number;
  valLoss?: number;
  lossScale?: number;
  skipped?: true;
  /** --aux-board-loss: the board head's cross-entropy (unweighted). */
  auxLoss?: number;
}

export class MetricsLog {
  constructor(readonly path: string) {}

  append(metrics: StepMetrics): void {
    appendFileSync(this.path, JSON.stringify(metrics) + '\n');
  }

  /** Keeps only the lines of steps <= `step` (atomically; a torn last line is dropped too). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept: string[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        if ((JSON.parse(line) as StepMetrics).step <= step) kept.push(line);
      } catch {
        // A line cut short by a kill: it belongs to a step after the checkpoint anyway.
      }
    }
    const temp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(temp, kept.map((line) => line + '\n').join(''));
    renameSync(temp, this.path);
  }

  /** Every record in the file. */
  read(): StepMetrics[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as StepMetrics);
  }
}
