/**
 * The Othello agent shipped in models/othello-agent (othello-base fine-tuned on engine games, see its
 * README): it loads on the cpu backend from a fresh clone, every game of its matches replays to the
 * result recorded, the README's scores are those of the games, and it plays the recorded games again.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { parseSquare } from '../../games/othello/notation.js';
import { RHINO_PATH } from '../../games/othello/gtp.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { expectFp16Weights, expectShippedModel, readJson, readJsonl, readmeRow } from './shipped-tables.js';

const MODEL = 'models/othello-agent';
const MATCHES = join(MODEL, 'matches');
const root = mkdtempSync(join(tmpdir(), 'gamba-othello-agent-'));

interface Game { index: number; modelColor: string; moves: string[]; result: string; termination: string; counts: { black: number; white: number }; modelPoints: number }
interface Summary { games: number; wins: number; draws: number; losses: number; score: number; openingMoves?: number; model: { checkpoint: string; symmetries?: boolean } }

/** A match's directories: one per seed (`seed-N`), or the match itself. */
const runsOf = (match: string): string[] => {
  const dir = join(MATCHES, match);
  return existsSync(join(dir, 'summary.json')) ? [dir] : readdirSync(dir).filter((d) => d.startsWith('seed-')).map((d) => join(dir, d));
};
const readGames = (dir: string): Game[] => readJsonl(dir, 'games.jsonl') as Game[];
const readSummary = (dir: string): Summary => readJson(dir, 'summary.json') as Summary;

/** A README cell: `0.9025 (361-0-39)`, the score to four decimals and wins-draws-losses. */
function cellOf(runs: string[]): string {
  const totals = runs.map(readSummary).reduce((a, s) => ({ wins: a.wins + s.wins, draws: a.draws + s.draws, losses: a.losses + s.losses }), { wins: 0, draws: 0, losses: 0 });
  const games = totals.wins + totals.draws + totals.losses;
  const score = Math.round((10000 * (totals.wins + totals.draws / 2)) / games) / 10000;
  return `${String(score)} (${totals.wins}-${totals.draws}-${totals.losses})`;
}

const MATCH_ROWS: [string, string | null, string][] = [
  ['greedy', 'greedy', 'greedy-symmetries'],
  ['gtp-rhino level 1', 'rhino1', 'rhino1-symmetries'],
  ['greedy, 4 drawn moves', 'open4-greedy', 'open4-greedy-symmetries'],
  ['gtp-rhino level 1, 4 drawn moves', 'open4-rhino1', 'open4-rhino1-symmetries'],
  ['gtp-rhino level 2', null, 'rhino2-symmetries'],
];

beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the shipped Othello agent', () => {
  it('is the othello-base preset in fp16, its hashes checked on load', () => {
    expectShippedModel(MODEL, 'othello', 'othello-base', 3_520_000);
    expectFp16Weights(MODEL, 3_520_000);
  });

  it('replays every game of its matches to the result recorded, and each summary adds up its games', () => {
    for (const [, one, four] of MATCH_ROWS) {
      for (const match of [one, four]) {
        if (match === null) continue;
        for (const dir of runsOf(match)) {
          const games = readGames(dir);
          const summary = readSummary(dir);
          expect(summary.model.checkpoint).toBe(MODEL);
          expect(Boolean(summary.model.symmetries), dir).toBe(match.endsWith('-symmetries'));
          expect(summary.openingMoves, dir).toBe(match.startsWith('open4') ? 4 : undefined);
          for (const game of games) {
            const board = OthelloBoard.initial();
            for (const move of game.moves) board.play(parseSquare(move));
            expect(board.isOver(), `${dir} game ${game.index}`).toBe(true);
            const winner = board.winner();
            expect(game.result).toBe(winner === null ? 'draw' : winner === 0 ? 'black' : 'white');
            expect(game.counts).toEqual(board.counts());
            expect(game.modelPoints).toBe(game.result === 'draw' ? 0.5 : game.result === game.modelColor ? 1 : 0);
          }
          expect(summary.games).toBe(games.length);
          expect(summary.wins).toBe(games.filter((g) => g.modelPoints === 1).length);
          expect(summary.draws).toBe(games.filter((g) => g.modelPoints === 0.5).length);
        }
      }
    }
  });

  it('has the README\'s scores, 400 games a cell (100 against level 2)', () => {
    for (const [first, one, four] of MATCH_ROWS) {
      const row = readmeRow(MODEL, first);
      if (one) expect(row[2]).toBe(cellOf(runsOf(one)));
      expect(row[3].replace(/\*/g, '')).toBe(cellOf(runsOf(four)));
      const games = runsOf(four).map(readSummary).reduce((a, s) => a + s.games, 0);
      expect(games).toBe(first.endsWith('level 2') ? 100 : 400);
    }
  });

  it('plays the first games of its greedy matches again, one view and four, move for move', () => {
    for (const [match, flags] of [['greedy', []], ['greedy-symmetries', ['--symmetries']]] as const) {
      const recorded = readGames(join(MATCHES, match, 'seed-1')).slice(0, 4);
      const run = gamba('play', '--game', 'othello', '--checkpoint', MODEL, '--opponent', 'greedy', '--games', '4', '--seed', '1', ...flags,
        '--backend', 'cpu', '--out', join(root, match), '--json');
      expect(run.status, run.stderr).toBe(0);
      expect(readGames(join(root, match)).map((g) => g.moves)).toEqual(recorded.map((g) => g.moves));
    }
  });

  it.skipIf(!existsSync(RHINO_PATH))('plays two whole games against gtp-rhino level 1', () => {
    const out = join(root, 'rhino');
    const run = gamba('play', '--game', 'othello', '--checkpoint', MODEL, '--opponent', 'rhino', '--games', '2', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ games: 2, forfeits: 0 });
    for (const game of readGames(out)) expect(game.termination).toBe('finished');
  });
});
