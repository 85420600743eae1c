/**
 * What the tests of shipped model directories share: reading a `gamba compare` page, and the README
 * table cells its figures are held to.
 */
import { readFileSync } from 'node:fs';
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

/** A model's best layer of `source` with its random-init control there (undefined if it has no such probe). */
export function bestLayer(m: ComparedModel, source: 'residual' | 'state') {
  const b = m.best.find((x) => x.source === source);
  return b && { b, control: m.layers.find((l) => l.source === source && l.layer === b.layer)!.control };
}
