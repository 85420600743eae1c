/** `gamba play --game othello` against gtp-rhino and the simple players, with a small random checkpoint. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { parseSquare } from '../../games/othello/notation.js';
import { RHINO_PATH } from '../../games/othello/gtp.js';
import { tempDir, writeTinyCheckpoint } from './play-fixtures.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = tempDir('play-othello');
const checkpoint = writeTinyCheckpoint(join(root, 'model'), 'othello');

/** The games of a match replayed on the real board: legal, and the recorded result is the real one. */
function checkGames(file: string): { index: number; modelColor: string; result: string; termination: string; moves: string[]; illegalMoves: number }[] {
  const games = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const game of games) {
    const board = OthelloBoard.initial();
    for (const move of game.moves) board.play(parseSquare(move));
    if (game.termination === 'finished') {
      expect(board.isOver()).toBe(true);
      const winner = board.winner();
      expect(game.result).toBe(winner === null ? 'draw' : winner === 0 ? 'black' : 'white');
      expect(game.counts).toEqual(board.counts());
    } else {
      expect(game.result).not.toBe(game.modelColor);
    }
  }
  return games;
}

/** The colour that played move t of a game (passes are silent, so found by replay). */
function colorAt(moves: string[], t: number): string {
  const board = OthelloBoard.initial();
  for (const move of moves.slice(0, t)) board.play(parseSquare(move));
  return board.toMove === 0 ? 'black' : 'white';
}

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('gamba play --game othello', () => {
  it.skipIf(!existsSync(RHINO_PATH)).each(['1', '3'])('plays whole games against gtp-rhino (passes included) and sums them up, %s at once', (parallel) => {
    const out = join(root, `rhino-${parallel}`);
    const run = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'rhino', '--games', '6', '--temperature', '1',
      '--backend', 'cpu', '--parallel', parallel, '--out', out, '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ games: 6, mode: 'legal-only', illegalRate: 0, forfeits: 0 });
    expect(summary.opponent.engine).toMatch(/GRhino/);
    const games = checkGames(join(out, 'games.jsonl'));
    // Written in game order whatever the slot that finished first.
    expect(games.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(games.map((g) => g.modelColor)).toEqual(['black', 'white', 'black', 'white', 'black', 'white']);
    // Forced passes happened and rhino's board followed them (it would have refused a move otherwise).
    let passes = 0;
    for (const game of games) {
      const board = OthelloBoard.initial();
      for (const move of game.moves) {
        const mover = board.toMove;
        board.play(parseSquare(move));
        if (!board.isOver() && board.toMove === mover) passes++;
      }
    }
    expect(passes).toBeGreaterThan(0);
    const points = games.map((g) => (g.result === 'draw' ? 0.5 : g.result === g.modelColor ? 1 : 0));
    expect(summary.wins).toBe(points.filter((p) => p === 1).length);
    expect(summary.score).toBeCloseTo(points.reduce((a, b) => a + b, 0) / 6, 4);
  });

  it('reports the illegal rate when the model may pick any token (--unrestricted)', () => {
    const out = join(root, 'unrestricted');
    const run = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'greedy', '--games', '8', '--unrestricted',
      '--temperature', '1', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    const games = checkGames(join(out, 'games.jsonl'));
    const illegal = games.reduce((a, g) => a + g.illegalMoves, 0);
    expect(summary.mode).toBe('unrestricted');
    expect(summary.forfeits).toBe(illegal);
    // A random model over 61 tokens errs often: some games must be forfeited.
    expect(illegal).toBeGreaterThan(0);
    expect(summary.illegalRate).toBeCloseTo(illegal / summary.modelMoves, 4);
  });

  it('draws both sides\' first moves from the seed with --opening-moves, the same against every opponent', () => {
    const opponents = existsSync(RHINO_PATH) ? ['greedy', 'random', 'rhino'] : ['greedy', 'random'];
    const played = opponents.map((opponent) => {
      const out = join(root, `opening-${opponent}`);
      const run = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', opponent, '--games', '8', '--opening-moves', '6',
        '--seed', '4', '--backend', 'cpu', '--out', out, '--json');
      expect(run.status, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout);
      expect(summary.openingMoves).toBe(6);
      const games = checkGames(join(out, 'games.jsonl'));
      // the model's moves are those after the drawn ones
      const modelMoves = games.reduce((sum, g) => sum + g.moves.filter((_, t) => t >= 6 && colorAt(g.moves, t) === g.modelColor).length, 0);
      expect(summary.modelMoves).toBe(modelMoves);
      return games.map((g) => g.moves.slice(0, 6).join(' '));
    });
    for (const openings of played.slice(1)) expect(openings).toEqual(played[0]);
    // a model at temperature 0 meets as many openings as games
    expect(new Set(played[0]).size).toBe(8);
    const plain = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'greedy', '--games', '8', '--seed', '4', '--backend', 'cpu', '--out', join(root, 'opening-none'), '--json');
    expect(JSON.parse(plain.stdout).openingMoves).toBeUndefined();
    const refused: [string[], string][] = [
      [['--game', 'othello', '--opening-moves', '21'], 'gamba: --opening-moves: expected an integer from 0 to 20, got 21'],
      [['--game', 'chess', '--opening-moves', '2'], 'gamba: --opening-moves: only for --game othello'],
      [['--game', 'othello', '--opponent', 'rhino', '--level', '9'], 'gamba: --level: expected an integer from 1 to 5, got 9'],
      [['--game', 'othello', '--legal-only', '--unrestricted'], 'gamba: --legal-only and --unrestricted: choose one'],
    ];
    for (const [args, message] of refused) {
      const run = gamba('play', ...args, '--checkpoint', checkpoint, '--out', join(root, 'opening-refused'));
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(message);
      expect(existsSync(join(root, 'opening-refused'))).toBe(false);
    }
  });

  it('refuses --parallel without an engine to play against, and a count below 1', () => {
    const greedy = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'greedy', '--parallel', '2', '--out', join(root, 'no-engine'));
    expect(greedy.status).toBe(2);
    expect(greedy.stderr).toBe('gamba: --parallel: only against an engine (stockfish, rhino); greedy plays one game at a time\n');
    const zero = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', 'rhino', '--parallel', '0', '--out', join(root, 'zero'));
    expect(zero.stderr).toBe('gamba: --parallel: expected an integer from 1 to 256, got 0\n');
    expect(existsSync(join(root, 'no-engine'))).toBe(false);
    expect(existsSync(join(root, 'zero'))).toBe(false);
  });
});
