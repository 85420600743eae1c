/**
 * The 27M chess Mamba shipped in models/chess-base (trained from scratch on an H100 in eleven stages, see
 * its README): it loads on the cpu backend from a fresh clone, its README holds the figures of its stages,
 * evals, matches and probes, and it plays a game against Stockfish.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { count, expectFp16Weights, expectMatchRow, expectProbeRow, expectShippedModel, pct, readJson as json, readJsonl, readmeRow } from './shipped-tables.js';

const MODEL = 'models/chess-base';
const STAGES = 11;
/** The stages that began from the fp16 weights of the one before without its trainer state, so they carry no training history. */
const FROM_SHIPPED = [4, 7];
/** The stages whose weights played Stockfish and were probed. */
const MATCHED = [3, 6, 9, 10, 11];
/** The matches beyond each matched stage's Skill 0 at 0.1 s a move: stronger Skill Levels, and Karvonen's node budget (his 0.1 s at about 6.8M nodes/s). */
const MORE_MATCHES: { stage: number; skill: number; nodes?: number }[] = [
  { stage: 9, skill: 1 }, { stage: 10, skill: 1 }, { stage: 10, skill: 3 }, { stage: 10, skill: 0, nodes: 680_000 }, { stage: 10, skill: 1, nodes: 680_000 },
  { stage: 11, skill: 1 }, { stage: 11, skill: 0, nodes: 680_000 },
];
const STOCKFISH = '/usr/games/stockfish';
const root = mkdtempSync(join(tmpdir(), 'gamba-chess-base-'));
/** Where stage N's `file` is inside MODEL: the last stage is the model itself. */
const inStage = (stage: number, file: string) => (stage === STAGES ? file : `stage-${stage}/${file}`);
const stageDir = (stage: number) => join(MODEL, inStage(stage, '.'));

beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the shipped chess-base Mamba', () => {
  it('is the chess-base preset in fp16', () => {
    const parameters = 27_140_608;
    expectShippedModel(MODEL, 'chess', 'chess-base', parameters);
    expectFp16Weights(MODEL, parameters);
  });

  it('its README holds each stage\'s steps, games read, training time, validation losses and held-out legal rate', () => {
    for (let stage = 1; stage <= STAGES; stage++) {
      const dir = stageDir(stage);
      const state = json(dir, 'trainer-state.json');
      const metrics = readJsonl(dir, 'metrics.jsonl');
      expect(metrics.at(-1).step).toBe(state.step);
      const valLoss = (step: number) => metrics.find((m) => m.step === step).valLoss.toFixed(4);
      const [, , steps, gamesRead, seconds, loss, legal] = readmeRow(MODEL, stage === STAGES ? `${stage} (this directory)` : `${stage} (\`stage-${stage}/\`)`);
      expect([steps, gamesRead, seconds, loss, legal.replaceAll('*', '')]).toEqual([
        count(state.step), count(state.games), String(Math.round(state.trainSeconds)), `${valLoss(100)} -> ${valLoss(state.step)}`, `${pct(json(dir, 'eval.json').legalTop1)}%`,
      ]);
      // each stage after the first starts from the one before: from its training checkpoint, whose steps
      // it counts on, or (FROM_SHIPPED) from its exported weights
      if (stage > 1) expect(state.run.init).toBeDefined();
      const since = Math.max(1, ...FROM_SHIPPED.filter((s) => s <= stage));
      const earlier = Array.from({ length: stage - since }, (_, i) => json(stageDir(since + i), 'trainer-state.json').step);
      expect(state.run.initTraining?.steps).toBe(earlier.length ? earlier.reduce((a, b) => a + b) : undefined);
    }
  });

  it('its README compares it with the 12M model on the same held-out positions, by GPU-minutes of training', () => {
    const yardstick = openDataset('datasets/samples/chess');
    const positions = json(MODEL, 'eval.json').positions;
    const evals: [string, string, string][] = [
      ['chess-mamba, the 12M model\'s first run', MODEL, 'eval-chess-mamba.json'],
      ['chess-mamba fine-tune-10', 'models/chess-mamba/fine-tune-10', 'eval-s2033-cpu.json'],
      ...Array.from({ length: STAGES }, (_, i): [string, string, string] => [`chess-base stage ${i + 1}`, stageDir(i + 1), 'eval.json']),
    ];
    for (const [row, dir, file] of evals) {
      const e = json(dir, file);
      expect([e.positions, e.games]).toEqual([positions, yardstick.count('val')]);
      expect(readmeRow(MODEL, row).at(-1)!.replaceAll('*', '')).toBe(`${pct(e.legalTop1)}%`);
    }
    yardstick.close();
    let seconds = 0;
    for (let stage = 1; stage <= STAGES; stage++) {
      seconds += json(stageDir(stage), 'trainer-state.json').trainSeconds;
      expect(readmeRow(MODEL, `chess-base stage ${stage}`)[1]).toBe((seconds / 60).toFixed(1));
    }
    // the cpu backend reads the shipped fp16 weights as the GPU did
    const readme = readFileSync(join(MODEL, 'README.md'), 'utf8');
    expect(readme).toContain(`${pct(json(MODEL, 'eval-cpu.json').legalTop1)}% on the cpu backend (\`eval-cpu.json\`)`);
  });

  it(`its README holds its matches against Stockfish and its probe reports, at stages ${MATCHED.join(', ')}`, () => {
    const label = (stage: number, file: string) => `stage ${stage}${stage === STAGES ? ', this model' : ''} (\`${inStage(stage, file)}\`)`;
    /** A 100-game match at Karvonen's temperatures against Skill `skill` at 0.1 s a move (or `nodes` a move), as its README row says. */
    const expectKarvonenMatch = (file: string, skill: number, row: string, nodes?: number) => {
      const match = json(MODEL, file);
      const budget = nodes ? match.engine.nodes : match.engine.movetimeMs;
      expect([match.games, match.model.temperature, match.engine.skill, budget]).toEqual([100, 'karvonen', skill, nodes ?? 100]);
      expectMatchRow(MODEL, row, match);
    };
    const reports = new Map(MATCHED.map((stage) => [stage, json(MODEL, inStage(stage, 'probe-pieces/report.json'))]));
    const report = reports.get(STAGES);
    for (const stage of MATCHED) {
      expectKarvonenMatch(inStage(stage, 'matches/stockfish-skill0-movetime100-karvonen/summary.json'), 0, label(stage, 'matches/'));
      expectProbeRow(MODEL, inStage(stage, 'probe-pieces/report.json'), label(stage, 'probe-pieces/report.json'));
      expect(reports.get(stage).data.dir).toBe(report.data.dir);
    }
    for (const { stage, skill, nodes } of MORE_MATCHES) {
      const dir = inStage(stage, `matches/stockfish-skill${skill}-${nodes ? `nodes${nodes}` : 'movetime100'}-karvonen/`);
      const budget = nodes ? ` at ${count(nodes)} nodes a move` : '';
      expectKarvonenMatch(`${dir}summary.json`, skill, `stage ${stage} against Skill ${skill}${budget} (\`${dir}\`)`, nodes);
    }
    const tenth = '../chess-mamba/fine-tune-10/probe-pieces/report.json';
    expectProbeRow(MODEL, tenth, `chess-mamba fine-tune-10 (\`${tenth}\`)`);
    expect(json(MODEL, tenth).data.dir).toBe(report.data.dir);
    expect(report.data.dir).toBe('datasets/samples/chess');
    // the control: the same preset at random initialisation, read where the trained model reads best
    const controlled = [...reports.values()].reverse().find((r) => r.baselines.randomInit.length);
    // a report without its own control borrows the latest stage's, drawn from the same seed for the same config: the same weights
    expect([controlled.options.randomInit.seed, controlled.checkpoint.config]).toEqual([report.options.seed, report.checkpoint.config]);
    const control = controlled.baselines.randomInit.find((l: { layer: number }) => l.layer === report.best.layer);
    expect(readmeRow(MODEL, 'the same preset at random initialisation').slice(1)).toEqual([String(report.best.layer), `${pct(control.cellAcc)}%`, `${pct(control.boardAcc)}%`]);
  });

  it.skipIf(!existsSync(STOCKFISH))('plays a game against Stockfish on the cpu backend', () => {
    const run = gamba('play', '--game', 'chess', '--checkpoint', MODEL, '--opponent', 'stockfish', '--engine', STOCKFISH, '--skill', '0',
      '--games', '1', '--backend', 'cpu', '--out', join(root, 'match'), '--json');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.games).toBe(1);
    // A model of random weights forfeits at its first move; this one makes legal moves for a while.
    expect(summary.modelMoves).toBeGreaterThan(4);
    expect(summary.legalFirstTry).toBeGreaterThan(0.5);
  });
});
