/**
 * `gamba intervene`: is the board the probes read the board the model plays from? Fits the mine/theirs
 * probe of one layer (residual stream, and a Mamba's SSM state), edits the board through it at one
 * position of each held-out game and scores the moves the model then predicts against the legal moves
 * of the edited and of the original board, next to a random edit of the same size (probes/intervene.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { EDIT_KINDS, type EditKind, type EditScores, type InterventionReport } from '../../probes/intervene.js';
import { DEFAULT_PROBE } from '../../probes/probe-checkpoint.js';
import type { ProbeReport } from '../../probes/report.js';
import { computeProbeReport } from '../../probes/run-probe.js';
import type { BackendName } from '../backend/index.js';
import { UserError } from '../util/errors.js';
import { integerFlag } from '../util/flags.js';
import { note, printResult, stagedProgress } from '../util/output.js';

interface InterveneArgs {
  checkpoint: string;
  data: string;
  layer: number;
  games: number;
  'fit-games': number;
  edit: EditKind;
  strength: number;
  source?: 'residual' | 'state' | 'both';
  seed: number;
  'state-positions': number;
  epochs: number;
  batch: number;
  'random-init': boolean;
  backend: BackendName;
  json: boolean;
}

export const interveneCommand: CommandModule<object, InterveneArgs> = {
  command: 'intervene',
  describe: 'Edit the board a model holds through a probe and score the moves it then predicts (Othello)',
  builder: (yargs) =>
    yargs
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (from `gamba train`)' })
      .option('data', { type: 'string', demandOption: true, describe: 'Othello dataset directory: the probe fits on its train split, the edits are made in its val split' })
      .option('layer', { type: 'number', demandOption: true, describe: 'edit after this layer (1..n_layers): its residual stream, and a Mamba\'s SSM state of the layer' })
      .option('games', { type: 'number', default: DEFAULT_PROBE.evalGames, describe: 'held-out games: one edited position drawn from each that has a legal edit' })
      .option('fit-games', { type: 'number', default: DEFAULT_PROBE.games, describe: 'probe-training games (the first N of the train split)' })
      .option('edit', { type: 'string', choices: EDIT_KINDS as EditKind[], default: 'flip' as EditKind, describe: 'flip a disc to the other side, or empty its square' })
      .option('strength', { type: 'number', default: 1, describe: 'the edit is this many times the smallest one that makes the probe read the square edited by the margin it read it before' })
      .option('source', { type: 'string', choices: ['residual', 'state', 'both'] as const, describe: 'edit the residual stream, the SSM state or both (default: every source the model has; the state only where its probe beats the random-init control)' })
      .option('seed', { type: 'number', default: DEFAULT_PROBE.seed, describe: 'seed of the edited positions and squares, the random control edits and the probe fit' })
      .option('state-positions', { type: 'number', default: DEFAULT_PROBE.statePositions, describe: 'SSM-state rows per game the state probe fits on (0 = every probe point)' })
      .option('epochs', { type: 'number', default: DEFAULT_PROBE.epochs, describe: 'most descent epochs of the probe fit after its ridge start' })
      .option('batch', { type: 'number', default: DEFAULT_PROBE.batch, describe: 'games per model step' })
      .option('random-init', { type: 'boolean', default: true, describe: 'fit the random-init control probes too (--no-random-init edits the state without checking its probe against them)' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'] as const, default: 'auto' as const, describe: 'compute backend for the model and the probe fit' })
      .option('json', { type: 'boolean', default: false, describe: 'print the numbers as JSON' })
      .example('$0 intervene --checkpoint models/othello-base --data datasets/samples/othello --layer 6', 'flip a disc after layer 6 at 500 held-out positions') as unknown as Argv<InterveneArgs>,
  handler: async (args) => {
    const layer = integerFlag('layer', args.layer, 0);
    if (layer === 0) throw new UserError('--layer 0: the embeddings hold no board to edit; give a layer from 1 to n_layers');
    const report = await computeProbeReport({
      checkpoint: args.checkpoint,
      data: args.data,
      target: 'mine-theirs',
      sources: args.source === undefined ? undefined : args.source === 'both' ? ['residual', 'state'] : [args.source],
      games: integerFlag('fit-games', args['fit-games'], 1),
      evalGames: integerFlag('games', args.games, 1),
      seed: integerFlag('seed', args.seed, 0),
      statePositions: integerFlag('state-positions', args['state-positions'], 0),
      batch: integerFlag('batch', args.batch, 1, 65536),
      epochs: integerFlag('epochs', args.epochs, 0, 1000),
      backend: args.backend,
      randomInit: args['random-init'],
      layers: [layer],
      intervene: { edit: args.edit, strength: strengthFlag(args.strength) },
      onProgress: stagedProgress(),
      onNote: note,
    });
    const iv = report.interventions!;
    printResult(args.json, { layer, probes: probeSummary(report), ...iv }, () => [
      ...probeSummary(report).map((p) => `probe ${p.source} layer ${p.layer}: ${pct(p.cellAcc)} of cells, ${pct(p.boardAcc)} of boards held out` +
        (p.randomInit ? ` (random-init ${pct(p.randomInit.cellAcc)} / ${pct(p.randomInit.boardAcc)})` : '')),
      ...interventionLines(iv),
    ].join('\n'));
  },
};

function probeSummary(report: ProbeReport) {
  return report.layers.map((l) => {
    const control = report.baselines.randomInit.find((r) => r.source === l.source && r.layer === l.layer);
    return { source: l.source, layer: l.layer, cellAcc: l.cellAcc, boardAcc: l.boardAcc, randomInit: control ? { cellAcc: control.cellAcc, boardAcc: control.boardAcc } : null };
  });
}

/** --strength: a positive finite number. */
export function strengthFlag(value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new UserError(`--strength: expected a positive number, got ${String(value)}`);
  return value;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** The interventions as a table: the scores of no edit, then per layer the probe's edit and the random one. */
export function interventionLines(iv: InterventionReport): string[] {
  const row = (label: string, s: EditScores, extra = '') =>
    `  ${label.padEnd(32)} ${pct(s.top1LegalEdited).padStart(7)} ${pct(s.top1LegalOriginal).padStart(7)}   ${pct(s.overlapEdited).padStart(7)} ${pct(s.overlapOriginal).padStart(7)}${extra}`;
  const lines = [
    `interventions (${iv.edit} one square, strength ${iv.strength}) at ${iv.sites} positions of ${iv.games} held-out games: top-1 legal on the edited / original board; top-k overlap with the edited / original legal moves`,
    row('no edit', iv.unedited),
  ];
  for (const l of iv.layers) {
    const name = `${l.source} layer ${l.layer}`;
    lines.push(row(`${name}: probe edit`, l.probe, `   probe reads the edit ${pct(l.readsEdit)}, other squares changed ${pct(l.otherSquaresChanged)}, |edit|/|x| ${l.relativeNorm.toPrecision(2)}`));
    lines.push(row(`${name}: random`, l.random));
  }
  if (iv.layers.length === 0) lines.push('  (no probe to edit through: no state probe beat its random-init control)');
  return lines;
}
