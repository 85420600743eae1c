/**
 * `gamba dataset label-positions`: the positions of JSON-line games where the model was to move, each
 * answered by gtp-rhino. Every record is the game's own moves up to such a position and then the
 * engine's answer there, the same answer a gtp-rhino asked directly gives (`--plies`: only the positions
 * after so many moves); the run is the same bytes on one engine or five (on worker threads); each game's
 * positions share a split; bad files, a line without the model's side, a level or ply range out of range
 * and a range that leaves no position are refused in one line with nothing written.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { GtpEngine, RHINO_PATH, colorToMove } from '../../games/othello/gtp.js';
import { parseSquare, squareName } from '../../games/othello/notation.js';
import { gamba } from '../cli-runner.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-label-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SAMPLES = 'datasets/samples/othello';
const LEVEL = '2';

/** Five sample games, the model playing black in the even ones and white in the odd ones, as gamba play writes. */
function playedGames(): { moves: string[]; modelColor: string }[] {
  const lines = gamba('dataset', 'export', SAMPLES, '--split', 'val', '--limit', '5').stdout.trim().split('\n');
  return lines.map((line, i) => ({ moves: (JSON.parse(line) as { moves: string[] }).moves, modelColor: i % 2 === 0 ? 'black' : 'white' }));
}

const exportSplit = (dir: string, split: string): string[] => gamba('dataset', 'export', dir, '--split', split).stdout.trim().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { moves: string[] }).moves.join(' '));

