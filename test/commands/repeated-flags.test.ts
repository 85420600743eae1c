/**
 * A flag given twice through the compiled CLI (`npx tsc -p .` first; `npm test` does it): the last value
 * of a scalar option wins, a variadic positional keeps every value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-repeated-flags-'));
const SAMPLES = 'datasets/samples/othello';
const MODEL = 'models/othello-base';

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function json(args: string[]): Record<string, unknown> {
  const run = gamba(...args);
  expect(run.stderr).not.toMatch(/^gamba:/m);
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout);
}

describe('a flag given twice', () => {
  it('generate --games 30 --games 300 makes the dataset of --games 300', () => {
    const twice = json(['generate', 'othello', '--games', '30', '--games', '300', '--seed', '1', '--workers', '1', '--out', join(root, 'twice'), '--json']);
    const once = json(['generate', 'othello', '--games', '300', '--seed', '1', '--workers', '1', '--out', join(root, 'once'), '--json']);
    expect(twice.games).toBe(300);
    for (const key of ['games', 'train', 'val', 'shards', 'bytes']) expect(twice[key]).toBe(once[key]);
  });

  it('eval --games 3 --games 5 scores 5 games; a repeated 1 is 1, not a count (yargs-parser#506); choices see the last value', () => {
    const flags = ['eval', '--checkpoint', MODEL, '--data', SAMPLES, '--json'];
    expect(json([...flags, '--backend', 'cpu', '--games', '3', '--games', '5']).games).toBe(5);
    // yargs-parser alone reads these as 3 + 1 = 4 and as [3, 2] + 1 = "3,21".
    expect(json([...flags, '--backend', 'cpu', '--games', '3', '--games', '1']).games).toBe(1);
    expect(json([...flags, '--backend', 'cpu', '--games=3', '--games', '2', '--games=1']).games).toBe(1);
    expect(json([...flags, '--backend', 'nope', '--backend', 'cpu', '--games', '1']).backend).toBe('cpu');
  });

  it('import-pgn with two files reads both (a variadic positional keeps every value)', () => {
    const a = join(root, 'a.pgn');
    const b = join(root, 'b.pgn');
    writeFileSync(a, '[Event "a"]\n\n1. e4 e5 2. Nf3 *\n');
    writeFileSync(b, '[Event "b"]\n\n1. d4 d5 2. c4 *\n\n[Event "c"]\n\n1. c4 *\n');
    const summary = json(['dataset', 'import-pgn', a, b, '--out', join(root, 'pgn'), '--val-fraction', '0.5', '--val-fraction', '0', '--json']);
    expect(summary).toMatchObject({ imported: 3, skipped: 0, train: 3, val: 0 });
  });
});
