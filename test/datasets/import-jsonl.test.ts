/**
 * `gamba dataset import-jsonl` through the compiled CLI: exported games come back as the same bytes,
 * `--model-wins` keeps exactly the games the model won, and a bad line stops the import with its file
 * and line, leaving nothing behind.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { parseSquare } from '../../games/othello/notation.js';
import { openDataset } from '../../datasets/reader.js';
import { DATASET_GAMES } from '../../datasets/games.js';
import { tempDir } from './synthetic-records.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = tempDir('import-jsonl');
const SAMPLES = 'datasets/samples/othello';

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const json = (args: string[]) => {
  const run = gamba(...args);
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout);
};

/** The moves of every game of a split, in order. */
const splitMoves = (dir: string, split: 'train' | 'val') => {
  const dataset = openDataset(dir);
  try {
    return [...dataset.iterateGames(split)].map((record) => DATASET_GAMES.othello.moveNames(record));
  } finally {
    dataset.close();
  }
};

describe('gamba dataset import-jsonl', () => {
  it('brings exported games back as the same records, split by its seed', () => {
    const exported = gamba('dataset', 'export', SAMPLES, '--limit', '300');
    expect(exported.status).toBe(0);
    const file = join(root, 'exported.jsonl');
    writeFileSync(file, exported.stdout);
    const all = json(['dataset', 'import-jsonl', file, '--out', join(root, 'back'), '--val-fraction', '0', '--json']);
    expect(all).toMatchObject({ read: 300, imported: 300, skipped: 0, train: 300, val: 0 });
    const back = splitMoves(join(root, 'back'), 'train');
    expect(back.map((m) => JSON.stringify({ moves: m })).join('\n') + '\n').toBe(exported.stdout);

    const split = json(['dataset', 'import-jsonl', file, '--out', join(root, 'split'), '--val-fraction', '0.5', '--seed', '4', '--json']);
    expect(split.train + split.val).toBe(300);
    expect(split.val).toBeGreaterThan(100);
    const again = json(['dataset', 'import-jsonl', file, '--out', join(root, 'split2'), '--val-fraction', '0.5', '--seed', '4', '--json']);
    expect(again).toMatchObject({ train: split.train, val: split.val });
    for (const name of readdirSync(join(root, 'split'))) {
      if (name.endsWith('.bin')) expect(readFileSync(join(root, 'split2', name)).equals(readFileSync(join(root, 'split', name)))).toBe(true);
    }
  });

  it('keeps only the finished games the model won with --model-wins', () => {
    const play = gamba('play', '--game', 'othello', '--checkpoint', 'models/othello-base', '--opponent', 'greedy', '--games', '12', '--temperature', '1', '--backend', 'cpu', '--out', join(root, 'match'));
    expect(play.status).toBe(0);
    const file = join(root, 'match', 'games.jsonl');
    const games = readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    const won = games.filter((g) => g.termination === 'finished' && g.result === g.modelColor);
    // A game the model resigned: not a win, whatever the board says.
    const lost = { ...games[0], termination: 'resign', result: games[0].modelColor === 'black' ? 'white' : 'black' };
    writeFileSync(file, readFileSync(file, 'utf8') + JSON.stringify(lost) + '\n');
    const summary = json(['dataset', 'import-jsonl', file, '--model-wins', '--out', join(root, 'wins'), '--val-fraction', '0', '--json']);
    expect(summary).toMatchObject({ read: games.length + 1, imported: won.length, skipped: games.length + 1 - won.length });
    expect(won.length).toBeGreaterThan(0);
    expect(splitMoves(join(root, 'wins'), 'train')).toEqual(won.map((g) => g.moves));
    for (const g of won) {
      const board = OthelloBoard.initial();
      for (const move of g.moves) board.play(parseSquare(move));
      expect(board.winner()).toBe(g.modelColor === 'black' ? 0 : 1);
    }
  });

  it('refuses a bad line with its file and line, and writes nothing', () => {
    const cases: [string, string][] = [
      ['{"moves":["f5","d6"]}\n{"moves":["f5","a1"]}\n', ':2: move 2 (a1) is not legal there'],
      ['{"moves":["f5","z9"]}\n', ':1: move 2: not an Othello square: "z9" (expected a column a-h and a row 1-8, e.g. f5)'],
      ['{"moves":["f5"]}\nnot json\n', ':2: not a JSON object'],
      ['{"move":["f5"]}\n', ':1: expected {"moves":["f5","d6",...]}'],
    ];
    cases.forEach(([text, message], i) => {
      const file = join(root, `bad-${i}.jsonl`);
      writeFileSync(file, text);
      const out = join(root, `bad-out-${i}`);
      const run = gamba('dataset', 'import-jsonl', file, '--out', out);
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(`gamba: ${file}${message}`);
      expect(existsSync(out)).toBe(false);
    });
    const exported = join(root, 'bad-0.jsonl');
    const noResult = gamba('dataset', 'import-jsonl', exported, '--model-wins', '--out', join(root, 'bad-wins'));
    expect(noResult.status).toBe(2);
    expect(noResult.stderr.trim()).toBe(`gamba: ${exported}:1: --model-wins needs the modelColor, result and termination of gamba play's games.jsonl`);
    const lostAndIllegal = join(root, 'bad-lost.jsonl');
    writeFileSync(lostAndIllegal, '{"moves":["f5","a1"],"modelColor":"black","result":"white","termination":"finished"}\n');
    const checkedAnyway = gamba('dataset', 'import-jsonl', lostAndIllegal, '--model-wins', '--out', join(root, 'bad-lost'));
    expect(checkedAnyway.status).toBe(2);
    expect(checkedAnyway.stderr.trim()).toBe(`gamba: ${lostAndIllegal}:1: move 2 (a1) is not legal there`);
    const missing = gamba('dataset', 'import-jsonl', join(root, 'nope.jsonl'), '--out', join(root, 'x'));
    expect(missing.stderr.trim()).toBe(`gamba: ${join(root, 'nope.jsonl')}: no such JSONL file`);
  });
});
