/**
 * `gamba play --game chess` end to end through the compiled CLI, with a small randomly initialised
 * chess checkpoint: a short node-limited match against the npm Stockfish, and a dying engine.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePgn } from '../../games/chess/pgn.js';
import { standardGameOf } from '../../games/chess/standard-game.js';
import { tempDir, writeTinyCheckpoint } from './play-fixtures.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = tempDir('play-chess');
const checkpoint = writeTinyCheckpoint(join(root, 'model'), 'chess');

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('gamba play --game chess', () => {
  it('plays a node-limited match against Stockfish and writes every game as PGN with a summary', () => {
    const out = join(root, 'match');
    const run = gamba('play', '--game', 'chess', '--checkpoint', checkpoint, '--opponent', 'stockfish', '--skill', '0', '--nodes', '200',
      '--games', '2', '--color', 'both', '--seed', '4', '--backend', 'cpu', '--out', out, '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.games).toBe(2);
    expect(summary.wins + summary.draws + summary.losses).toBe(2);
    expect(summary.score).toBe((summary.wins + 0.5 * summary.draws) / 2);
    expect(summary.legalFirstTry).toBeGreaterThanOrEqual(0);
    expect(summary.legalFirstTry).toBeLessThanOrEqual(1);
    expect(summary.engine).toMatchObject({ skill: 0, threads: 1, nodes: 200 });
    expect(summary.engine.name).toMatch(/^Stockfish/);
    expect(summary.elo.opponent).toBe(1320);
    expect(summary.elo.low).toBeLessThanOrEqual(summary.elo.estimate);
    expect(summary.elo.high).toBeGreaterThanOrEqual(summary.elo.estimate);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(summary);

    const games = parsePgn(readFileSync(join(out, 'games.pgn'), 'utf8'));
    expect(games).toHaveLength(2);
    expect(games[0].headers.White).toMatch(/^gamba /);
    expect(games[1].headers.Black).toMatch(/^gamba /);
    expect(games[1].headers.White).toMatch(/^Stockfish .*\(Skill 0, 200 nodes\/move\)/);
    for (const game of games) {
      expect(['1-0', '0-1', '1/2-1/2']).toContain(game.result);
      expect(game.headers.Result).toBe(game.result);
      expect(game.headers.Termination).toBeTruthy();
      // Every move in the PGN was legal (a forfeit ends the game before an illegal move is recorded).
      if (game.moves.length > 0) expect(standardGameOf(game).ok).toBe(true);
    }
    const points = games.map((g, i) => {
      const modelWhite = i === 0;
      return g.result === '1/2-1/2' ? 0.5 : (g.result === '1-0') === modelWhite ? 1 : 0;
    });
    expect(points.reduce((a, b) => a + b, 0) / 2).toBe(summary.score);
  });

  it('reports a dead engine in one line and keeps the games finished before it', () => {
    const out = join(root, 'dying');
    const run = gamba('play', '--game', 'chess', '--checkpoint', checkpoint, '--engine', 'test/fixtures/chess/dying-engine.mjs', '--nodes', '10',
      '--games', '3', '--backend', 'cpu', '--out', out);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^gamba: engine test\/fixtures\/chess\/dying-engine\.mjs exited with code 3 while gamba waited for 'readyok'; its stderr ended: test engine: giving up \(the 1 finished games are in .*games\.pgn\)/);
    expect(parsePgn(readFileSync(join(out, 'games.pgn'), 'utf8'))).toHaveLength(1);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.games).toBe(1);
    expect(summary.error).toMatch(/exited with code 3/);
  });

  it('refuses flags of the other game and a model of the wrong game', () => {
    const level = gamba('play', '--game', 'chess', '--checkpoint', checkpoint, '--level', '2');
    expect(level.status).toBe(2);
    expect(level.stderr).toMatch(/--level: only for --game othello/);
    const wrong = gamba('play', '--game', 'othello', '--checkpoint', checkpoint);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/config\.json: a chess model, not othello/);
    const both = gamba('play', '--game', 'chess', '--checkpoint', checkpoint, '--nodes', '5', '--movetime', '5');
    expect(both.stderr).toMatch(/give one engine limit, not both/);
  });

  it('refuses engine settings out of range before the output directory is made', () => {
    const refused: [string[], string][] = [
      [['--skill', '30'], 'gamba: --skill: expected an integer from 0 to 20, got 30'],
      [['--threads', '0'], 'gamba: --threads: expected an integer from 1 to 1024, got 0'],
      [['--nodes', '5', '--movetime', '5'], 'gamba: --movetime and --nodes: give one engine limit, not both'],
    ];
    for (const [args, message] of refused) {
      const out = join(root, 'refused');
      const run = gamba('play', '--game', 'chess', '--checkpoint', checkpoint, ...args, '--out', out);
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(message);
      expect(existsSync(out)).toBe(false);
    }
  });
});
