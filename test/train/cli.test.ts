import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../datasets/reader.js';
import { startTraining } from '../../src/train/trainer.js';

const REPO = join(import.meta.dirname, '..', '..');
const SAMPLES = join(REPO, 'datasets', 'samples', 'othello');
const root = mkdtempSync(join(tmpdir(), 'gamba-train-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function gamba(args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO, 'bin', 'gamba.js'), ...args], { encoding: 'utf8', cwd: root });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const RUN_FLAGS = ['--game', 'othello', '--data', SAMPLES, '--preset', 'tiny', '--backend', 'cpu', '--batch', '4', '--lr', '0.003', '--seed', '3', '--val-every', '50', '--val-games', '8'];

describe('gamba train (CLI)', () => {
  it('saves on SIGINT, exits 0 with the resume command, and resumes on the same losses', async () => {
    const out = join(root, 'interrupted');
    // A long horizon, interrupted once a couple of steps are logged.
    const child = spawn(process.execPath, [join(REPO, 'bin', 'gamba.js'), 'train', ...RUN_FLAGS, '--steps', '100000', '--out', out, '--json'], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const metrics = join(out, 'metrics.jsonl');
    const poll = setInterval(() => {
      if (existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 2) {
        clearInterval(poll);
        child.kill('SIGINT');
      }
    }, 20);
    const code = await new Promise<number | null>((done) => child.on('close', done));
    clearInterval(poll);
    expect(code).toBe(0);
    const stoppedAt = JSON.parse(stdout) as { steps: number; stopped: boolean; lossHistory: number[] };
    expect(stoppedAt.stopped).toBe(true);
    expect(stoppedAt.steps).toBeGreaterThanOrEqual(2);
    expect(stderr).toContain(`resume with: npx gamba train --resume --out ${out}`);

    // Resume (stopping again a few steps later) and compare with the same run never interrupted.
    const target = stoppedAt.steps + 3;
    const resumed = gamba(['train', '--resume', '--out', out, '--json', '--stop-after', String(target)]);
    expect(resumed.stderr).toMatch(new RegExp(`resuming .* at step ${stoppedAt.steps} of 100000`));
    expect(resumed.code).toBe(0);
    const resumedResult = JSON.parse(resumed.stdout) as { steps: number; lossHistory: number[] };
    expect(resumedResult.steps).toBe(target);
    const straight = await startTraining(
      {
        outDir: join(root, 'straight'), game: 'othello', data: SAMPLES, preset: 'tiny', backend: 'cpu', batch: 4, lr: 3e-3, weightDecay: 0.1,
        clip: 1, seed: 3, valEvery: 50, valGames: 8, saveEvery: 500, steps: 100000,
      },
      { stopAfterStep: target },
    );
    expect(resumedResult.lossHistory).toEqual(straight.lossHistory);
  });

  it.each([
    { signal: 'SIGTERM', code: 0, requested: 'true\n' },
    { signal: 'SIGINT', code: 130, requested: '' },
  ])('a second $signal exits with $code', ({ signal, code, requested }) => {
    // timeout sends SIGTERM to the command and then to its process group: the second must not cost the checkpoint.
    const script = `import(${JSON.stringify(join(REPO, 'dist', 'src', 'commands', 'train.js'))}).then(({ installStopSignals }) => {
      const stop = installStopSignals();
      process.kill(process.pid, '${signal}');
      setTimeout(() => process.kill(process.pid, '${signal}'), 100);
      setTimeout(() => { console.log(stop.requested()); process.exit(0); }, 200);
    });`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toContain(`${signal}: saving a checkpoint`);
    expect(run.status).toBe(code);
    expect(run.stdout).toBe(requested);
  });

  it('prints the --json summary of a finished run and evaluates it', () => {
    const out = join(root, 'short');
    const trained = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--out', out, '--json']);
    expect(trained.code).toBe(0);
    const summary = JSON.parse(trained.stdout);
    expect(summary).toMatchObject({ steps: 3, backend: 'cpu', stopped: false });
    expect(summary.lossHistory).toHaveLength(3);
    expect(summary.finalLoss).toBe(summary.lossHistory[2]);
    expect(summary.valLoss).toBeGreaterThan(0);
    expect(summary.tokensPerSec).toBeGreaterThan(0);

    const evaluated = gamba(['eval', '--checkpoint', out, '--data', SAMPLES, '--games', '12', '--backend', 'cpu', '--json']);
    expect(evaluated.code).toBe(0);
    const report = JSON.parse(evaluated.stdout);
    expect(report.legalTop1).toBeGreaterThanOrEqual(0);
    expect(report.legalTop1).toBeLessThanOrEqual(1);
    // One position per non-final prefix: a synthetic game of n moves has n-1.
    const dataset = openDataset(SAMPLES);
    const games = dataset.readGames('val', 0, 12);
    let expected = 0;
    for (let g = 0; g < 12; g++) {
      let n = 0;
      while (n < 60 && games[g * 60 + n] !== 0) n++;
      expected += n - 1;
    }
    expect(report.positions).toBe(expected);
    expect(report.byMove.reduce((sum: number, m: { positions: number }) => sum + m.positions, 0)).toBe(expected);
  });

  it('refuses bad flags and existing checkpoints with one line', () => {
    const out = join(root, 'short');
    const again = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^gamba: .*already holds a checkpoint: add --resume to continue that run, or --force to replace it\n$/);
    const both = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--minutes', '1', '--out', join(root, 'x')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --steps N and --minutes M/);
    const badClip = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--clip', '-1', '--out', join(root, 'y')]);
    expect(badClip.stderr).toMatch(/^gamba: --clip: expected a number >= 0, got -1\n$/);
    const noRun = gamba(['train', '--resume', '--out', join(root, 'nothing')]);
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toMatch(/no checkpoint to resume/);
    const wrongData = gamba(['eval', '--checkpoint', join(root, 'nothing'), '--data', SAMPLES]);
    expect(wrongData.code).toBe(2);
    expect(wrongData.stderr).toMatch(/no such checkpoint directory/);
  });
});

describe('gamba train --init (a fine-tune)', () => {
  it('starts from the checkpoint\'s weights: its first loss is the trained model\'s, not a fresh one\'s', () => {
    const base = join(root, 'init-base');
    expect(gamba(['train', ...RUN_FLAGS, '--lr', '0.01', '--steps', '80', '--out', base, '--json']).code).toBe(0);
    const trained = JSON.parse(readFileSync(join(base, 'trainer-state.json'), 'utf8')) as { lossHistory: number[] };
    const tuned = gamba(['train', ...RUN_FLAGS, '--seed', '4', '--steps', '2', '--init', base, '--out', join(root, 'init-tuned'), '--json']);
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.stderr).toContain(`--init: starting from the weights of ${base}`);
    const fresh = gamba(['train', ...RUN_FLAGS, '--seed', '4', '--steps', '2', '--out', join(root, 'init-fresh'), '--json']);
    const [tunedFirst, freshFirst] = [tuned, fresh].map((r) => (JSON.parse(r.stdout) as { lossHistory: number[] }).lossHistory[0]);
    const trainedLast = trained.lossHistory.slice(-5).reduce((a, b) => a + b) / 5;
    // measured: fresh 4.17, trained (last 5 steps) 3.885, fine-tune's first step 3.888
    expect(tunedFirst).toBeLessThan(freshFirst - 0.2);
    expect(Math.abs(tunedFirst - trainedLast)).toBeLessThan(0.05);
    const state = JSON.parse(readFileSync(join(root, 'init-tuned', 'trainer-state.json'), 'utf8')) as { run: { init: string } };
    expect(state.run.init).toBe(base);
  });

  it('records the training behind the weights it starts from, through a chain of fine-tunes', () => {
    type State = { step: number; trainSeconds: number; run: { batch: number; initTraining?: { steps: number; games: number; seconds: number } } };
    const read = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'trainer-state.json'), 'utf8')) as State;
    const [base, tuned] = [read('init-base'), read('init-tuned')];
    expect(base.run.initTraining).toBeUndefined();
    expect(tuned.run.initTraining).toEqual({ steps: base.step, games: base.step * base.run.batch, seconds: base.trainSeconds });
    const again = gamba(['train', ...RUN_FLAGS, '--steps', '1', '--batch', '3', '--init', join(root, 'init-tuned'), '--out', join(root, 'init-again')]);
    expect(again.code, again.stderr).toBe(0);
    expect(read('init-again').run.initTraining).toEqual({
      steps: base.step + tuned.step,
      games: base.step * base.run.batch + tuned.step * tuned.run.batch,
      seconds: base.trainSeconds + tuned.trainSeconds,
    });
  });

  it('refuses a checkpoint of another preset, a missing one, and --init with --resume, in one line', () => {
    const base = join(root, 'init-base');
    const other = gamba(['train', ...RUN_FLAGS, '--preset', 'quickstart', '--steps', '1', '--init', base, '--out', join(root, 'init-other')]);
    expect(other.code).not.toBe(0);
    expect(other.stderr.trim()).toMatch(/^gamba: .*init-base\/config\.json: \w+ is .* but the run's preset needs .* \(config mismatch\)$/);
    const missing = gamba(['train', ...RUN_FLAGS, '--steps', '1', '--init', join(root, 'nowhere'), '--out', join(root, 'init-missing')]);
    expect(missing.stderr.trim()).toMatch(/nowhere: no such checkpoint directory$/);
    expect(existsSync(join(root, 'init-missing'))).toBe(false);
    const both = gamba(['train', '--resume', '--init', base, '--out', join(root, 'init-tuned')]);
    expect(both.code).not.toBe(0);
    expect(both.stderr.trim()).toMatch(/--init starts a new run from a checkpoint's weights; to continue the run in .* leave it out$/);
  });
});

