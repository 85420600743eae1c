/**
 * The chess Mamba shipped in models/chess-mamba (trained on an H200 from Stockfish self-play, see its
 * README): it loads on the cpu backend from a fresh clone, mostly predicts legal moves in engine games
 * it never saw, and plays whole games against Stockfish by Karvonen's protocol, the same games one at a
 * time or several at once.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chess } from 'chess.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { gameStringOf } from '../../games/chess/game-string.js';
import { parsePgn } from '../../games/chess/pgn.js';
import { playSan } from '../../games/chess/san.js';
import { encodeChessText } from '../../games/chess/vocabulary.js';
import { createBackend } from '../../src/backend/index.js';
import { sampleMoveText } from '../../src/eval/play-chess.js';
import { TokenStepper } from '../../src/eval/token-stepper.js';
import { createModel } from '../../src/model/models.js';
import { loadCheckpoint } from '../../src/train/load-checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { gamba, requireBuiltCli } from '../cli-runner.js';
import { count, expectMatchRow, expectProbeRow, expectShippedModel, pct, readJson as json, readJsonl, readmeRow, scoreText } from './shipped-tables.js';

const MODEL = 'models/chess-mamba';
/** How many fine-tunes ship (models/chess-mamba/fine-tune-1 to -N); every list of them below counts from it. */
const FINE_TUNES = 10;
/**
 * The last fine-tune read on the first seed-2033 games and played at temperature 1; those after it are
 * read on datasets/samples/chess and played at Karvonen's temperatures.
 */
const FIRST_YARDSTICK = 9;
/** fine-tune numbers `first` to `last` (default: the last shipped). */
const fineTunesFrom = (first: number, last = FINE_TUNES) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
/** The most trained of the shipped models: the one a person would play. */
const LATEST = `${MODEL}/fine-tune-${FINE_TUNES}`;
const STOCKFISH = '/usr/games/stockfish';
const root = mkdtempSync(join(tmpdir(), 'gamba-chess-model-'));

