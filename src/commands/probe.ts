/**
 * `gamba probe`: fits linear board probes on every layer of a checkpoint (residual stream and SSM
 * state), scores them on held-out games next to the majority baseline and a random-init control, and
 * writes report.json + report.html + the fitted probes (probes/probe-checkpoint.ts does the work).
 */
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_PROBE, runProbe } from '../../probes/probe-checkpoint.js';
import { REPORT_HTML, REPORT_JSON, type ProbeReport } from '../../probes/report.js';
import { EDIT_KINDS, type EditKind } from '../../probes/intervene.js';
import { PROBE_TARGETS, TARGETS_OF_GAME, type ProbeTarget } from '../../probes/targets.js';
import type { BackendName } from '../backend/index.js';
import { integerFlag } from '../util/flags.js';
import { interventionLines, strengthFlag } from './intervene.js';
import { note, printResult, stagedProgress } from '../util/output.js';

interface ProbeArgs {
  checkpoint: string;
  data: string;
  target?: ProbeTarget;
  source?: 'residual' | 'state' | 'both';
  games: number;
  'eval-games': number;
  seed: number;
  'state-positions': number;
  epochs: number;
  batch: number;
  'random-init': boolean;
  intervene: boolean;
  edit: EditKind;
  strength: number;
  backend: BackendName;
  out?: string;
  force: boolean;
  json: boolean;
}

