/**
 * The dataset commands through the compiled CLI (`node bin/gamba.js`, built by `npx tsc -p .`, which
 * `npm test` runs first). This is where the worker-thread path runs: vitest runs TypeScript sources,
 * where generation stays on the main thread.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OthelloBoard } from '../../games/othello/board.js';
import { parseSquare } from '../../games/othello/notation.js';
import { SHARD_HEADER_BYTES } from '../../datasets/format.js';
import { tempDir } from './synthetic-records.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';

const root = tempDir('cli');
const SAMPLES = 'datasets/samples/othello';

function sha256Of(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

/** Replays exported moves on a real board: every move must be legal and the game must end finished. */
function replay(moves: string[]): void {
  const board = OthelloBoard.initial();
  for (const move of moves) board.play(parseSquare(move));
  expect(board.isOver()).toBe(true);
}

beforeAll(() => {
  requireBuiltCli();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('gamba generate', () => {
  it('writes the same bytes with 1 and 2 workers', () => {
    const one = gamba('generate', 'othello', '--games', '20000', '--seed', '3', '--shard-games', '3000', '--workers', '1', '--out', join(root, 'w1'), '--json');
    const two = gamba('generate', 'othello', '--games', '20000', '--seed', '3', '--shard-games', '3000', '--workers', '2', '--out', join(root, 'w2'), '--json');
    expect(one.status).toBe(0);
    expect(two.status).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ games: 20000, workers: 1 });
    const summary = JSON.parse(two.stdout);
    expect(summary).toMatchObject({ game: 'othello', seed: 3, games: 20000, workers: 2 });
    expect(summary.train + summary.val).toBe(20000);
    const files = sha256Of(join(root, 'w2'));
    expect(Object.keys(files).length).toBeGreaterThan(7);
    expect(sha256Of(join(root, 'w1'))).toEqual(files);
  });

  it('never overwrites without --force', () => {
    const out = join(root, 'w1');
    const before = sha256Of(out);
    const refused = gamba('generate', 'othello', '--games', '10', '--seed', '1', '--out', out);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim()).toBe(`gamba: ${out}: already exists (use --force to replace it)`);
    expect(sha256Of(out)).toEqual(before);
    expect(gamba('generate', 'othello', '--games', '10', '--seed', '1', '--out', out, '--force').status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).counts.train).toBeLessThanOrEqual(10);
  });

  it('rejects bad flag values with one line naming the flag', () => {
    for (const [flag, value] of [['--games', '0'], ['--games', '1.5'], ['--val-fraction', '2'], ['--workers', '0'], ['--seed', '-1']]) {
      const args = { '--games': '10', '--seed': '1', '--val-fraction': '0.1', '--workers': '1', [flag]: value };
      const run = gamba('generate', 'othello', '--out', join(root, 'bad-flag'), ...Object.entries(args).flat());
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(flag);
    }
    expect(gamba('generate', 'go', '--games', '1', '--seed', '1', '--out', join(root, 'x')).status).toBe(2);
    expect(existsSync(join(root, 'bad-flag'))).toBe(false);
  });
});

describe('gamba dataset export', () => {
  it('writes one {"moves": [...]} line per game that replays legally', () => {
    const run = gamba('dataset', 'export', SAMPLES, '--format', 'jsonl', '--limit', '300');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(300);
    for (const line of lines) {
      const game = JSON.parse(line);
      expect(Object.keys(game)).toEqual(['moves']);
      expect(game.moves.every((m: string) => /^[a-h][1-8]$/.test(m))).toBe(true);
      replay(game.moves);
    }
  });

  it('exports a whole split', () => {
    const manifest = JSON.parse(readFileSync(join(SAMPLES, 'manifest.json'), 'utf8'));
    const run = gamba('dataset', 'export', SAMPLES, '--split', 'val');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(manifest.counts.val);
    lines.forEach((line) => replay(JSON.parse(line).moves));
    expect(gamba('dataset', 'export', SAMPLES, '--format', 'pgn').status).not.toBe(0);
  });
});

describe('gamba dataset info', () => {
  it('reports counts, sizes and checksum status', () => {
    const run = gamba('dataset', 'info', SAMPLES, '--json');
    expect(run.status).toBe(0);
    const info = JSON.parse(run.stdout);
    const manifest = JSON.parse(readFileSync(join(SAMPLES, 'manifest.json'), 'utf8'));
    expect(info).toMatchObject({ game: 'othello', seed: 1, counts: manifest.counts, ok: true });
    expect(info.counts.train + info.counts.val).toBe(20000);
    for (const shard of info.shards) {
      expect(shard.status).toBe('ok');
      expect(shard.bytes).toBe(readFileSync(join(SAMPLES, shard.file)).length);
    }
    expect(gamba('dataset', 'info', SAMPLES).stdout).toContain('all shards ok');
  });
});