describe.skipIf(!existsSync(RHINO_PATH))(`dataset label-positions${existsSync(RHINO_PATH) ? '' : ` (skipped: no ${RHINO_PATH})`}`, () => {
  const games = playedGames();
  const file = join(root, 'games.jsonl');
  writeFileSync(file, games.map((g) => JSON.stringify({ index: 0, ...g, result: 'white' })).join('\n') + '\n');

  it('answers every position where the model was to move with the engine\'s move, the same bytes on one engine or five', async () => {
    const runs = ['1', '5'].map((workers) => {
      const out = join(root, `w${workers}`);
      const run = gamba('dataset', 'label-positions', file, '--level', LEVEL, '--val-fraction', '0.4', '--seed', '2', '--workers', workers, '--out', out, '--json');
      expect(run.stderr).not.toMatch(/^gamba:/m);
      expect(run.status).toBe(0);
      return { out, summary: JSON.parse(run.stdout) as { gamesRead: number; answered: number; positions: number; train: number; val: number; source: string } };
    });
    for (const split of ['train', 'val']) expect(exportSplit(runs[1].out, split)).toEqual(exportSplit(runs[0].out, split));
    const { out, summary } = runs[0];
    expect(summary.source).toMatch(new RegExp(`^positions of ${file} labelled by GTP GRhino [\\d.]+ level ${LEVEL}$`));

    // the positions asked for: after at least one move, the model's side to move
    const asked: { game: number; t: number }[] = [];
    games.forEach((g, game) => {
      const board = OthelloBoard.initial();
      g.moves.forEach((name, t) => {
        if (t > 0 && colorToMove(board) === g.modelColor) asked.push({ game, t });
        board.play(parseSquare(name));
      });
    });
    expect(summary).toMatchObject({ gamesRead: 5, answered: asked.length });
    const records = { train: exportSplit(out, 'train'), val: exportSplit(out, 'val') };
    expect(records.train.length + records.val.length).toBe(summary.positions);
    // only an answer that ends the game is left out: one at most a game, where the last square was the model's to fill
    expect(asked.length - summary.positions).toBeLessThanOrEqual(5);

    const engine = await GtpEngine.start(RHINO_PATH, ['--level', LEVEL, '--book', '0']);
    try {
      const splitOf = new Map<number, string>();
      let written = 0;
      for (const { game, t } of asked) {
        const prefix = games[game].moves.slice(0, t);
        const board = OthelloBoard.initial();
        await engine.clearBoard();
        for (const name of prefix) {
          await engine.play(colorToMove(board), parseSquare(name));
          board.play(parseSquare(name));
        }
        const answer = await engine.legalMove(board, prefix.map(parseSquare));
        board.play(answer);
        const expected = [...prefix, squareName(answer)].join(' ');
        const split = records.train.includes(expected) ? 'train' : records.val.includes(expected) ? 'val' : null;
        if (board.isOver()) {
          expect(split, `game ${game}, position ${t}: the answer ends the game`).toBeNull();
          continue;
        }
        expect(split, `game ${game}, position ${t}: ${expected}`).not.toBeNull();
        written++;
        expect(splitOf.get(game) ?? split, `game ${game}'s positions share a split`).toBe(split);
        splitOf.set(game, split!);
      }
      expect(written).toBe(summary.positions);
      expect(new Set(splitOf.values())).toEqual(new Set(['train', 'val']));
    } finally {
      await engine.quit();
    }
  });

  it('labels every position with --side both, and refuses a line without the model\'s side, a bad move and a level out of range, writing nothing', () => {
    const plain = join(root, 'plain.jsonl');
    writeFileSync(plain, games.map((g) => JSON.stringify({ moves: g.moves.slice(0, 10) })).join('\n') + '\n');
    const both = gamba('dataset', 'label-positions', plain, '--side', 'both', '--level', '1', '--out', join(root, 'both'), '--json');
    expect(both.status, both.stderr).toBe(0);
    // positions 1..9 of each 10-move game: no pass can come that early
    expect(JSON.parse(both.stdout)).toMatchObject({ gamesRead: 5, answered: 45, positions: 45 });
    // --plies 3-6: the positions after 3 to 6 moves, each record that prefix and the answer
    const some = gamba('dataset', 'label-positions', plain, '--side', 'both', '--plies', '3-6', '--level', '1', '--out', join(root, 'plies'), '--json');
    expect(some.status, some.stderr).toBe(0);
    const summary = JSON.parse(some.stdout) as { answered: number; positions: number; source: string };
    expect(summary).toMatchObject({ answered: 20, positions: 20 });
    expect(summary.source).toMatch(new RegExp(`^positions of ${plain} after 3-6 moves labelled by GTP GRhino`));
    const lengths = ['train', 'val'].flatMap((split) => exportSplit(join(root, 'plies'), split)).map((r) => r.split(' ').length).sort();
    expect(lengths).toEqual([4, 5, 6, 7].flatMap((n) => Array<number>(5).fill(n)).sort());

    const badMove = join(root, 'bad-move.jsonl');
    writeFileSync(badMove, `${JSON.stringify({ moves: ['f5', 'f5'], modelColor: 'white' })}\n`);
    const badSide = join(root, 'bad-side.jsonl');
    writeFileSync(badSide, `${JSON.stringify({ moves: ['f5'], modelColor: 'black' })}\n${JSON.stringify({ moves: ['f5'], modelColor: 'red' })}\n`);
    const cases: [string[], string][] = [
      [[plain], `gamba: ${plain}:1: --side model needs the modelColor of gamba play's games.jsonl`],
      [[badMove], `gamba: ${badMove}:1: move 2 (f5) is not legal there`],
      [[badSide], `gamba: ${badSide}:2: modelColor "red" is not black or white`],
      [[file, '--level', '6'], 'gamba: --level: expected an integer from 1 to 5, got 6'],
      [[file, '--plies', '0-5'], 'gamba: --plies 0-5: expected a number of moves or a range LO-HI within 1-59, e.g. 1-3'],
      [[plain, '--side', 'both', '--plies', '12-20'], `gamba: ${plain}: no position to label (5 games read, plies 12-20)`],
      [[join(root, 'nope.jsonl')], `gamba: ${join(root, 'nope.jsonl')}: no such JSONL file`],
    ];
    for (const [args, message] of cases) {
      const run = gamba('dataset', 'label-positions', ...args, '--out', join(root, 'refused'));
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(message);
      expect(existsSync(join(root, 'refused'))).toBe(false);
    }
  });
});