beforeAll(() => requireBuiltCli());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the shipped chess Mamba', () => {
  it.each([MODEL, ...fineTunesFrom(1).map((n) => `${MODEL}/fine-tune-${n}`)])('%s is the chess-mamba-12m preset in fp16 under 30 MB', (dir) => {
    expectShippedModel(dir, 'chess', 'chess-mamba-12m', 11_583_360);
    expect(statSync(join(dir, 'model.safetensors')).size).toBeLessThan(30 * 1024 * 1024);
  });

  /** The README row that starts with `first` holds match summary `s`'s figures and, in parentheses, `earlier`'s first-try rate and forfeits. */
  const expectMatchRowBeside = (dir: string, first: string, s: Record<string, number>, earlier: Record<string, number>) => {
    const { firstTry, forfeits } = expectMatchRow(dir, first, s);
    expect(firstTry).toContain(`(${(100 * earlier.legalFirstTry).toFixed(1)}%)`);
    expect(forfeits).toBe(`${s.forfeits} (${earlier.forfeits})`);
  };
  /** The README's row for each Stockfish level holds that match summary's figures. */
  const expectMatchRows = (dir: string) => {
    for (const skill of [0, 1, 3]) expectMatchRow(dir, `Skill ${skill}`, json(dir, `matches/stockfish-skill${skill}-movetime100/summary.json`));
  };
  /** Each Stockfish level's README row also holds, in parentheses, the first-try legal rate and forfeits of the model in `earlier`. */
  const expectEarlierMatchFigures = (dir: string, earlier: string) => {
    for (const skill of [0, 1, 3]) {
      const before = json(earlier, `matches/stockfish-skill${skill}-movetime100/summary.json`);
      const [, , firstTry, forfeits] = readmeRow(dir, `Skill ${skill}`);
      expect(firstTry).toContain(`(${(100 * before.legalFirstTry).toFixed(1)}%)`);
      expect(forfeits).toContain(`(${before.forfeits})`);
    }
  };

  it('fine-tune-2\'s README holds the figures of its eval, match summaries and probe reports', () => {
    const dir = `${MODEL}/fine-tune-2`;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain(`**${pct(json(dir, 'eval.json').legalTop1)}%** of ${count(json(dir, 'eval.json').positions)} positions`);
    expect(readme).toContain(`fine-tune-1 reads ${pct(json(dir, 'eval-fine-tune-1.json').legalTop1)}%`);
    expect(readme).toContain(`stage 1 ${pct(json(dir, 'stage-1/eval.json').legalTop1)}%`);
    expectMatchRows(dir);
    expectProbeRow(dir, 'probe-pieces/report.json', 'this model (`probe-pieces/report.json`)');
    expectProbeRow(dir, 'probe-pieces/stage-1-report.json', 'stage 1 (`probe-pieces/stage-1-report.json`)');
    expectProbeRow(dir, 'probe-pieces/fine-tune-1-report.json', 'fine-tune-1 (`probe-pieces/fine-tune-1-report.json`)');
  });

  it('fine-tune-3\'s README holds the figures of its evals, match summaries and probe reports', () => {
    const dir = `${MODEL}/fine-tune-3`;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const evals: [string, string][] = [
      ['eval-s2033-fine-tune-2.json', 'fine-tune-2'], ['stage-3/eval-s2033.json', 'stage 3'], ['stage-4/eval-s2033.json', 'stage 4'], ['eval-s2033.json', 'this model'],
    ];
    for (const [file, model] of evals) {
      expect(readmeRow(dir, `${model} (\`${file}\`)`)[1].replaceAll('*', '')).toBe(`${pct(json(dir, file).legalTop1)}%`);
    }
    const positions = json(dir, 'eval-s2033.json').positions;
    for (const [file] of evals) expect(json(dir, file).positions).toBe(positions);
    expect(readme).toContain(`(${count(positions)} positions)`);
    const gpu = (file: string) => `${pct(json(dir, file).legalTop1)}% of ${count(json(dir, file).positions)}`;
    expect(readme).toContain(`stage 3 ${gpu('stage-3/eval.json')} positions where fine-tune-2 reads ${pct(json(`${MODEL}/fine-tune-2`, 'eval.json').legalTop1)}%`);
    expect(readme).toContain(`stage 4 ${gpu('stage-4/eval.json')} where stage 3 reads ${pct(json(dir, 'stage-4/eval-stage-3.json').legalTop1)}%`);
    expect(readme).toContain(`this model ${gpu('eval.json')}`);
    expectMatchRows(dir);
    for (const skill of [0, 1, 3]) {
      const match = `matches/stockfish-skill${skill}-movetime100/summary.json`;
      const [stage4, fineTune2] = [json(dir, `stage-4/${match}`), json(`${MODEL}/fine-tune-2`, match)];
      const [, , firstTry, forfeits] = readmeRow(dir, `Skill ${skill}`);
      expect(firstTry).toContain(`(stage 4: ${(100 * stage4.legalFirstTry).toFixed(1)}%, fine-tune-2: ${(100 * fineTune2.legalFirstTry).toFixed(1)}%)`);
      expect(forfeits).toContain(`(${stage4.forfeits}, ${fineTune2.forfeits})`);
    }
    expectProbeRow(dir, 'probe-pieces/report.json', 'this model (`probe-pieces/report.json`)');
    expectProbeRow(dir, '../fine-tune-2/probe-pieces/report.json', 'fine-tune-2 (`../fine-tune-2/probe-pieces/report.json`)');
    const control = '../fine-tune-2/probe-pieces/stage-1-report.json';
    const [, layer, squares, boards] = readmeRow(dir, `the same model at random initialisation (\`${control}\`)`);
    const randomInit = json(dir, control).baselines.randomInit.find((l: { layer: number }) => l.layer === Number(layer));
    expect([layer, squares, boards]).toEqual([String(json(dir, 'probe-pieces/report.json').best.layer), `${pct(randomInit.cellAcc)}%`, `${pct(randomInit.boardAcc)}%`]);
  });

  it('fine-tune-4\'s README holds the figures of its evals, match summaries and probe reports, beside fine-tune-3\'s on the same games', () => {
    const dir = `${MODEL}/fine-tune-4`;
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const [cpu, gpu, before] = ['eval-s2033-cpu.json', 'eval-s2033.json', 'eval-s2033-fine-tune-3.json'].map((file) => json(dir, file));
    for (const other of [gpu, before]) expect(other.positions).toBe(cpu.positions);
    expect(readme).toContain(`**${pct(cpu.legalTop1)}%** of ${count(cpu.positions)} positions (\`eval-s2033-cpu.json\`; ${pct(gpu.legalTop1)}% on the GPU`);
    expect(readme).toContain(`fine-tune-3 reads ${pct(before.legalTop1)}% of the same positions (\`eval-s2033-fine-tune-3.json\`)`);
    expectMatchRows(dir);
    expectEarlierMatchFigures(dir, `${MODEL}/fine-tune-3`);
    expectProbeRow(dir, 'probe-pieces/report.json', 'this model (`probe-pieces/report.json`)');
    expectProbeRow(dir, 'probe-pieces/fine-tune-3-report.json', 'fine-tune-3 (`probe-pieces/fine-tune-3-report.json`)');
  });

  /** The README's stage table holds each `stage-N/`'s steps, seed, validation losses and games made meanwhile; returns the stage numbers. */
  const expectStageRows = (dir: string) => {
    const stages = readdirSync(dir).filter((d) => /^stage-\d+$/.test(d)).map((d) => Number(d.slice('stage-'.length))).sort((a, b) => a - b);
    expect(stages.length).toBeGreaterThan(0);
    expect(stages).toEqual(stages.map((_, i) => i + 1));
    for (const stage of stages) {
      const kept = json(dir, `stage-${stage}/trainer-state.json`);
      const metrics = readJsonl(dir, `stage-${stage}/metrics.jsonl`);
      const valLoss = (step: number) => metrics.find((m) => m.step === step).valLoss.toFixed(4);
      const made = json(dir, `stage-${stage}/games-made-manifest.json`);
      const [, , steps, , loss, madeCell] = readmeRow(dir, stage === stages.length ? `${stage} (this model)` : String(stage));
      expect(steps).toBe(`${count(metrics.at(-1).step)} (${count(kept.step)}), ${kept.run.seed}`);
      expect(loss).toBe(`${valLoss(100)}, ${valLoss(kept.step)}`);
      expect(madeCell).toMatch(new RegExp(`^${count(made.counts.train + made.counts.val)} \\((seed )?${made.seed}\\), `));
    }
    return stages;
  };
  /** A learning-curve row of models/chess-mamba/README.md holds the match against Skill 0 at temperature 1 at `matchDir`. */
  const expectCurveRow = (row: string, matchDir: string) => {
    const match = json(matchDir, 'matches/stockfish-skill0-movetime100/summary.json');
    expect(match.model.temperature).toBe(1);
    const [, , , firstTry, forfeits, score] = readmeRow(MODEL, row);
    expect([firstTry, forfeits, score]).toEqual([`${(100 * match.legalFirstTry).toFixed(1)}%`, String(match.forfeits), scoreText(match.score)]);
  };

  /**
   * fine-tune-5 and later: stages (`stage-N/`) that each train on the games made while the stage before
   * trained. The README holds every stage's steps, losses and games made, the held-out and match figures
   * of the model, of the stages evaluated on their own (those with an eval in their directory) and of the
   * model it continued (`before`), its probe beside that model's, and the learning-curve rows of the
   * parent README.
   */
  it.each(fineTunesFrom(5, FIRST_YARDSTICK).map((n) => [`fine-tune-${n}`, `fine-tune-${n - 1}`]))('%s\'s README holds the figures of its stages, evals, match summaries and probe report, beside %s\'s on the same games', (name, before) => {
    const dir = `${MODEL}/${name}`;
    const stages = expectStageRows(dir);
    const evaluated = stages.filter((stage) => existsSync(join(dir, `stage-${stage}/eval-s2033-cpu.json`)));
    expect(evaluated.length).toBeGreaterThan(0);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    // The stages the README's eval table names are those whose eval ships: neither can go missing alone.
    expect([...readme.matchAll(/`stage-(\d+)\/eval-s2033-cpu\.json`/g)].map((m) => Number(m[1]))).toEqual(evaluated);
    const [cpu, gpu] = ['eval-s2033-cpu.json', 'eval-s2033.json'].map((file) => json(dir, file));
    expect(readme).toContain(`**${pct(cpu.legalTop1)}%** of ${count(cpu.positions)} positions (\`eval-s2033-cpu.json\`; ${pct(gpu.legalTop1)}% on the GPU`);
    for (const [model, at] of [[before, `../${before}/`], ...evaluated.map((stage) => [`stage ${stage}`, `stage-${stage}/`]), ['this model', '']]) {
      const [onCpu, onGpu] = ['eval-s2033-cpu.json', 'eval-s2033.json'].map((file) => json(dir, at + file));
      for (const e of [onCpu, onGpu]) expect(e.positions).toBe(cpu.positions);
      const [, cpuCell, gpuCell] = readmeRow(dir, `${model} (\`${at}eval-s2033-cpu.json\`)`);
      expect([cpuCell.replaceAll('*', ''), gpuCell]).toEqual([`${pct(onCpu.legalTop1)}%`, `${pct(onGpu.legalTop1)}%`]);
    }
    expectMatchRows(dir);
    expectEarlierMatchFigures(dir, `${MODEL}/${before}`);
    expectProbeRow(dir, 'probe-pieces/report.json', 'this model (`probe-pieces/report.json`)');
    expectProbeRow(dir, `../${before}/probe-pieces/report.json`, `${before} (\`../${before}/probe-pieces/report.json\`)`);
    // The learning curve in models/chess-mamba/README.md: first-try legal moves and forfeits against Skill 0.
    for (const [row, at] of [...evaluated.map((stage) => [`stage ${stage} of ${name}`, `stage-${stage}/`]), [name, '']]) expectCurveRow(row, join(dir, at));
  });

  it('fine-tune-10\'s README holds its stage, its evals on datasets/samples/chess, its matches at Karvonen\'s temperatures (at 0.1 s and at his node budget) and its probe, beside fine-tune-9\'s', () => {
    const dir = `${MODEL}/fine-tune-10`;
    const before = `${MODEL}/fine-tune-9`;
    expectStageRows(dir);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const [cpu, gpu] = ['eval-s2033-cpu.json', 'eval-s2033.json'].map((file) => json(dir, file));
    expect(readme).toContain(`**${pct(cpu.legalTop1)}%** of ${count(cpu.positions)} positions (\`eval-s2033-cpu.json\`; ${pct(gpu.legalTop1)}% on the GPU`);
    // The same held-out positions for fine-tune-9, for the length-buckets run it continues, and for it.
    const yardstick = openDataset('datasets/samples/chess');
    expect(cpu.games).toBe(yardstick.count('val'));
    yardstick.close();
    for (const [model, at, onGpu] of [['fine-tune-9', '../length-buckets/fine-tune-9-', false], ['the length-buckets run', '../length-buckets/buckets/', true], ['this model', '', true]] as const) {
      const e = json(dir, `${at}eval-s2033-cpu.json`);
      expect(e.positions).toBe(cpu.positions);
      const [, cpuCell, gpuCell] = readmeRow(dir, `${model} (\`${at}eval-s2033-cpu.json\`)`);
      expect([cpuCell.replaceAll('*', ''), gpuCell]).toEqual([`${pct(e.legalTop1)}%`, onGpu ? `${pct(json(dir, `${at}eval-s2033.json`).legalTop1)}%` : '-']);
    }
    for (const [row, match] of [...[0, 1, 3].map((skill) => [`Skill ${skill}`, `stockfish-skill${skill}-movetime100-karvonen`]), ['Skill 0, temperature 1', 'stockfish-skill0-movetime100']]) {
      const s = json(dir, `matches/${match}/summary.json`);
      const earlier = json(before, `matches/${match}/summary.json`);
      expect([s.model.temperature, s.engine.movetimeMs, s.games]).toEqual([earlier.model.temperature, 100, 100]);
      expectMatchRowBeside(dir, row, s, earlier);
    }
    // Karvonen's node budget at his temperatures, beside fine-tune-9's.
    const atNodes = json(dir, 'matches/stockfish-skill0-nodes680000-karvonen/summary.json');
    const earlierAtNodes = json(before, 'matches/stockfish-skill0-nodes680000-karvonen/summary.json');
    expect([atNodes.model.temperature, atNodes.engine.skill, atNodes.engine.nodes, atNodes.games]).toEqual(['karvonen', 0, 680_000, 100]);
    expectMatchRowBeside(dir, 'Skill 0, 680,000 nodes a move', atNodes, earlierAtNodes);
    // the higher levels at the node budget, which fine-tune-9 did not play
    for (const skill of [1, 3]) {
      const s = json(dir, `matches/stockfish-skill${skill}-nodes680000-karvonen/summary.json`);
      expect([s.model.temperature, s.engine.skill, s.engine.nodes, s.games]).toEqual(['karvonen', skill, 680_000, 100]);
      expectMatchRow(dir, `Skill ${skill}, 680,000 nodes a move`, s);
    }
    expectProbeRow(dir, 'probe-pieces/report.json', 'this model (`probe-pieces/report.json`)');
    expectProbeRow(dir, 'probe-pieces/fine-tune-9-report.json', 'fine-tune-9 (`probe-pieces/fine-tune-9-report.json`)');
    expectCurveRow('fine-tune-10', dir);
  });

  it('fine-tune-9\'s README holds its matches at Karvonen\'s temperatures beside those at temperature 1', () => {
    const dir = `${MODEL}/fine-tune-9`;
    const matches = [...[0, 1, 3].map((skill) => [`Skill ${skill}`, `stockfish-skill${skill}-movetime100`]), ['Skill 0, 680,000 nodes', 'stockfish-skill0-nodes680000']];
    for (const [row, match] of matches) {
      const s = json(dir, `matches/${match}-karvonen/summary.json`);
      const hot = json(dir, `matches/${match}/summary.json`);
      expect([s.model.temperature, hot.model.temperature, s.games]).toEqual(['karvonen', 1, 100]);
      for (const key of ['skill', 'movetimeMs', 'nodes']) expect(s.engine[key]).toBe(hot.engine[key]);
      expectMatchRowBeside(dir, `${row}, Karvonen's temperatures`, s, hot);
    }
  });

  it.each(fineTunesFrom(6, FIRST_YARDSTICK).map((n) => `fine-tune-${n}`))('%s\'s README holds its match at Karvonen\'s node budget beside the first model\'s four of 25 games', (name) => {
    const dir = `${MODEL}/${name}`;
    const s = json(dir, 'matches/stockfish-skill0-nodes680000/summary.json');
    expect([s.engine.skill, s.engine.nodes, s.games]).toEqual([0, 680_000, 100]);
    const first = [1, 2, 3, 4].map((i) => json(MODEL, `matches/stockfish-skill0-nodes680000-${i}/summary.json`));
    const sum = (key: string) => first.reduce((total, m) => total + m[key], 0);
    const firstTryMoves = first.reduce((total, m) => total + m.legalFirstTry * m.modelMoves, 0);
    const { firstTry, forfeits } = expectMatchRow(dir, 'Skill 0, 680,000 nodes', s);
    expect(firstTry).toBe(`${(100 * s.legalFirstTry).toFixed(1)}% of ${count(s.modelMoves)} (${(100 * firstTryMoves / sum('modelMoves')).toFixed(1)}%)`);
    expect(forfeits).toBe(`${s.forfeits} (${sum('forfeits')})`);
  });

  it('the length-buckets comparison\'s README holds the figures of its runs\' trainer states, metrics and evals', () => {
    const dir = `${MODEL}/length-buckets`;
    const metricsOf = (path: string) => readJsonl(dir, path);
    /** The median tokens/s of the steps after the 40 of warmup, as the README prints it. */
    const tokensPerSec = (metrics: { step: number; tokensPerSec: number }[]) => {
      const sorted = metrics.filter((m) => m.step > 40).map((m) => m.tokensPerSec).sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return count(Math.round(sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2));
    };
    for (const [run, buckets, first] of [['plain', undefined, 'full rows'], ['buckets', 8, '8 length classes']] as const) {
      const bench = json(dir, `bench/${run}.json`);
      expect(readmeRow(dir, first).slice(1, 3)).toEqual([bench.gamesPerSec.toFixed(1), tokensPerSec(metricsOf(`bench/${run}-metrics.jsonl`))]);
      const state = json(dir, `${run}/trainer-state.json`);
      expect(state.run.lengthBuckets).toBe(buckets);
      const metrics = metricsOf(`${run}/metrics.jsonl`);
      const valLoss = (step: number) => metrics.find((m) => m.step === step).valLoss.toFixed(4);
      const [cpu, gpu] = ['eval-s2033-cpu.json', 'eval-s2033.json'].map((file) => json(dir, `${run}/${file}`));
      expect(readmeRow(dir, `${first} (\`${run}/\`)`).slice(1)).toEqual([
        count(state.step), `${count(state.games)} (${(state.games / state.trainSeconds).toFixed(1)})`, tokensPerSec(metrics),
        `${valLoss(100)}, ${valLoss(state.step)}`, `${pct(cpu.legalTop1)}%`, `${pct(gpu.legalTop1)}%`,
      ]);
      for (const e of [cpu, gpu]) expect(e.positions).toBe(12_430);
    }
    // the yardstick's games, checked in: its shards match the checksums of its manifest
    const yardstick = openDataset('datasets/samples/chess');
    expect([yardstick.manifest.seed, yardstick.count('train'), yardstick.count('val')]).toEqual([2033, 2374, 126]);
    yardstick.close();
    const start = json(dir, 'fine-tune-9-eval-s2033-cpu.json');
    expect(start.positions).toBe(12_430);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(`fine-tune-9 reads ${pct(start.legalTop1)}% (\`fine-tune-9-eval-s2033-cpu.json\`)`);
  });

  it.skipIf(!existsSync(STOCKFISH))('predicts a legal move at most positions of fresh Stockfish games on the cpu backend', () => {
    // Measured: 77.75% over 500 held-out games of its training set's held-out split (eval.json).
    const data = join(root, 'games');
    const made = gamba('generate', 'chess', '--source', 'stockfish', '--engine', STOCKFISH, '--skills', '20', '--nodes', '20-500',
      '--games', '4', '--seed', '11', '--workers', '2', '--out', data);
    expect(made.status, made.stderr).toBe(0);
    const run = gamba('eval', '--checkpoint', MODEL, '--data', data, '--split', 'train', '--games', '4', '--batch', '4', '--backend', 'cpu', '--json');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.positions).toBeGreaterThan(150);
    expect(report.legalTop1).toBeGreaterThan(0.55);
  });

  it.skipIf(!existsSync(STOCKFISH))('plays 2 games against Stockfish on the cpu backend', () => {
    const out = join(root, 'match');
    const run = gamba('play', '--game', 'chess', '--checkpoint', LATEST, '--opponent', 'stockfish', '--engine', STOCKFISH, '--skill', '0',
      '--games', '2', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.games).toBe(2);
    expect(summary.wins + summary.draws + summary.losses).toBe(2);
    // A model of random weights forfeits at its first move; this one makes legal moves for a while.
    expect(summary.modelMoves).toBeGreaterThan(4);
    expect(summary.legalFirstTry).toBeGreaterThan(0.4);
    expect(readFileSync(join(out, 'games.pgn'), 'utf8')).toMatch(/1\. ?[a-hNBRQK]/);
  });

  it.skipIf(!existsSync(STOCKFISH))('tries each move first at Karvonen\'s near-greedy temperature: where the greedy move is legal, it is played', async () => {
    const out = join(root, 'karvonen');
    const run = gamba('play', '--game', 'chess', '--checkpoint', MODEL, '--opponent', 'stockfish', '--engine', STOCKFISH, '--skill', '20',
      '--nodes', '100', '--games', '1', '--seed', '3', '--backend', 'cpu', '--out', out, '--json');
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.model.temperature).toBe('karvonen');
    const [game] = parsePgn(readFileSync(join(out, 'games.pgn'), 'utf8'));
    // The greedy move at each of the model's (White's) turns, read afresh, as gamba eval reads it.
    const checkpoint = loadCheckpoint(MODEL);
    const stepper = new TokenStepper(createModel(await createBackend('cpu'), checkpoint.config, checkpoint.params));
    let greedyLegal = 0;
    for (let ply = 0; ply / 2 < summary.modelMoves; ply += 2) {
      const position = new Chess();
      for (const san of game.moves.slice(0, ply)) position.move(san);
      stepper.reset();
      await stepper.feed(encodeChessText(gameStringOf(game.moves.slice(0, ply)) + (ply > 0 ? ' ' : '') + `${ply / 2 + 1}.`));
      const move = playSan(position, await sampleMoveText(stepper, 0, new Rng(0)));
      if (typeof move === 'string') continue;
      greedyLegal++;
      expect(game.moves[ply], `move ${ply / 2 + 1}`).toBe(move.san);
    }
    stepper.dispose();
    expect(game.headers.ModelLegalFirstTry).toBe(`${greedyLegal}/${summary.modelMoves}`);
    expect(greedyLegal).toBeGreaterThan(5);
  });

  it.skipIf(!existsSync(STOCKFISH))('plays the same games in the same order with --parallel 2 as one at a time', () => {
    // Skill 20 at a node budget searches the same way every time, and each game's sampling is seeded by its index.
    const match = (parallel: string) => {
      const out = join(root, `parallel-${parallel}`);
      const run = gamba('play', '--game', 'chess', '--checkpoint', MODEL, '--opponent', 'stockfish', '--engine', STOCKFISH, '--skill', '20',
        '--nodes', '100', '--games', '3', '--color', 'both', '--seed', '5', '--backend', 'cpu', '--parallel', parallel, '--out', out, '--json');
      expect(run.status, run.stderr).toBe(0);
      return { pgn: readFileSync(join(out, 'games.pgn'), 'utf8'), summary: JSON.parse(run.stdout) };
    };
    const [one, two] = [match('1'), match('2')];
    expect(one.pgn.match(/\[Round "\d+"\]/g)).toEqual(['[Round "1"]', '[Round "2"]', '[Round "3"]']);
    expect(two.pgn).toBe(one.pgn);
    for (const key of ['wins', 'draws', 'losses', 'legalFirstTry', 'modelMoves', 'meanPlies', 'forfeits']) expect(two.summary[key]).toBe(one.summary[key]);
    expect(one.summary.modelMoves).toBeGreaterThan(6);
  });
});
