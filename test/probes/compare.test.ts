/**
 * `gamba compare` end to end: a tiny Mamba and a tiny transformer trained for two steps, each probed
 * and evaluated (the Mamba with an auxiliary board loss), beside the shipped othello-base report (no
 * trainer state: its training reads as unknown). compare.json carries each model's size, training, legal rate and probes as their own
 * files say; compare.html loads in headless Chromium; bad input is refused with one line.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport } from '../../probes/compare.js';
import { readReport } from '../../probes/report.js';
import { configFromPreset } from '../../src/model/config.js';
import { parameterCount } from '../../src/model/models.js';
import { startTraining } from '../../src/train/trainer.js';
import { gamba, gambaPath, requireBuiltCli } from '../cli-runner.js';
import { hasChromium, loadInChromium } from './chromium.js';

const SAMPLES = join('datasets', 'samples', 'othello');
const SHIPPED = join('models', 'othello-base', 'probe-mine-theirs');
const root = mkdtempSync(join(tmpdir(), 'gamba-compare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const PRESETS = ['tiny', 'quickstart-gpt'] as const;
const BATCH = 4;

beforeAll(async () => {
  requireBuiltCli();
  for (const preset of PRESETS) {
    const checkpoint = join(root, preset);
    await startTraining({
      outDir: checkpoint, game: 'othello', data: SAMPLES, preset, backend: 'cpu', batch: BATCH, lr: 3e-3, weightDecay: 0.1,
      clip: 1, seed: 2, valEvery: 10, valGames: 4, saveEvery: 10, steps: 2, ...(preset === 'tiny' ? { auxBoardLoss: 0.5, auxLayer: 1, snapshotEvery: 1 } : {}),
    });
    const probe = gamba('probe', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '20', '--eval-games', '5', '--epochs', '0', '--backend', 'cpu', '--batch', '10', '--json');
    expect(probe.stderr).not.toMatch(/^gamba:/m);
    const evaluation = execFileSync(process.execPath, [gambaPath, 'eval', '--checkpoint', checkpoint, '--data', SAMPLES, '--games', '5', '--backend', 'cpu', '--json'], { encoding: 'utf8' });
    writeFileSync(join(checkpoint, 'eval.json'), evaluation);
  }
}, 300_000);

describe('gamba compare', () => {
  it('puts the models side by side as their reports, trainer states and evals say', () => {
    const out = join(root, 'compare');
    const reports = [...PRESETS.map((p) => join(root, p, 'probe-mine-theirs')), SHIPPED];
    const run = gamba('compare', ...reports, '--out', out, '--json');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ json: join(out, 'compare.json'), html: join(out, 'compare.html') });
    const compare = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareReport;
    expect(compare).toMatchObject({ format: 'gamba-compare', version: 1, game: 'othello', target: 'mine-theirs' });
    expect(compare.models.map((m) => m.name)).toEqual(['tiny', 'quickstart-gpt', 'othello-base']);
    expect(compare.models.map((m) => m.architecture)).toEqual(['mamba', 'transformer', 'mamba']);
    PRESETS.forEach((preset, i) => {
      const m = compare.models[i];
      expect(m.parameters).toBe(parameterCount(configFromPreset(preset, 61, 59)));
      expect(m.training).toMatchObject({ steps: 2, tokens: 2 * BATCH * 59, backend: 'cpu', auxBoardLoss: preset === 'tiny' ? { weight: 0.5, layer: 1 } : null });
      expect(m.legalTop1).toBe(JSON.parse(readFileSync(join(root, preset, 'eval.json'), 'utf8')).legalTop1);
      const report = readReport(join(reports[i], 'report.json'));
      expect(m.layers.map((l) => [l.source, l.layer, l.cellAcc, l.boardAcc])).toEqual(report.layers.map((l) => [l.source, l.layer, l.cellAcc, l.boardAcc]));
      expect(m.lens).toHaveLength(report.lens!.layers.length);
    });
    // The transformer has no state; the shipped model has no trainer state but an eval.json.
    expect(compare.models[1].best.map((b) => b.source)).toEqual(['residual']);
    expect(compare.models[1].dState).toBeNull();
    const shipped = compare.models[2];
    expect(shipped.training).toBeNull();
    expect(shipped.legalTop1).toBe(JSON.parse(readFileSync(join('models', 'othello-base', 'eval.json'), 'utf8')).legalTop1);
    expect(shipped.best.find((b) => b.source === 'residual')).toMatchObject({ layer: 6 });
    expect(shipped.layers.find((l) => l.source === 'residual' && l.layer === 6)!.control!.cellAcc).toBeLessThan(0.7);
    // The late game: the best layer's positions after move 40, pooled, and its control's over the same positions.
    expect(compare.afterMove).toBe(40);
    const layer6 = readReport(join(SHIPPED, 'report.json')).layers.find((l) => l.source === 'residual' && l.layer === 6)!;
    const lateMoves = layer6.byMove.filter((m) => m.move > 40);
    const late = shipped.best.find((b) => b.source === 'residual')!.late!;
    expect(late.positions).toBe(lateMoves.reduce((sum, m) => sum + m.positions, 0));
    expect(late.boardAcc).toBeLessThan(layer6.boardAcc);
    expect(late.cellAcc).toBeGreaterThan(Math.min(...lateMoves.map((m) => m.cellAcc)));
    expect(late.cellAcc).toBeLessThan(Math.max(...lateMoves.map((m) => m.cellAcc)));
    expect(late.control!.cellAcc).toBeLessThan(late.cellAcc);
  });

  it('draws the learning curve of a run from its checkpoints: its snapshot and its final state, by tokens and minutes', () => {
    const snapshot = join(root, 'tiny', 'snapshots', 'step-0000001');
    expect(gamba('probe', '--checkpoint', snapshot, '--data', SAMPLES, '--games', '20', '--eval-games', '5', '--epochs', '0', '--backend', 'cpu', '--batch', '10').status).toBe(0);
    writeFileSync(join(snapshot, 'eval.json'), execFileSync(process.execPath, [gambaPath, 'eval', '--checkpoint', snapshot, '--data', SAMPLES, '--games', '5', '--backend', 'cpu', '--json'], { encoding: 'utf8' }));
    // matches kept beside the checkpoints: the snapshot against random, the final state against random and
    // twice against greedy (pooled), and one against a person's stand-in that compare leaves out
    const play = (checkpoint: string, opponent: string, games: string, ...out: string[]) => {
      const run = gamba('play', '--game', 'othello', '--checkpoint', checkpoint, '--opponent', opponent, '--games', games, '--backend', 'cpu', '--seed', '1', ...out);
      expect(run.status, run.stderr).toBe(0);
    };
    play(snapshot, 'random', '4');
    play(join(root, 'tiny'), 'random', '4');
    play(join(root, 'tiny'), 'greedy', '2', '--out', join(root, 'tiny', 'matches', 'greedy-a'));
    play(join(root, 'tiny'), 'greedy', '3', '--seed', '2', '--out', join(root, 'tiny', 'matches', 'greedy-b'));
    // sampled at temperature 1, another protocol: pooled apart
    play(join(root, 'tiny'), 'greedy', '2', '--temperature', '1', '--out', join(root, 'tiny', 'matches', 'greedy-sampled'));
    const summary = (dir: string) => JSON.parse(readFileSync(join(root, 'tiny', 'matches', dir, 'summary.json'), 'utf8')) as { wins: number; draws: number; losses: number; score: number };
    mkdirSync(join(root, 'tiny', 'matches', 'by-hand'));
    writeFileSync(join(root, 'tiny', 'matches', 'by-hand', 'summary.json'), JSON.stringify({ games: 1, wins: 1, draws: 0, losses: 0, score: 1, opponent: { name: 'human' } }));
    const out = join(root, 'compare-curve');
    const reports = [join(root, 'tiny', 'probe-mine-theirs'), join(snapshot, 'probe-mine-theirs'), join(root, 'quickstart-gpt', 'probe-mine-theirs')];
    const run = gamba('compare', ...reports, '--name', 'final', 'step-1', 'gpt', '--out', out);
    expect(run.status, run.stderr).toBe(0);
    const compare = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareReport;
    const tinyRun = relative(process.cwd(), join(root, 'tiny'));
    expect(compare.models.map((m) => m.training!.run)).toEqual([tinyRun, tinyRun, relative(process.cwd(), join(root, 'quickstart-gpt'))]);
    expect(compare.curves).toHaveLength(1);
    const [curve] = compare.curves;
    expect(curve.run).toBe(tinyRun);
    expect(curve.points.map((p) => [p.model, p.tokens])).toEqual([['step-1', BATCH * 59], ['final', 2 * BATCH * 59]]);
    expect(curve.points[0].legalTop1).toBe(JSON.parse(readFileSync(join(snapshot, 'eval.json'), 'utf8')).legalTop1);
    expect(curve.points[1].residualCellAcc).toBe(compare.models[0].best.find((b) => b.source === 'residual')!.cellAcc);
    expect(curve.points[0].minutes).toBeLessThan(curve.points[1].minutes);
    const [a, b] = [summary('greedy-a'), summary('greedy-b')];
    const greedy = { opponent: 'greedy', games: 5, wins: a.wins + b.wins, draws: a.draws + b.draws, losses: a.losses + b.losses };
    const sampled = summary('greedy-sampled');
    expect(compare.models[0].matches).toEqual([
      { ...greedy, score: (greedy.wins + greedy.draws / 2) / 5 },
      { opponent: 'greedy, model at temperature 1', games: 2, wins: sampled.wins, draws: sampled.draws, losses: sampled.losses, score: sampled.score },
      { opponent: 'random', games: 4, wins: expect.any(Number), draws: expect.any(Number), losses: expect.any(Number), score: expect.any(Number) },
    ]);
    expect(compare.models[2].matches).toEqual([]);
    expect(Object.keys(curve.points[0].scores)).toEqual(['random']);
    const [pooled, apart, random] = compare.models[0].matches;
    expect(curve.points[1].scores).toEqual({ greedy: pooled.score, 'greedy, model at temperature 1': apart.score, random: random.score });
    const html = readFileSync(join(out, 'compare.html'), 'utf8');
    expect(html).toContain('Legal top-1 by training minutes');
    expect(html).toContain('Match score by training tokens');
    expect((html.match(/<svg /g) ?? []).length).toBe(11);
  });

  it('reads a checkpoint moved together with its report from where it lies now, not from where it was probed', () => {
    const moved = join(root, 'moved', 'tiny');
    cpSync(join(root, 'tiny'), moved, { recursive: true });
    writeFileSync(join(moved, 'eval.json'), JSON.stringify({ legalTop1: 0.5, positions: 1, byMove: [] }));
    const out = join(root, 'compare-moved');
    expect(gamba('compare', join(moved, 'probe-mine-theirs'), '--out', out).status).toBe(0);
    const compare = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareReport;
    expect(compare.models[0]).toMatchObject({ checkpoint: relative(process.cwd(), moved), legalTop1: 0.5 });
  });

  it('pools a best layer over every held-out position when --after-move is 0: its whole accuracy again', () => {
    const out = join(root, 'compare-all-moves');
    expect(gamba('compare', SHIPPED, '--after-move', '0', '--out', out).status).toBe(0);
    const compare = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareReport;
    const report = readReport(join(SHIPPED, 'report.json'));
    for (const best of compare.models[0].best) {
      const layer = report.layers.find((l) => l.source === best.source && l.layer === best.layer)!;
      expect(best.late!.positions).toBe(layer.positions);
      expect(best.late!.cellAcc).toBeCloseTo(layer.cellAcc, 9);
      expect(best.late!.boardAcc).toBeCloseTo(layer.boardAcc, 9);
    }
    const bad = gamba('compare', SHIPPED, '--after-move', '2.5', '--out', join(root, 'bad-after'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('gamba: --after-move: 2.5 is not a move number (an integer from 0)\n');
    expect(existsSync(join(root, 'bad-after'))).toBe(false);
  });

  it.skipIf(!hasChromium)('draws a page that loads in headless Chromium without a problem', () => {
    const out = join(root, 'compare-page');
    expect(gamba('compare', join(root, 'tiny', 'probe-mine-theirs'), SHIPPED, '--name', 'small', 'base', '--out', out).status).toBe(0);
    const page = loadInChromium(join(out, 'compare.html'), root);
    expect(page.status).toBe(0);
    expect(page.problems).toEqual([]);
    expect((page.dom.match(/<svg /g) ?? []).length).toBe(5);
    expect(page.dom).toContain('small: state');
    expect(page.dom).toContain('0.5 at layer 1');
    expect(page.dom).toContain('base: tuned lens');
  });

  it('refuses mixed targets, a second run into the same directory, and names that do not match, with one line each', () => {
    const flipped = join(root, 'flipped');
    expect(gamba('probe', '--checkpoint', join(root, 'tiny'), '--data', SAMPLES, '--target', 'flipped', '--games', '10', '--eval-games', '3', '--epochs', '0',
      '--source', 'residual', '--no-random-init', '--backend', 'cpu', '--out', flipped).status).toBe(0);
    const mixed = gamba('compare', SHIPPED, flipped, '--out', join(root, 'mixed'));
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toBe(`gamba: ${join(flipped, 'report.json')}: probes othello flipped, but ${join(SHIPPED, 'report.json')} probes othello mine-theirs; compare reports of one game and target\n`);
    expect(existsSync(join(root, 'mixed'))).toBe(false);
    const out = join(root, 'compare');
    const again = gamba('compare', SHIPPED, '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(`gamba: --out ${out}: already holds compare.json (use --force to replace it)\n`);
    const names = gamba('compare', SHIPPED, SHIPPED, '--name', 'one', '--out', join(root, 'names'));
    expect(names.stderr).toBe('gamba: --name: 1 names for 2 reports (give one per report, in order)\n');
    const twice = gamba('compare', SHIPPED, SHIPPED, '--out', join(root, 'twice'));
    expect(twice.stderr).toBe('gamba: compare: two models are named othello-base; name them with --name\n');
    const badMatch = join(root, 'bad-match', 'tiny');
    cpSync(join(root, 'tiny'), badMatch, { recursive: true });
    mkdirSync(join(badMatch, 'matches', 'x'), { recursive: true });
    writeFileSync(join(badMatch, 'matches', 'x', 'summary.json'), JSON.stringify({ wins: 'many', draws: 0, losses: 1 }));
    const refused = gamba('compare', join(badMatch, 'probe-mine-theirs'), '--out', join(root, 'bad-match-out'));
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe(`gamba: ${relative(process.cwd(), join(badMatch, 'matches', 'x', 'summary.json'))}: wins, draws and losses must be counts (the summary.json of \`gamba play\`)\n`);
    expect(existsSync(join(root, 'bad-match-out'))).toBe(false);
    const badEval = join(root, 'bad-eval', 'tiny');
    cpSync(join(root, 'tiny'), badEval, { recursive: true });
    writeFileSync(join(badEval, 'eval.json'), '{"legalTop1": 0.9');
    const truncated = gamba('compare', join(badEval, 'probe-mine-theirs'), '--out', join(root, 'bad-eval-out'));
    expect(truncated.status).toBe(2);
    expect(truncated.stderr).toMatch(new RegExp(`^gamba: ${relative(process.cwd(), join(badEval, 'eval.json'))}: not valid JSON \\(.+\\)\\n$`));
    expect(existsSync(join(root, 'bad-eval-out'))).toBe(false);
    const missing = gamba('compare', join(root, 'nope'), '--out', join(root, 'missing'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`gamba: ${join(root, 'nope', 'report.json')}: no such report (run \`gamba probe\` first)\n`);
  });
});
