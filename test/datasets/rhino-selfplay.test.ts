/**
 * `gamba generate othello --source rhino`: gtp-rhino self-play at levels drawn per game. The games are
 * legal Othello to the end, differ from each other, and are the same bytes for the same seed whatever
 * the number of engine slots and of the threads they run on; a run cut by --minutes or stopped by SIGTERM writes the first games of the full run;
 * the manifest names the engine and the levels; with --against one side of every game is that opponent
 * (greedy plays the most flipping move); --opening-moves sets the random moves before the engines play and --book
 * gtp-rhino's book variation; bad flags and a dead engine are refused in one line with nothing half-written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { RHINO_PATH } from '../../games/othello/gtp.js';
import { parseSquare } from '../../games/othello/notation.js';
import { selfPlayThreads } from '../../datasets/engine-selfplay.js';
import { othelloSelfPlaySettings } from '../../datasets/generate-othello-selfplay.js';
import { gamba, gambaPath } from '../cli-runner.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-rhino-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!existsSync(RHINO_PATH))(`generate othello --source rhino${existsSync(RHINO_PATH) ? '' : ` (skipped: no ${RHINO_PATH})`}`, () => {
  it('plays whole legal games, the same bytes for the same seed on one, two or five engine slots (on worker threads, one a slot up to one a core)', () => {
    const texts = ['1', '2', '5'].map((workers) => {
      const out = join(root, `w${workers}`);
      const run = gamba('generate', 'othello', '--source', 'rhino', '--games', '6', '--seed', '3', '--levels', '1-2', '--val-fraction', '0.3', '--workers', workers, '--out', out, '--json');
      expect(run.stderr).not.toMatch(/^gamba:/m);
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({
        game: 'othello', games: 6, engines: Number(workers), threads: selfPlayThreads(Number(workers), availableParallelism()),
        source: expect.stringMatching(/^rhino-selfplay \(GTP GRhino [\d.]+, levels 1-2\)$/),
      });
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
      expect(manifest.counts.train + manifest.counts.val).toBe(6);
      return ['train', 'val'].map((split) => gamba('dataset', 'export', out, '--format', 'text', '--split', split).stdout).join('');
    });
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    const games = texts[0].trim().split('\n');
    expect(new Set(games).size).toBe(6);
    for (const game of games) {
      const board = OthelloBoard.initial();
      for (const square of game.split(' ')) board.play(parseSquare(square));
      expect(board.isOver()).toBe(true);
    }
    // Each side's level is drawn from the range asked for.
    for (let i = 0; i < 50; i++) {
      const s = othelloSelfPlaySettings(3, i, 0.3, { levels: [2, 4] });
      expect([s.black, s.white].every((l) => l >= 2 && l <= 4)).toBe(true);
      expect(s.openingMoves).toBeGreaterThanOrEqual(1);
    }
  });

  it('--against: one side of every game is the opponent, greedy flipping the most discs, the other side drawn as without it', () => {
    for (let i = 0; i < 50; i++) {
      const plain = othelloSelfPlaySettings(9, i, 0.2, { levels: [2, 3] });
      const against = othelloSelfPlaySettings(9, i, 0.2, { levels: [2, 3], against: 'greedy' });
      expect([against.split, against.openingMoves]).toEqual([plain.split, plain.openingMoves]);
      // The drawn side keeps the level it had on its colour; the other colour is greedy's.
      if (against.black === 'greedy') expect(against.white).toBe(plain.white);
      else expect([against.black, against.white]).toEqual([plain.black, 'greedy']);
    }
    const colours = Array.from({ length: 50 }, (_, i) => othelloSelfPlaySettings(9, i, 0.2, { levels: [2, 3], against: 1 }).black === 1);
    expect(colours).toContain(true);
    expect(colours).toContain(false);

    const out = join(root, 'against');
    const run = gamba('generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--against', 'greedy', '--games', '8', '--seed', '6', '--val-fraction', '0', '--workers', '2', '--out', out, '--json');
    expect(run.stderr).not.toMatch(/^gamba:/m);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).source).toMatch(/^rhino-selfplay \(GTP GRhino [\d.]+, levels 1-1 against greedy\)$/);
    const games = gamba('dataset', 'export', out, '--format', 'text', '--split', 'train').stdout.trim().split('\n');
    expect(games).toHaveLength(8);
    let greedyMoves = 0;
    games.forEach((game, index) => {
      const settings = othelloSelfPlaySettings(6, index, 0, { levels: [1, 1], against: 'greedy' });
      const greedyColor = settings.black === 'greedy' ? 0 : 1;
      const board = OthelloBoard.initial();
      game.split(' ').forEach((name, ply) => {
        const square = parseSquare(name);
        if (ply >= settings.openingMoves && board.toMove === greedyColor) {
          greedyMoves++;
          expect(board.flipCount(square)).toBe(Math.max(...board.legalMoves().map((sq) => board.flipCount(sq))));
        }
        board.play(square);
      });
      expect(board.isOver()).toBe(true);
    });
    expect(greedyMoves).toBeGreaterThan(8 * 10);
  });

  it('--opening-moves 1 lets the engines open; --book turns gtp-rhino\'s book variation on, as play meets it', () => {
    for (let i = 0; i < 50; i++) {
      // The default range keeps the draws (and bytes) of the games made before the flag.
      expect(othelloSelfPlaySettings(9, i, 0.2, { openingMoves: [1, 8] })).toEqual(othelloSelfPlaySettings(9, i, 0.2));
      const s = othelloSelfPlaySettings(9, i, 0.2, { openingMoves: [2, 3] });
      expect(s.openingMoves === 2 || s.openingMoves === 3).toBe(true);
      expect(othelloSelfPlaySettings(9, i, 0.2, { openingMoves: [1, 1] }).openingMoves).toBe(1);
    }
    let runs = 0;
    const games = (book: string, seed: string) => {
      const out = join(root, `book${book}-${seed}-${runs++}`);
      const run = gamba('generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--opening-moves', '1', '--book', book, '--games', '24', '--seed', seed, '--val-fraction', '0', '--workers', '2', '--out', out, '--json');
      expect(run.stderr).not.toMatch(/^gamba:/m);
      expect(run.status).toBe(0);
      const source = JSON.parse(run.stdout).source as string;
      const texts = gamba('dataset', 'export', out, '--format', 'text', '--split', 'train').stdout.trim().split('\n');
      return { source, texts, firstMoves: new Set(texts.map((t) => t.split(' ')[0])).size, distinct: new Set(texts).size };
    };
    // Without variation, level 1 against itself after one random move plays one game per first move, the same bytes again.
    const fixed = games('0', '1');
    expect(fixed.source).toMatch(/^rhino-selfplay \(GTP GRhino [\d.]+, levels 1-1, 1-1 random opening moves\)$/);
    expect(fixed.distinct).toBe(fixed.firstMoves);
    expect(games('0', '1').texts).toEqual(fixed.texts);
    // With the book's variation the same first move opens in several ways.
    const varied = games('2', '1');
    expect(varied.source).toMatch(/^rhino-selfplay \(GTP GRhino [\d.]+, levels 1-1, 1-1 random opening moves, book variation 2\)$/);
    expect(varied.distinct).toBeGreaterThan(varied.firstMoves);
  });

  it('starts no game after --minutes: the games written are the first games of the full run, the same bytes', () => {
    const out = join(root, 'minutes');
    const run = gamba('generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--games', '100000', '--seed', '4', '--workers', '2', '--minutes', '0.02', '--out', out, '--json');
    expect(run.stderr).not.toMatch(/^gamba:/m);
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout) as { games: number; asked: number; timedOut: boolean; train: number; val: number };
    expect(summary).toMatchObject({ asked: 100000, timedOut: true });
    expect(summary.games).toBeGreaterThan(0);
    expect(summary.games).toBeLessThan(100000);
    expect(summary.train + summary.val).toBe(summary.games);
    const full = join(root, 'minutes-full');
    expect(gamba('generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--games', String(summary.games), '--seed', '4', '--workers', '1', '--out', full).status).toBe(0);
    const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { shards: { file: string }[] };
    expect(manifest(out)).toEqual(manifest(full));
    for (const { file } of manifest(out).shards) expect(readFileSync(join(out, file)).equals(readFileSync(join(full, file)))).toBe(true);
  });

  it('keeps the games finished when SIGTERM stops the run: the first games of the full run, exit 143', async () => {
    const out = join(root, 'stopped');
    const child = spawn(process.execPath, [gambaPath, 'generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--games', '100000', '--seed', '5', '--workers', '2', '--out', out, '--json']);
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    const summary = JSON.parse(stdout) as { games: number; asked: number; interrupted: string };
    expect(summary).toMatchObject({ asked: 100000, interrupted: 'SIGTERM' });
    expect(summary.games).toBeGreaterThan(0);
    const full = join(root, 'stopped-full');
    expect(gamba('generate', 'othello', '--source', 'rhino', '--levels', '1-1', '--games', String(summary.games), '--seed', '5', '--workers', '1', '--out', full).status).toBe(0);
    const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { shards: { file: string }[] };
    expect(manifest(out)).toEqual(manifest(full));
    for (const { file } of manifest(out).shards) expect(readFileSync(join(out, file)).equals(readFileSync(join(full, file)))).toBe(true);
  });

  it('refuses rhino for chess, levels out of range or without rhino, and a dead engine, keeping nothing', () => {
    const cases: [string[], string][] = [
      [['chess', '--source', 'rhino'], 'gamba: --source rhino: only for othello (chess has --source random and stockfish)\n'],
      [['othello', '--source', 'rhino', '--levels', '2-6'], 'gamba: --levels 2-6: expected a level or a range LO-HI within 1-5, e.g. 1-3\n'],
      [['othello', '--levels', '2'], 'gamba: --levels: only with --source rhino\n'],
      [['othello', '--against', 'greedy'], 'gamba: --against: only with --source rhino\n'],
      [['othello', '--source', 'rhino', '--against', '6'], 'gamba: --against 6: expected greedy or a gtp-rhino level from 1 to 5\n'],
      [['othello', '--source', 'rhino', '--against', 'random'], 'gamba: --against random: expected greedy or a gtp-rhino level from 1 to 5\n'],
      [['othello', '--source', 'rhino', '--minutes', '0'], 'gamba: --minutes: expected a number > 0, got 0\n'],
      [['othello', '--minutes', '1'], 'gamba: --minutes: only with --source stockfish or rhino\n'],
      [['othello', '--book', '2'], 'gamba: --book: only with --source rhino\n'],
      [['othello', '--opening-moves', '1'], 'gamba: --opening-moves: only with --source rhino\n'],
      [['othello', '--source', 'rhino', '--book', '6'], 'gamba: --book: expected an integer from 0 to 5, got 6\n'],
      [['othello', '--source', 'rhino', '--opening-moves', '0-2'], 'gamba: --opening-moves 0-2: expected a number or a range LO-HI within 1-20, e.g. 1-3\n'],
    ];
    for (const [args, message] of cases) {
      const run = gamba('generate', ...args, '--games', '1', '--seed', '1', '--out', join(root, 'bad'));
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(message);
    }
    const dead = gamba('generate', 'othello', '--source', 'rhino', '--engine', '/bin/true', '--games', '1', '--seed', '1', '--out', join(root, 'dead'));
    expect(dead.status).toBe(2);
    expect(dead.stderr.trim().split('\n')).toHaveLength(1);
    expect(dead.stderr).toMatch(/^gamba: .*\/bin\/true/);
    expect(existsSync(join(root, 'dead'))).toBe(false);
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});
