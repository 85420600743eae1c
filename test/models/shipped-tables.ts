/**
 * What the tests of shipped model directories share: reading a `gamba compare` page, and the README
 * table cells its figures are held to.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CompareReport, ComparedModel } from '../../probes/compare.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';

export const readCompare = (dir: string): CompareReport => JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as CompareReport;

/** A share as the READMEs print it: percent with two decimals. */
export const pct = (v: number) => (100 * v).toFixed(2);
export const cellBoard = (a: { cellAcc: number; boardAcc: number }) => `${pct(a.cellAcc)} / ${pct(a.boardAcc)}`;

/** The row of the README in `dir` whose first cell is `first`, cell by cell. */
export function readmeRow(dir: string, first: string): string[] {
  const line = readFileSync(join(dir, 'README.md'), 'utf8').split('\n').find((l) => l.startsWith(`| ${first} |`));
  expect(line, `a README row for ${first}`).toBeDefined();
  return line!.split('|').slice(1, -1).map((cell) => cell.trim());
}

/** A shipped model directory holds the game, preset and parameter count it says (its hashes are checked on load). */
export function expectShippedModel(dir: string, game: string, preset: string, parameters: number): void {
  const checkpoint = loadCheckpoint(dir);
  expect(checkpoint.game).toBe(game);
  expect(checkpoint.preset).toBe(preset);
  let count = 0;
  for (const tensor of checkpoint.params.values()) count += tensor.length;
  expect(count).toBe(parameters);
}

/** The shipped weights are fp16: two bytes a parameter and a header of tensor names (f32 would be twice the size). */
export function expectFp16Weights(dir: string, parameters: number): void {
  expect(statSync(join(dir, 'model.safetensors')).size).toBeLessThan(2 * parameters + 64 * 1024);
}

/** A model's best layer of `source` with its random-init control there (undefined if it has no such probe). */
export function bestLayer(m: ComparedModel, source: 'residual' | 'state') {
  const b = m.best.find((x) => x.source === source);
  return b && { b, control: m.layers.find((l) => l.source === source && l.layer === b.layer)!.control };
}

/** A shipped JSON file: `path` inside `dir`. */
export const readJson = (dir: string, path: string) => JSON.parse(readFileSync(join(dir, path), 'utf8'));

/** A shipped JSON-lines file (metrics.jsonl), one object a line. */
export const readJsonl = (dir: string, path: string) => readFileSync(join(dir, path), 'utf8').trim().split('\n').map((line) => JSON.parse(line));

/** A count as the READMEs print it: 11,631. */
export const count = (n: number) => n.toLocaleString('en-US');

/** A match score as the READMEs print it: two decimals, three where a draw leaves a half point (0.005). */
export const scoreText = (score: number) => score.toFixed(Math.round(score * 1000) % 10 === 0 ? 2 : 3);

/**
 * The README row that starts with `first` holds match summary `s`'s score, first-try legal rate, forfeits
 * and length; returns the first-try and forfeit cells, where parentheses may follow with an earlier model's figures.
 */
export function expectMatchRow(dir: string, first: string, s: Record<string, number>) {
  const [, score, firstTry, forfeits, length] = readmeRow(dir, first);
  expect(score).toBe(`${scoreText(s.score)} (${s.wins}-${s.draws}-${s.losses})`);
  expect(`${firstTry} `.startsWith(`${(100 * s.legalFirstTry).toFixed(1)}% of ${count(s.modelMoves)} `)).toBe(true);
  expect(`${forfeits} `.startsWith(`${s.forfeits} `)).toBe(true);
  expect(length).toBe(`${s.meanPlies} plies`);
  return { firstTry, forfeits };
}

/** The README row that starts with `first` holds the best layer of the probe report at `report` (relative to dir). */
export function expectProbeRow(dir: string, report: string, first: string) {
  const r = readJson(dir, report);
  const best = r.layers.find((l: { layer: number; source: string }) => l.layer === r.best.layer && l.source === r.best.source);
  const [, layer, squares, boards] = readmeRow(dir, first);
  expect([layer, squares.replaceAll('*', ''), boards]).toEqual([String(best.layer), `${pct(best.cellAcc)}%`, `${pct(best.boardAcc)}%`]);
}