export const probeCommand: CommandModule<object, ProbeArgs> = {
  command: 'probe',
  describe: 'Fit linear board probes on every layer of a checkpoint and write a report',
  builder: (yargs) =>
    yargs
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (from `gamba train`)' })
      .option('data', { type: 'string', demandOption: true, describe: 'Othello or chess dataset directory: probes fit on its train split, score on its val split' })
      .option('target', {
        type: 'string',
        choices: PROBE_TARGETS as ProbeTarget[],
        describe: `what to decode per square, by the dataset's game (default: the first). othello: ${TARGETS_OF_GAME.othello.join(', ')} ` +
          '(mine-theirs relative to the player who just moved; flipped by the last move; legal next moves). chess: pieces ' +
          "(13 classes, 6 pieces x mine/theirs + empty, at each '.', mine = White, the side to move)",
      })
      .option('source', { type: 'string', choices: ['residual', 'state', 'both'] as const, describe: 'decode from the residual stream, the SSM state (a Mamba\'s), or both (default: every source the model has)' })
      .option('games', { type: 'number', default: DEFAULT_PROBE.games, describe: 'probe-training games (the first N of the train split)' })
      .option('eval-games', { type: 'number', default: DEFAULT_PROBE.evalGames, describe: 'held-out games to score on (the first N of the val split)' })
      .option('seed', { type: 'number', default: DEFAULT_PROBE.seed, describe: 'seed of the state-position sample, the descent and the random-init control' })
      .option('state-positions', { type: 'number', default: DEFAULT_PROBE.statePositions, describe: 'SSM-state rows kept per game, sampled (0 = every probe point; the state is E*N floats per layer)' })
      .option('epochs', { type: 'number', default: DEFAULT_PROBE.epochs, describe: 'most descent epochs after the closed-form ridge start (0 = ridge only; stops early once the validation games stop gaining)' })
      .option('batch', { type: 'number', default: DEFAULT_PROBE.batch, describe: 'games per model step during capture' })
      .option('random-init', { type: 'boolean', default: true, describe: 'also fit the random-init control (--no-random-init skips it)' })
      .option('intervene', { type: 'boolean', default: false, describe: 'also edit the board through the mine/theirs probes at every layer and score the moves the model then predicts (Othello; see `gamba intervene`)' })
      .option('edit', { type: 'string', choices: EDIT_KINDS as EditKind[], default: 'flip' as EditKind, describe: 'with --intervene: flip a disc to the other side, or empty its square' })
      .option('strength', { type: 'number', default: 1, describe: 'with --intervene: the edit is this many times the smallest one that makes the probe read the square edited by the margin it read it before' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'] as const, default: 'auto' as const, describe: 'compute backend for the model and the probe fits' })
      .option('out', { type: 'string', describe: 'report directory (default <checkpoint>/probe-<target>)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a report already in --out' })
      .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary (the full numbers are in report.json)' })
      .example('$0 probe --checkpoint runs/quickstart --data datasets/samples/othello', 'mine/theirs probes on every layer, residual and state')
      .example('$0 probe --checkpoint runs/chess --data datasets/chess-random', 'piece probes at every move number of a chess model')
      .example('$0 report runs/quickstart/probe-mine-theirs', 'redraw report.html from report.json') as unknown as Argv<ProbeArgs>,
  handler: async (args) => {
    const games = integerFlag('games', args.games, 1);
    const evalGames = integerFlag('eval-games', args['eval-games'], 1);
    const seed = integerFlag('seed', args.seed, 0);
    const statePositions = integerFlag('state-positions', args['state-positions'], 0);
    const epochs = integerFlag('epochs', args.epochs, 0, 1000);
    const batch = integerFlag('batch', args.batch, 1, 65536);
    const result = await runProbe({
      checkpoint: args.checkpoint,
      data: args.data,
      target: args.target,
      source: args.source,
      games,
      evalGames,
      seed,
      statePositions,
      batch,
      epochs,
      backend: args.backend,
      randomInit: args['random-init'],
      intervene: args.intervene ? { edit: args.edit, strength: strengthFlag(args.strength) } : undefined,
      out: args.out,
      force: args.force,
      onProgress: stagedProgress(),
      onNote: note,
    });
    printResult(args.json, jsonSummary(result.report, result.dir), () => humanSummary(result.report, result.dir));
  },
};

function jsonSummary(report: ProbeReport, out: string) {
  const brief = (l: ProbeReport['layers'][number]) => ({ layer: l.layer, source: l.source, cellAcc: l.cellAcc, boardAcc: l.boardAcc });
  return {
    report: join(out, REPORT_JSON),
    html: join(out, REPORT_HTML),
    game: report.data.game,
    target: report.target,
    mine: report.mine ?? null,
    best: report.best,
    bestMargin: report.bestMargin ?? null,
    layers: report.layers.map((l) => ({ ...brief(l), margin: l.margin ?? null })),
    baselines: {
      majority: { cellAcc: report.baselines.majority.cellAcc, boardAcc: report.baselines.majority.boardAcc },
      randomInit: report.baselines.randomInit.map(brief),
    },
    lens: report.lens ? report.lens.layers.map((l) => ({ layer: l.layer, logit: { legalTop1: l.logit.legalTop1, agreeTop1: l.logit.agreeTop1 }, tuned: { legalTop1: l.tuned.legalTop1, agreeTop1: l.tuned.agreeTop1 } })) : null,
    interventions: report.interventions ?? null,
    timings: report.timings,
  };
}

function humanSummary(report: ProbeReport, out: string): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`.padStart(7);
  const signed = (v: number) => `${v >= 0 ? '+' : '-'}${Math.abs(100 * v).toFixed(2)}`;
  const lines = [`probe ${report.data.game} ${report.target}: ${report.data.fitGames} probe-training games, ${report.data.evalGames} held-out games ` +
    '(cell / board accuracy; margin = trained minus random-init in points, 95% interval over games)'];
  for (const l of report.layers) {
    const control = report.baselines.randomInit.find((r) => r.source === l.source && r.layer === l.layer);
    const best = l.source === report.best.source && l.layer === report.best.layer ? '  <- best' : '';
    const margin = l.margin ? `   margin ${signed(l.margin.cellAcc)} [${signed(l.margin.cellLow)}, ${signed(l.margin.cellHigh)}] / ${signed(l.margin.boardAcc)}` : '';
    const bestMargin = report.bestMargin && l.source === report.bestMargin.source && l.layer === report.bestMargin.layer ? '  <- largest margin' : '';
    lines.push(`  ${l.source.padEnd(8)} layer ${String(l.layer).padStart(2)}: ${pct(l.cellAcc)} / ${pct(l.boardAcc)}` +
      (control ? `   random-init ${pct(control.cellAcc)} / ${pct(control.boardAcc)}` : '') + margin + best + bestMargin);
  }
  const m = report.baselines.majority;
  lines.push(`  majority baseline: ${pct(m.cellAcc)} / ${pct(m.boardAcc)}`);
  if (report.lens) {
    const legal = report.lens.layers[0].logit.legalTop1 !== null;
    lines.push(`lens by residual layer (top-1 ${legal ? 'legal' : 'agrees with the model'}; logit lens / tuned lens):`);
    for (const l of report.lens.layers) {
      const key = legal ? 'legalTop1' : 'agreeTop1';
      lines.push(`  layer ${String(l.layer).padStart(2)}: ${pct(l.logit[key]!)} / ${pct(l.tuned[key]!)}`);
    }
  }
  if (report.interventions) lines.push(...interventionLines(report.interventions));
  const t = report.timings;
  lines.push(`time: ${t.totalSeconds.toFixed(0)} s (capture ${t.captureSeconds.toFixed(0)} s, fit ${t.fitSeconds.toFixed(0)} s of which the trained model ${t.trainedFitSeconds.toFixed(0)} s, score ${t.scoreSeconds.toFixed(0)} s${t.lensSeconds !== undefined ? `, lens ${t.lensSeconds.toFixed(0)} s` : ''}${t.interventionSeconds !== undefined ? `, interventions ${t.interventionSeconds.toFixed(0)} s` : ''})`);
  lines.push(`report: ${join(out, REPORT_HTML)} (numbers in ${join(out, REPORT_JSON)})`);
  return lines.join('\n');
}