describe('gamba train --winner-moves', () => {
  it('learns only the winners\' moves (fewer targets: another loss), records it, and a resume keeps it', () => {
    const out = join(root, 'winners');
    const run = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--winner-moves', '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const all = gamba(['train', ...RUN_FLAGS, '--steps', '3', '--out', join(root, 'all-moves'), '--json']);
    const [winnersLoss, allLoss] = [run, all].map((r) => (JSON.parse(r.stdout) as { lossHistory: number[] }).lossHistory[0]);
    expect(winnersLoss).not.toBe(allLoss);
    expect((JSON.parse(readFileSync(join(out, 'trainer-state.json'), 'utf8')) as { run: { winnerMoves: boolean } }).run.winnerMoves).toBe(true);
    const refused = gamba(['train', '--resume', '--out', join(root, 'all-moves'), '--winner-moves']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^gamba: --winner-moves true differs from this run's false/);
  });

  it('is refused for chess, whose records do not say who won, before anything is written', () => {
    const out = join(root, 'chess-winners');
    const data = join(root, 'chess-games');
    expect(gamba(['generate', 'chess', '--games', '20', '--seed', '1', '--out', data]).code).toBe(0);
    const chess = gamba(['train', '--game', 'chess', '--data', data, '--preset', 'tiny', '--backend', 'cpu', '--steps', '1', '--winner-moves', '--out', out]);
    expect(chess.code).not.toBe(0);
    expect(chess.stderr.trim()).toBe('gamba: --winner-moves: chess records do not say who won');
    expect(existsSync(out)).toBe(false);
  });
});

describe('gamba train --labelled-positions', () => {
  it('learns only the last move of a record cut before its game ends, leaves whole games as they were, and records it', () => {
    // the same games, and the same games cut after 12 moves: labelled positions whose answer is move 12
    const exported = gamba(['dataset', 'export', SAMPLES, '--split', 'train', '--limit', '200']);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout.trim().split('\n');
    const cut = lines.map((line) => JSON.stringify({ moves: (JSON.parse(line) as { moves: string[] }).moves.slice(0, 12) }));
    writeFileSync(join(root, 'cut.jsonl'), cut.join('\n') + '\n');
    const positions = join(root, 'cut-games');
    expect(gamba(['dataset', 'import-jsonl', join(root, 'cut.jsonl'), '--val-fraction', '0.2', '--out', positions]).code).toBe(0);
    const flags = (data: string, out: string, extra: string[]) => ['train', ...RUN_FLAGS.map((f) => (f === SAMPLES ? data : f)), '--steps', '2', '--out', join(root, out), '--json', ...extra];
    const loss = (args: string[]) => {
      const run = gamba(args);
      expect(run.code, run.stderr).toBe(0);
      return (JSON.parse(run.stdout) as { lossHistory: number[] }).lossHistory;
    };
    // whole games: the same losses with the flag as without it
    expect(loss(flags(SAMPLES, 'whole-labelled', ['--labelled-positions']))).toEqual(loss(flags(SAMPLES, 'whole', [])));
    // cut games: a loss over one target a record instead of eleven
    const labelled = loss(flags(positions, 'cut-labelled', ['--labelled-positions']));
    expect(labelled[0]).not.toBe(loss(flags(positions, 'cut', []))[0]);
    const state = JSON.parse(readFileSync(join(root, 'cut-labelled', 'trainer-state.json'), 'utf8')) as { run: { labelledPositions: boolean } };
    expect(state.run.labelledPositions).toBe(true);
    const refused = gamba(['train', '--resume', '--out', join(root, 'cut'), '--labelled-positions']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^gamba: --labelled-positions true differs from this run's false/);
  });

  it('is refused for chess, whose records are always whole games, before anything is written', () => {
    const data = join(root, 'chess-positions');
    expect(gamba(['generate', 'chess', '--games', '20', '--seed', '1', '--out', data]).code).toBe(0);
    const out = join(root, 'chess-labelled');
    const chess = gamba(['train', '--game', 'chess', '--data', data, '--preset', 'tiny', '--backend', 'cpu', '--steps', '1', '--labelled-positions', '--out', out]);
    expect(chess.code).not.toBe(0);
    expect(chess.stderr.trim()).toBe('gamba: --labelled-positions: chess records are always whole games');
    expect(existsSync(out)).toBe(false);
  });
});

describe('gamba train --plies', () => {
  it('learns only the moves played after LO to HI moves: move 12 of whole games is the answer of the same games cut there', () => {
    // the same 200 games, whole and cut after 12 moves, with the same split: the model reads the same 11 moves before move 12
    const lines = gamba(['dataset', 'export', SAMPLES, '--split', 'train', '--limit', '200']).stdout.trim().split('\n');
    const games = lines.map((line) => (JSON.parse(line) as { moves: string[] }).moves);
    const dataset = (name: string, moves: string[][]) => {
      writeFileSync(join(root, `${name}.jsonl`), moves.map((m) => JSON.stringify({ moves: m })).join('\n') + '\n');
      expect(gamba(['dataset', 'import-jsonl', join(root, `${name}.jsonl`), '--val-fraction', '0.2', '--seed', '5', '--out', join(root, name)]).code).toBe(0);
      return join(root, name);
    };
    const [whole, cut] = [dataset('plies-whole', games), dataset('plies-cut', games.map((m) => m.slice(0, 12)))];
    const losses = (data: string, out: string, extra: string[]) => {
      const run = gamba(['train', ...RUN_FLAGS.map((f) => (f === SAMPLES ? data : f)), '--steps', '3', '--val-every', '3', '--out', join(root, out), '--json', ...extra]);
      expect(run.code, run.stderr).toBe(0);
      const state = JSON.parse(readFileSync(join(root, out, 'trainer-state.json'), 'utf8')) as { lossHistory: number[]; valHistory: { loss: number }[]; run: { plies?: string } };
      return { train: state.lossHistory, val: state.valHistory.map((v) => v.loss), plies: state.run.plies };
    };
    const picked = losses(whole, 'plies-11', ['--plies', '11']);
    const answers = losses(cut, 'plies-answers', ['--labelled-positions']);
    expect(picked.plies).toBe('11-11');
    for (const key of ['train', 'val'] as const) {
      expect(picked[key]).toHaveLength(answers[key].length);
      picked[key].forEach((loss, i) => expect(loss).toBeCloseTo(answers[key][i], 5));
    }
    // every target ply is every move; a range in the middle is another loss, on top of --winner-moves too
    const all = losses(whole, 'plies-none', []);
    expect(losses(whole, 'plies-all', ['--plies', '1-59']).train).toEqual(all.train);
    const winners = losses(whole, 'plies-winners', ['--winner-moves']);
    const middle = losses(whole, 'plies-winners-middle', ['--winner-moves', '--plies', '20-40']);
    expect(middle.train[0]).not.toBeCloseTo(winners.train[0], 3);
    expect(middle.train[0]).not.toBeCloseTo(losses(whole, 'plies-middle', ['--plies', '20-40']).train[0], 3);
  });

  it('refuses a range out of bounds, chess, and another range on resume, in one line', () => {
    const bad = gamba(['train', ...RUN_FLAGS, '--steps', '1', '--plies', '0-20', '--out', join(root, 'plies-bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe('gamba: --plies 0-20: expected a number of moves or a range LO-HI within 1-59, e.g. 1-3');
    const data = join(root, 'chess-plies');
    expect(gamba(['generate', 'chess', '--games', '20', '--seed', '1', '--out', data]).code).toBe(0);
    const chess = gamba(['train', '--game', 'chess', '--data', data, '--preset', 'tiny', '--backend', 'cpu', '--steps', '1', '--plies', '10-20', '--out', join(root, 'chess-plies-run')]);
    expect(chess.code).not.toBe(0);
    expect(chess.stderr.trim()).toBe('gamba: --plies: a chess move spans several tokens of a record, so moves cannot be picked by ply');
    expect(existsSync(join(root, 'chess-plies-run'))).toBe(false);
    const refused = gamba(['train', '--resume', '--out', join(root, 'plies-none'), '--plies', '20-40']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^gamba: --plies 20-40 differs from this run's 1-59/);
  });
});

describe('gamba train --save-best', () => {
  // validation every 2 steps; at lr 5 the run diverges, and its lowest validation loss comes before the end
  const flags = (out: string, lr: string) => ['train', '--game', 'othello', '--data', SAMPLES, '--preset', 'tiny', '--backend', 'cpu', '--batch', '4', '--lr', lr,
    '--seed', '3', '--val-every', '2', '--val-games', '8', '--steps', '16', '--out', out, '--json'];

  for (const lr of ['0.003', '5']) {
    it(`keeps the checkpoint of the lowest validation loss in OUT/best, a whole checkpoint that eval reads (lr ${lr})`, () => {
      const out = join(root, `best-${lr}`);
      const run = gamba([...flags(out, lr), '--save-best']);
      expect(run.code, run.stderr).toBe(0);
      const vals = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number; valLoss?: number })
        .filter((m) => m.valLoss !== undefined);
      expect(vals.map((m) => m.step)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
      const lowest = vals.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
      if (lr === '5') expect(lowest.step).toBeLessThan(16);
      const { best } = JSON.parse(run.stdout) as { best: { step: number; valLoss: number; checkpoint: string } };
      expect(best).toEqual({ step: lowest.step, valLoss: lowest.valLoss, checkpoint: join(out, 'best') });
      const state = JSON.parse(readFileSync(join(out, 'best', 'trainer-state.json'), 'utf8')) as { step: number; run: { saveBest: boolean } };
      expect(state.step).toBe(lowest.step);
      expect(state.run.saveBest).toBe(true);
      // the best weights are the run's own at that step: the final ones when the last validation was the lowest
      const same = readFileSync(join(out, 'best', 'model.safetensors')).equals(readFileSync(join(out, 'model.safetensors')));
      expect(same).toBe(lowest.step === 16);
      const evaluated = gamba(['eval', '--checkpoint', join(out, 'best'), '--data', SAMPLES, '--games', '4', '--backend', 'cpu', '--json']);
      expect(evaluated.code, evaluated.stderr).toBe(0);
    });
  }

  it('is kept on resume, refused on a run without it, and --force drops the replaced run\'s best', () => {
    const out = join(root, 'best-resumed');
    const stopped = gamba([...flags(out, '5'), '--save-best', '--stop-after', '6']);
    expect(stopped.code, stopped.stderr).toBe(0);
    const resumed = gamba(['train', '--resume', '--out', out, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    // the same run as the one never stopped above: the same best
    const whole = JSON.parse(readFileSync(join(root, 'best-5', 'best', 'trainer-state.json'), 'utf8')) as { step: number };
    expect((JSON.parse(resumed.stdout) as { best: { step: number } }).best.step).toBe(whole.step);
    expect(readFileSync(join(out, 'best', 'model.safetensors')).equals(readFileSync(join(root, 'best-5', 'best', 'model.safetensors')))).toBe(true);

    const plain = join(root, 'no-best');
    expect(gamba([...flags(plain, '0.003')]).code).toBe(0);
    const refused = gamba(['train', '--resume', '--out', plain, '--save-best']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim()).toMatch(/^gamba: --save-best true differs from this run's false/);

    const again = gamba([...flags(out, '0.003'), '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(out, 'best'))).toBe(false);
    expect(JSON.parse(again.stdout)).not.toHaveProperty('best');
  });
});

describe('gamba train --snapshot-every', () => {
  const flags = (out: string) => ['train', ...RUN_FLAGS, '--steps', '8', '--out', out];
  const snapshot = (out: string, step: number) => join(out, 'snapshots', `step-${String(step).padStart(7, '0')}`);

  it('keeps the model as it stood every N steps: the weights of the run stopped there, with its trainer state, no optimizer', () => {
    const out = join(root, 'snapshots');
    const run = gamba([...flags(out), '--snapshot-every', '3']);
    expect(run.code, run.stderr).toBe(0);
    const stoppedAt6 = join(root, 'stopped-at-6');
    expect(gamba([...flags(stoppedAt6), '--stop-after', '6']).code).toBe(0);
    for (const step of [3, 6]) {
      const dir = snapshot(out, step);
      expect(existsSync(join(dir, 'optimizer.safetensors'))).toBe(false);
      expect((JSON.parse(readFileSync(join(dir, 'trainer-state.json'), 'utf8')) as { step: number; run: { snapshotEvery: number } })).toMatchObject({ step, run: { snapshotEvery: 3 } });
      const evaluated = gamba(['eval', '--checkpoint', dir, '--data', SAMPLES, '--games', '4', '--backend', 'cpu', '--json']);
      expect(evaluated.code, evaluated.stderr).toBe(0);
    }
    expect(readFileSync(join(snapshot(out, 6), 'model.safetensors')).equals(readFileSync(join(stoppedAt6, 'model.safetensors')))).toBe(true);
    expect(existsSync(snapshot(out, 8))).toBe(false);
    // the snapshots change no number of the run
    expect(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(stoppedAt6, 'model.safetensors')))).toBe(false);
    const plain = join(root, 'no-snapshots');
    expect(gamba(flags(plain)).code).toBe(0);
    expect(readFileSync(join(out, 'model.safetensors')).equals(readFileSync(join(plain, 'model.safetensors')))).toBe(true);
    const resumed = gamba(['train', '--resume', '--out', snapshot(out, 3)]);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toBe(`gamba: ${snapshot(out, 3)}: no optimizer.safetensors recorded, so not a run to resume (a --snapshot-every snapshot: eval, probe, play and --init read it)\n`);
  });

  it('may change on resume, and --force drops the replaced run\'s snapshots', () => {
    const out = join(root, 'snapshots-resumed');
    expect(gamba([...flags(out), '--snapshot-every', '2', '--stop-after', '3']).code).toBe(0);
    const resumed = gamba(['train', '--resume', '--out', out, '--snapshot-every', '5']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readdirSync(join(out, 'snapshots'))).toEqual(['step-0000002', 'step-0000005']);
    const again = gamba([...flags(out), '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(out, 'snapshots'))).toBe(false);
  });
});
