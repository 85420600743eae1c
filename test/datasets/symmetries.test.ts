/**
 * Othello's opening symmetries (games/othello/symmetry.ts) and `gamba dataset symmetries`
 * (datasets/symmetries.ts): exactly four of the board's eight symmetries keep the opening position; every
 * image of a real game replays legally, move for move the image of the game's own positions, with the
 * same passes and winner; the command writes each train game and its three images, copies the held-out
 * games byte for byte, and refuses a chess dataset or an existing output, writing nothing.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addSymmetricImages } from '../../datasets/symmetries.js';
import { openDataset } from '../../datasets/reader.js';
import { OthelloBoard } from '../../games/othello/board.js';
import { gameLength } from '../../games/othello/labels.js';
import { squareOfToken, VOCAB_SIZE } from '../../games/othello/notation.js';
import { OPENING_SYMMETRIES, SYMMETRY_TOKEN_MAPS, withSymmetricImages } from '../../games/othello/symmetry.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { RECORD_LENGTH, tempDir, writeChessDataset } from './synthetic-records.js';

const SAMPLES = 'datasets/samples/othello';
const root = tempDir('symmetries');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The board's eight symmetries as square maps, rows and columns 0..7. */
const DIHEDRAL: ((r: number, c: number) => [number, number])[] = [
  (r, c) => [r, c], (r, c) => [c, 7 - r], (r, c) => [7 - r, 7 - c], (r, c) => [7 - c, r],
  (r, c) => [r, 7 - c], (r, c) => [7 - r, c], (r, c) => [c, r], (r, c) => [7 - c, 7 - r],
];
const cells = (board: OthelloBoard) => Array.from({ length: 64 }, (_, sq) => board.cellAt(sq));
const image = (board: number[], map: (r: number, c: number) => [number, number]) => {
  const out = new Array<number>(64);
  for (let sq = 0; sq < 64; sq++) {
    const [r, c] = map(sq >> 3, sq & 7);
    out[r * 8 + c] = board[sq];
  }
  return out;
};

describe('the opening symmetries of Othello', () => {
  it('are the four of the eight board symmetries that keep the opening position, each a bijection of the move tokens', () => {
    const opening = cells(OthelloBoard.initial());
    const keeping = DIHEDRAL.filter((map) => image(opening, map).every((v, sq) => v === opening[sq]));
    expect(keeping.length).toBe(4);
    expect(OPENING_SYMMETRIES.length).toBe(4);
    for (const { square } of OPENING_SYMMETRIES) expect(image(opening, square)).toEqual(opening);
    const maps = SYMMETRY_TOKEN_MAPS.map((m) => Array.from(m));
    expect(new Set(maps.map((m) => m.join())).size).toBe(4);
    for (const map of maps) {
      expect(map[0]).toBe(0);
      expect(new Set(map.slice(1))).toEqual(new Set(Array.from({ length: VOCAB_SIZE - 1 }, (_, i) => i + 1)));
    }
    expect(maps[0]).toEqual(Array.from({ length: VOCAB_SIZE }, (_, i) => i));
  });

  it('turn real games into legal games whose every position is the image of the game\'s, with the same winner', () => {
    const dataset = openDataset(SAMPLES);
    const games = 200;
    const records = dataset.readGames('val', 0, games);
    dataset.close();
    const all = withSymmetricImages(records, RECORD_LENGTH);
    expect(all.length).toBe(4 * records.length);
    for (let g = 0; g < games; g++) {
      const game = records.subarray(g * RECORD_LENGTH, (g + 1) * RECORD_LENGTH);
      const n = gameLength(game);
      const original = OthelloBoard.initial();
      const boards = OPENING_SYMMETRIES.map(() => OthelloBoard.initial());
      for (let t = 0; t < n; t++) {
        original.play(squareOfToken(game[t]));
        boards.forEach((board, s) => {
          const token = all[(g * 4 + s) * RECORD_LENGTH + t];
          board.play(squareOfToken(token)); // throws on an illegal move
          expect(board.toMove).toBe(original.toMove);
          if (t === n - 1 || t % 15 === 0) expect(cells(board)).toEqual(image(cells(original), OPENING_SYMMETRIES[s].square));
        });
      }
      boards.forEach((board, s) => {
        expect(board.isOver()).toBe(true);
        expect(board.winner()).toBe(original.winner());
        expect(gameLength(all.subarray((g * 4 + s) * RECORD_LENGTH, (g * 4 + s + 1) * RECORD_LENGTH))).toBe(n);
      });
      expect(all.subarray(g * 4 * RECORD_LENGTH, (g * 4 + 1) * RECORD_LENGTH)).toEqual(game);
    }
  });
});

describe('gamba dataset symmetries', () => {
  it('writes every train game followed by its three images and copies the held-out games byte for byte', async () => {
    const out = join(root, 'samples-x4');
    const manifest = await addSymmetricImages(SAMPLES, out, false);
    const input = openDataset(SAMPLES);
    const written = openDataset(out);
    const train = input.count('train');
    const val = input.count('val');
    expect(manifest.counts).toEqual({ train: 4 * train, val });
    expect(manifest.valFraction).toBeCloseTo(val / (4 * train + val), 12);
    expect(manifest.source).toMatch(/^datasets\/samples\/othello \(uniform-random, seed \d+, 20000 games\) with each train game's 3 symmetric images$/);
    expect(written.readGames('val', 0, val)).toEqual(input.readGames('val', 0, val));
    for (const start of [0, 777, train - 5]) {
      expect(written.readGames('train', 4 * start, 20)).toEqual(withSymmetricImages(input.readGames('train', start, 5), RECORD_LENGTH));
    }
    input.close();
    written.close();
  });

  it('is a command that refuses a chess dataset and an existing output, naming them, and writes nothing', async () => {
    requireBuiltCli();
    const chess = join(root, 'chess');
    writeChessDataset(chess);
    const refused = gamba('dataset', 'symmetries', chess, '--out', join(root, 'chess-x4'));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(`${chess}: a chess dataset: only Othello games have board symmetries`);
    expect(existsSync(join(root, 'chess-x4'))).toBe(false);
    const out = join(root, 'samples-x4');
    const again = gamba('dataset', 'symmetries', SAMPLES, '--out', out, '--json');
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already exists \(use --force/);
  });
});
