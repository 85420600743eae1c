/**
 * The transformer through every command a Mamba goes through, on the cpu backend and the sample Othello
 * games: train, stop and resume on the same losses, eval, probe (residual stream only), report, play
 * (Othello and chess), bench train, export for transformers and back; and the one-line refusals of mixed
 * architectures.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { tempDir, writeTinyCheckpoint } from '../eval/play-fixtures.js';
import { CONFIG_FILE, MODEL_FILE } from '../../src/train/checkpoint.js';

const SAMPLES = join('datasets', 'samples', 'othello');
const root = tempDir('transformer-cli');
const trained = join(root, 'gpt');
const FLAGS = ['--game', 'othello', '--data', SAMPLES, '--preset', 'quickstart-gpt', '--backend', 'cpu', '--batch', '4', '--lr', '0.003', '--seed', '3', '--val-every', '2', '--val-games', '8'];

beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

const json = (run: { status: number | null; stdout: string; stderr: string }) => {
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
};

describe('a transformer through the commands', () => {
  it('trains, stops, and resumes on the losses of a run never stopped; config.json is a GPT2Config', () => {
    const stopped = json(gamba('train', ...FLAGS, '--steps', '6', '--out', trained, '--stop-after', '3', '--json'));
    expect(stopped).toMatchObject({ steps: 3, stopped: true });
    const resumed = json(gamba('train', '--resume', '--out', trained, '--json'));
    expect(resumed).toMatchObject({ steps: 6, stopped: false });
    const straight = json(gamba('train', ...FLAGS, '--steps', '6', '--out', join(root, 'straight'), '--json'));
    expect(resumed.lossHistory).toEqual(straight.lossHistory);
    expect(straight.lossHistory[5]).toBeLessThan(straight.lossHistory[0]);
    const config = JSON.parse(readFileSync(join(trained, CONFIG_FILE), 'utf8'));
    expect(config).toMatchObject({ architecture: 'transformer', model_type: 'gpt2', n_embd: 72, n_layer: 2, n_head: 4, n_positions: 59, preset: 'quickstart-gpt' });
  });

  it('evaluates, probes its residual stream (refusing the state), redraws the report, plays Othello and benchmarks', () => {
    const evaluated = json(gamba('eval', '--checkpoint', trained, '--data', SAMPLES, '--games', '8', '--backend', 'cpu', '--json'));
    expect(evaluated.positions).toBeGreaterThan(100);

    const state = gamba('probe', '--checkpoint', trained, '--data', SAMPLES, '--source', 'state', '--backend', 'cpu');
    expect(state.status).toBe(2);
    expect(state.stderr.trim()).toBe('gamba: --source state: a transformer has no recurrent state to probe (it carries a key/value cache between tokens); use --source residual');
    const out = join(root, 'probe');
    const probe = json(gamba('probe', '--checkpoint', trained, '--data', SAMPLES, '--games', '20', '--eval-games', '8', '--no-random-init', '--backend', 'cpu', '--out', out, '--json'));
    expect(probe.layers.map((l: { source: string; layer: number }) => `${l.source} ${l.layer}`)).toEqual(['residual 0', 'residual 1', 'residual 2']);
    const report = gamba('report', out);
    expect(report.status, report.stderr).toBe(0);

    const play = json(gamba('play', '--game', 'othello', '--checkpoint', trained, '--opponent', 'greedy', '--games', '2', '--backend', 'cpu', '--out', join(root, 'play'), '--json'));
    expect(play.games).toBe(2);

    const bench = json(gamba('bench', 'train', '--preset', 'quickstart-gpt', '--backend', 'cpu', '--batch', '2', '--steps', '1', '--json'));
    expect(bench).toMatchObject({ preset: 'quickstart-gpt', architecture: 'transformer', batch: 2, seq: 59 });
    expect(bench.tokensPerSec).toBeGreaterThan(0);
    const forced = gamba('bench', 'train', '--preset', 'quickstart-gpt', '--backend', 'cpu', '--attention', 'flash');
    expect(forced.status).toBe(2);
    expect(forced.stderr.trim()).toBe('gamba: --attention needs --backend webgpu (it picks webgpu kernels)');
  });

  it('exports for transformers, and the export gives the checkpoint\'s logits', () => {
    const exported = join(root, 'export');
    json(gamba('export', '--checkpoint', trained, '--out', exported, '--json'));
    const config = JSON.parse(readFileSync(join(exported, CONFIG_FILE), 'utf8'));
    expect(config).toMatchObject({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], torch_dtype: 'float32' });
    expect(readFileSync(join(exported, 'README.md'), 'utf8')).toContain('GPT2LMHeadModel.from_pretrained');
    const logits = (dir: string, name: string) => {
      json(gamba('logits', '--checkpoint', dir, '--data', SAMPLES, '--games', '2', '--out', join(root, name), '--json'));
      return JSON.parse(readFileSync(join(root, name), 'utf8')).logits;
    };
    expect(logits(exported, 'exported.json')).toEqual(logits(trained, 'trained.json'));
  });

  it('plays chess against Stockfish inside its 1023 positions', () => {
    const checkpoint = writeTinyCheckpoint(join(root, 'chess-gpt'), 'chess', 1, 'transformer');
    const run = json(gamba('play', '--game', 'chess', '--checkpoint', checkpoint, '--opponent', 'stockfish', '--skill', '0', '--nodes', '50',
      '--games', '1', '--backend', 'cpu', '--out', join(root, 'chess-play'), '--json'));
    expect(run.games).toBe(1);
  });

  it('refuses mixed architectures in one line naming the file', () => {
    // A transformer's weights under a Mamba's config.json.
    const mixed = join(root, 'mixed');
    mkdirSync(mixed);
    copyFileSync(join(writeTinyCheckpoint(join(root, 'mamba'), 'othello'), CONFIG_FILE), join(mixed, CONFIG_FILE));
    copyFileSync(join(trained, MODEL_FILE), join(mixed, MODEL_FILE));
    const run = gamba('eval', '--checkpoint', mixed, '--data', SAMPLES, '--backend', 'cpu');
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(`gamba: ${join(mixed, MODEL_FILE)}: holds a transformer (GPT-2) model, but its config describes a Mamba`);
    // A run resumed under another architecture's preset.
    const resumed = gamba('train', '--resume', '--out', trained, '--preset', 'quickstart');
    expect(resumed.status).toBe(2);
    expect(resumed.stderr.trim().split('\n')).toHaveLength(1);
    expect(resumed.stderr).toMatch(/--preset/);
  });
});
