/**
 * Chess datasets through the compiled CLI (`npx tsc -p .` first; `npm test` does it): PGN import with
 * its skip counts, text export, random and engine self-play generation, and the batches' padding.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Chess } from 'chess.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchStream } from '../../../datasets/batches.js';
import { selfPlayThreads } from '../../../datasets/engine-selfplay.js';
import { nodeExponents, selfPlaySettings } from '../../../datasets/generate-chess-selfplay.js';
import { openDataset } from '../../../datasets/reader.js';
import { replayGameString } from '../../../games/chess/game-string.js';
import { CHESS_CHARS } from '../../../games/chess/vocabulary.js';
import { gamba, requireBuiltCli } from '../../cli-runner.js';

const root = mkdtempSync(join(tmpdir(), 'gamba-chess-cli-'));
const FIXTURE = 'test/fixtures/chess/mixed.pgn';

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('gamba dataset import-pgn', () => {
  const out = join(root, 'imported');

  it('imports the standard games and counts every skipped one by reason', () => {
    const run = gamba('dataset', 'import-pgn', FIXTURE, '--out', out, '--val-fraction', '0', '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      imported: 5,
      skipped: 9,
      reasons: { 'fen-setup': 1, variant: 2, 'illegal-move': 1, 'null-move': 1, 'nonstandard-notation': 1, unparsable: 2, 'no-moves': 1 },
      truncated: 0,
      train: 5,
      val: 0,
    });
    expect(summary.examples['null-move']).toMatch(/mixed\.pgn:55: ply 2: "--"/);
  });

  it('exports one legal game string per line (--format text)', () => {
    const run = gamba('dataset', 'export', out, '--format', 'text');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(';1.e4 e5 2.Bc4 Nc6 3.Qh5 Nf6 4.Qxf7#');
    expect(lines[2]).toBe(';1.e4 e5 2.Qh5 Nc6 3.Bc4 Nf6 4.Qxf7#');
    expect(lines[3]).toBe(';1.f3 e5 2.g4 Qh4#');
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(() => replayGameString(line)).not.toThrow();
    const jsonl = gamba('dataset', 'export', out, '--limit', '1');
    expect(JSON.parse(jsonl.stdout)).toEqual({ moves: ['e4', 'e5', 'Bc4', 'Nc6', 'Qh5', 'Nf6', 'Qxf7#'] });
  });

  it('ignores only the trailing padding in batches, not the spaces between moves', () => {
    const dataset = openDataset(out);
    expect(dataset.manifest).toMatchObject({ game: 'chess', vocabSize: 32, recordLength: 1024, padToken: 0, padMode: 'trailing' });
    const stream = new BatchStream(dataset, 'train', 5, 1);
    const { inputs, targets, length } = stream.next();
    expect(length).toBe(1023);
    for (let b = 0; b < 5; b++) {
      const row = Array.from(inputs.subarray(b * length, (b + 1) * length)).map((t) => CHESS_CHARS[t]).join('');
      const game = row.trimEnd();
      expect(game.startsWith(';1.')).toBe(true);
      const t = targets.subarray(b * length, (b + 1) * length);
      // Targets are the game's next characters (spaces included) up to its end, then -1.
      for (let i = 0; i < game.length - 1; i++) expect(CHESS_CHARS[t[i]]).toBe(game[i + 1]);
      expect(Array.from(t.subarray(game.length - 1)).every((x) => x === -1)).toBe(true);
      expect(Array.from(t.subarray(0, game.length - 1)).filter((x) => x === 0).length).toBe(game.split(' ').length - 1);
    }
    dataset.close();
  });

  it('reads gzip and stdin, and refuses missing files and PGN without a standard game', () => {
    const missing = gamba('dataset', 'import-pgn', join(root, 'nope.pgn'), '--out', join(root, 'x'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^gamba: .*nope\.pgn: no such PGN file\n$/);
    const variantsOnly = join(root, 'variants.pgn');
    writeFileSync(variantsOnly, '[Variant "Atomic"]\n\n1. e4 e5 *\n');
    const none = gamba('dataset', 'import-pgn', variantsOnly, '--out', join(root, 'y'));
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no standard chess game to import \(1 games read; skipped: variant 1\)/);
    expect(existsSync(join(root, 'y'))).toBe(false);
    const stdin = spawnSync(process.execPath, ['bin/gamba.js', 'dataset', 'import-pgn', '/dev/stdin', '--out', join(root, 'z'), '--json'], {
      input: '[Event "a"]\n\n1. d4 d5 2. c4 *\n',
      encoding: 'utf8',
    });
    expect(JSON.parse(stdin.stdout)).toMatchObject({ imported: 1, skipped: 0 });
    const gz = join(root, 'mixed.pgn.gz');
    writeFileSync(gz, gzipSync(readFileSync(FIXTURE)));
    expect(JSON.parse(gamba('dataset', 'import-pgn', gz, '--out', join(root, 'gz'), '--json').stdout)).toMatchObject({ imported: 5, skipped: 9 });
  });
});

describe('gamba generate chess', () => {
  it('--source random writes legal random games, the same for the same seed', () => {
    const a = join(root, 'random-a');
    const b = join(root, 'random-b');
    expect(gamba('generate', 'chess', '--games', '6', '--seed', '3', '--out', a, '--json').status).toBe(0);
    expect(gamba('generate', 'chess', '--games', '6', '--seed', '3', '--out', b, '--workers', '1').status).toBe(0);
    const textA = gamba('dataset', 'export', a, '--format', 'text').stdout;
    expect(textA).toBe(gamba('dataset', 'export', b, '--format', 'text').stdout);
    for (const line of textA.trim().split('\n')) expect(() => replayGameString(line)).not.toThrow();
  });

  it.skipIf(!existsSync('/usr/games/stockfish'))('--source stockfish plays engine games on several processes', () => {
    const out = join(root, 'selfplay');
    const run = gamba('generate', 'chess', '--source', 'stockfish', '--engine', '/usr/games/stockfish', '--games', '3', '--seed', '1', '--workers', '2', '--out', out, '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ games: 3, engines: 2, source: 'stockfish-selfplay (Stockfish 15.1, nodes 100-31623, skills 0-20)' });
    const lines = gamba('dataset', 'export', out, '--format', 'text', '--split', 'train').stdout.trim().split('\n');
    for (const line of lines) expect(replayGameString(line).history().length).toBeGreaterThan(8);
  });

  it.skipIf(!existsSync('/usr/games/stockfish'))('--source stockfish opens each game with the random moves its seed draws', () => {
    const out = join(root, 'selfplay-openings');
    expect(gamba('generate', 'chess', '--source', 'stockfish', '--engine', '/usr/games/stockfish', '--games', '6', '--seed', '5', '--workers', '2', '--out', out).status).toBe(0);
    const bySplit = { train: [] as string[], val: [] as string[] };
    for (const split of ['train', 'val'] as const) {
      const text = gamba('dataset', 'export', out, '--format', 'text', '--split', split).stdout.trim();
      bySplit[split] = text === '' ? [] : text.split('\n');
    }
    let opened = 0;
    for (let index = 0; index < 6; index++) {
      const settings = selfPlaySettings(5, index, 0.05);
      const played = replayGameString(bySplit[settings.split].shift()!).history();
      // drawn from the verbose move list, as the generator drew them before it read the cheaper SAN list
      const chess = new Chess();
      for (let ply = 0; ply < settings.openingPlies; ply++) {
        const moves = chess.moves({ verbose: true });
        const pick = moves[settings.rng.nextInt(moves.length)];
        expect(played[ply], `game ${index}, ply ${ply}`).toBe(pick.san);
        chess.move(pick.san);
        opened++;
      }
    }
    expect(opened).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync('/usr/games/stockfish'))('--nodes draws each side\'s node budget from the range asked for and names it in the manifest', () => {
    const out = join(root, 'selfplay-nodes');
    const run = gamba('generate', 'chess', '--source', 'stockfish', '--engine', '/usr/games/stockfish', '--games', '2', '--seed', '1', '--nodes', '50-2000', '--workers', '2', '--out', out, '--json');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ source: 'stockfish-selfplay (Stockfish 15.1, nodes 50-2000, skills 0-20)' });
    // every game runs to its end (mate, stalemate or a draw by rule) or until its string fills the block
    const exported = ['train', 'val'].flatMap((split) => gamba('dataset', 'export', out, '--format', 'text', '--split', split).stdout.split('\n').filter(Boolean));
    expect(exported).toHaveLength(2);
    for (const line of exported) expect(replayGameString(line).isGameOver() || line.length > 1024 - 12, line.slice(-40)).toBe(true);
    const budgets = Array.from({ length: 200 }, (_, i) => selfPlaySettings(1, i, 0.05, { nodes: nodeExponents(50, 2000) })).flatMap((s) => [s.white.nodes, s.black.nodes]);
    expect(Math.min(...budgets)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...budgets)).toBeLessThanOrEqual(2000);
    // log-uniform: about as many budgets below the geometric middle (~316) as above it
    const below = budgets.filter((n) => n < Math.sqrt(50 * 2000)).length;
    expect(below).toBeGreaterThan(150);
    expect(below).toBeLessThan(250);
    // the range changes the budgets, not the other draws of a game
    const plain = selfPlaySettings(1, 7, 0.05);
    const narrow = selfPlaySettings(1, 7, 0.05, { nodes: nodeExponents(50, 2000) });
    expect([narrow.split, narrow.openingPlies, narrow.white.skill, narrow.black.skill]).toEqual([plain.split, plain.openingPlies, plain.white.skill, plain.black.skill]);
    for (const [flags, message] of [
      [['--nodes', '2000-50', '--source', 'stockfish'], '--nodes 2000-50: expected a range LO-HI of nodes per move from 1 to 1000000000, e.g. 50-2000'],
      [['--nodes', '50-2000'], '--nodes: only with --source stockfish'],
      [['--skills', '20'], '--skills: only with --source stockfish'],
      [['--skills', '5-21', '--source', 'stockfish'], '--skills 5-21: expected a level or a range LO-HI within 0-20, e.g. 0-2'],
    ] as const) {
      const refused = gamba('generate', 'chess', '--games', '1', '--seed', '1', ...flags, '--out', join(root, 'refused-nodes'));
      expect(refused.status).toBe(2);
      expect(refused.stderr).toBe(`gamba: ${message}\n`);
    }
    expect(existsSync(join(root, 'refused-nodes'))).toBe(false);
  });

  it('runs engine self-play on one worker thread a slot, up to one a core, and a lone slot or core on the main thread', () => {
    expect([[1, 16], [5, 1], [2, 2], [5, 2], [14, 16], [48, 16]].map(([engines, cores]) => selfPlayThreads(engines, cores))).toEqual([0, 0, 2, 2, 14, 16]);
  });

  it.skipIf(!existsSync('/usr/games/stockfish'))('--skills 20 gives the same bytes for the same seed, on one engine or five on worker threads', () => {
    const texts = ['1', '5'].map((workers) => {
      const out = join(root, `skill20-w${workers}`);
      const run = gamba('generate', 'chess', '--source', 'stockfish', '--engine', '/usr/games/stockfish', '--games', '6', '--seed', '4', '--skills', '20',
        '--nodes', '50-400', '--val-fraction', '0.3', '--workers', workers, '--out', out, '--json');
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ source: 'stockfish-selfplay (Stockfish 15.1, nodes 50-400, skills 20-20)', threads: selfPlayThreads(Number(workers), availableParallelism()) });
      return ['train', 'val'].map((split) => gamba('dataset', 'export', out, '--format', 'text', '--split', split).stdout).join('');
    });
    expect(texts[1]).toBe(texts[0]);
    expect(new Set(texts[0].trim().split('\n')).size).toBe(6);
    for (let i = 0; i < 20; i++) expect(selfPlaySettings(4, i, 0.3, { skills: [20, 20] }).white.skill).toBe(20);
  });

  it('keeps the games finished before an engine on a self-play thread died, and says so in one line', () => {
    // The test engine dies when asked for its second game: six engines on worker threads play six games.
    const out = join(root, 'dying');
    const run = gamba('generate', 'chess', '--source', 'stockfish', '--engine', 'test/fixtures/chess/dying-engine.mjs', '--games', '12', '--seed', '1', '--workers', '6', '--out', out);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n').filter((line) => line.startsWith('gamba:'))).toEqual([
      `gamba: engine test/fixtures/chess/dying-engine.mjs exited with code 3 while gamba waited for 'readyok'; its stderr ended: test engine: giving up (the 6 games finished before it were written to ${out})`,
    ]);
    const lines = gamba('dataset', 'export', out, '--format', 'text').stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(() => replayGameString(line)).not.toThrow();
    const refused = gamba('generate', 'chess', '--source', 'stockfish', '--engine', 'test/fixtures/chess/silent-engine.mjs', '--games', '8', '--seed', '1', '--workers', '6', '--out', join(root, 'silent6'));
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^gamba: engine test\/fixtures\/chess\/silent-engine\.mjs \(Silent\) has no option "Threads"\n$/m);
    expect(existsSync(join(root, 'silent6'))).toBe(false);
  });

  it('refuses --source stockfish for othello and a dead engine, keeping nothing half-written', () => {
    const othello = gamba('generate', 'othello', '--source', 'stockfish', '--games', '1', '--seed', '1', '--out', join(root, 'o'));
    expect(othello.status).toBe(2);
    expect(othello.stderr).toMatch(/--source stockfish: only for chess/);
    const dead = gamba('generate', 'chess', '--source', 'stockfish', '--engine', 'test/fixtures/chess/silent-engine.mjs', '--games', '1', '--seed', '1', '--out', join(root, 'd'));
    expect(dead.status).toBe(2);
    expect(dead.stderr).toMatch(/silent-engine\.mjs \(Silent\) has no option "Threads"/);
    expect(existsSync(join(root, 'd'))).toBe(false);
  });
});