describe('bad datasets are refused with one line naming the file and the problem', () => {
  let good = '';
  beforeAll(() => {
    good = join(root, 'good');
    const run = gamba('generate', 'othello', '--games', '300', '--seed', '2', '--val-fraction', '0.2', '--shard-games', '100', '--out', good);
    expect(run.status).toBe(0);
  });

  /** A fresh copy of the good dataset, broken by `damage`, then exported and inspected through the CLI. */
  function expectRefused(name: string, damage: (dir: string) => string, problem: RegExp): void {
    const dir = join(root, name);
    cpSync(good, dir, { recursive: true });
    const file = damage(dir);
    for (const command of ['export', 'info']) {
      const run = gamba('dataset', command, dir);
      expect(run.status, `${command} ${name}`).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0].startsWith(`gamba: ${file}`)).toBe(true);
      expect(lines[0]).toMatch(problem);
    }
  }

  const shard = (dir: string): string => join(dir, 'train-00001.bin');

  it('a truncated shard', () => {
    expectRefused('truncated', (dir) => (truncateSync(shard(dir), 64 + 100 * 60 - 7), shard(dir)), /truncated shard: 6057 bytes, expected 6064/);
    expectRefused('header-only', (dir) => (truncateSync(shard(dir), 10), shard(dir)), /truncated shard: 10 bytes/);
  });

  it('a corrupted shard (checksum)', () => {
    expectRefused('corrupt', (dir) => {
      const bytes = readFileSync(shard(dir));
      bytes[SHARD_HEADER_BYTES + 1234] ^= 1;
      writeFileSync(shard(dir), bytes);
      return shard(dir);
    }, /checksum mismatch/);
  });

  it('a wrong magic or format version', () => {
    expectRefused('magic', (dir) => {
      const bytes = readFileSync(shard(dir));
      bytes.write('NOTSHARD', 0, 'latin1');
      writeFileSync(shard(dir), bytes);
      return shard(dir);
    }, /not a gamba shard: magic "NOTSHARD"/);
    expectRefused('version', (dir) => {
      const bytes = readFileSync(shard(dir));
      bytes.writeUInt32LE(2, 8);
      writeFileSync(shard(dir), bytes);
      return shard(dir);
    }, /unsupported shard format version 2/);
  });

  it('a token out of range, even with matching checksums', () => {
    expectRefused('token', (dir) => {
      const bytes = readFileSync(shard(dir));
      bytes[SHARD_HEADER_BYTES + 3 * 60 + 5] = 99;
      const sha = createHash('sha256').update(bytes.subarray(SHARD_HEADER_BYTES)).digest('hex');
      bytes.write(sha, 32, 'hex');
      writeFileSync(shard(dir), bytes);
      const manifestFile = join(dir, 'manifest.json');
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
      manifest.shards.find((s: { file: string }) => s.file === 'train-00001.bin').sha256 = sha;
      writeFileSync(manifestFile, JSON.stringify(manifest));
      return shard(dir);
    }, /token 99 out of range \(vocabulary size 61\) in game 3, position 5/);
  });

  it('a missing or broken manifest', () => {
    expectRefused('no-manifest', (dir) => (unlinkSync(join(dir, 'manifest.json')), join(dir, 'manifest.json')), /missing manifest/);
    expectRefused('bad-json', (dir) => (writeFileSync(join(dir, 'manifest.json'), '{"format": "gamba-dataset",'), join(dir, 'manifest.json')), /invalid manifest: not valid JSON/);
    expectRefused('bad-counts', (dir) => {
      const file = join(dir, 'manifest.json');
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      manifest.counts.val += 1;
      writeFileSync(file, JSON.stringify(manifest));
      return file;
    }, /invalid manifest: "counts.val" is \d+ but the val shards hold \d+ games/);
  });

  it('a manifest naming a missing shard', () => {
    expectRefused('missing-shard', (dir) => (unlinkSync(join(dir, 'val-00000.bin')), join(dir, 'val-00000.bin')), /shard listed in the manifest is missing/);
  });

  it('marks the bad shard in info and leaves the good ones ok', () => {
    const dir = join(root, 'info-bad');
    cpSync(good, dir, { recursive: true });
    truncateSync(shard(dir), 100);
    const run = gamba('dataset', 'info', dir, '--json');
    expect(run.status).toBe(2);
    const info = JSON.parse(run.stdout);
    expect(info.ok).toBe(false);
    const status = Object.fromEntries(info.shards.map((s: { file: string; status: string }) => [s.file, s.status]));
    expect(status['train-00000.bin']).toBe('ok');
    expect(status['train-00001.bin']).toMatch(/truncated shard/);
  });
});

describe('gamba bench generate', () => {
  it('reports games per second as JSON', () => {
    const run = gamba('bench', 'generate', '--games', '10000', '--workers', '2', '--json');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ workers: 2, games: 10000 });
    expect(result.gamesPerSec).toBeGreaterThan(0);
  });
});
