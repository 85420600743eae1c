/**
 * `gamba eval`: legal-move rate of a checkpoint on held-out games, overall and by move number. Othello:
 * the top-1 next move after every prefix (the Othello-GPT metric); chess: the greedy move, read
 * character by character until a space as in play, at every White and Black move (first-try legality).
 */
import type { Argv, CommandModule } from 'yargs';
import { evaluateCheckpoint, type CheckpointEvaluation } from '../eval/evaluate.js';
import type { BackendKind } from '../train/run-spec.js';
import { integerFlag } from '../util/flags.js';
import { printResult, ProgressBar } from '../util/output.js';

interface EvalArgs {
  checkpoint: string;
  data: string;
  games: number;
  split: 'val' | 'train';
  backend: BackendKind;
  batch: number;
  json: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'Legal-move rate of a checkpoint on held-out games',
  builder: (yargs) =>
    yargs
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (from `gamba train`)' })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset directory' })
      .option('games', { type: 'number', default: 1000, describe: 'games to score (the first N of the split)' })
      .option('split', { type: 'string', choices: ['val', 'train'], default: 'val', describe: 'which split to score' })
      .option('backend', { type: 'string', choices: ['cpu', 'webgpu', 'auto'], default: 'auto', describe: 'compute backend' })
      .option('batch', { type: 'number', default: 64, describe: 'games read side by side (a forward pass of them for Othello, step by step for chess)' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"legalTop1","positions","byMove"} as JSON (chess adds "bySide")' })
      .example('$0 eval --checkpoint runs/quickstart --data datasets/samples/othello', '') as unknown as Argv<EvalArgs>,
  handler: async (args) => {
    const games = integerFlag('games', args.games, 1);
    const batch = integerFlag('batch', args.batch, 1);
    let bar: ProgressBar | null = null;
    const result = await evaluateCheckpoint({
      checkpoint: args.checkpoint,
      data: args.data,
      split: args.split,
      games,
      backend: args.backend,
      batch,
      onProgress: (done, total) => {
        bar ??= new ProgressBar('eval', total);
        bar.update(done);
        if (done === total) bar.finish();
      },
    });
    printResult(args.json, jsonOf(result), () => humanReport(result));
  },
};

function jsonOf(result: CheckpointEvaluation) {
  return {
    legalTop1: result.report.legalTop1,
    positions: result.report.positions,
    games: result.report.games,
    split: result.split,
    backend: result.backend,
    byMove: result.report.byMove,
    ...('bySide' in result.report ? { bySide: result.report.bySide } : {}),
  };
}

function humanReport(result: CheckpointEvaluation): string {
  const { report } = result;
  const chess = 'bySide' in report;
  const lines = [chess
    ? `legal greedy move: ${(100 * report.legalTop1).toFixed(2)}% of ${report.positions} moves of ${report.games} ${result.split} games (${result.backend}); ` +
      `White ${(100 * report.bySide.white.legalTop1).toFixed(2)}%, Black ${(100 * report.bySide.black.legalTop1).toFixed(2)}%`
    : `legal top-1: ${(100 * report.legalTop1).toFixed(2)}% over ${report.positions} positions of ${report.games} ${result.split} games (${result.backend})`];
  // By move number, in bands of 10 moves, so it fits a screen.
  const bands: string[] = [];
  const last = report.byMove.length > 0 ? report.byMove[report.byMove.length - 1].move : 0;
  for (let from = 1; from <= last; from += 10) {
    const rows = report.byMove.filter((m) => m.move >= from && m.move < from + 10);
    const positions = rows.reduce((sum, m) => sum + m.positions, 0);
    if (positions === 0) continue;
    const legal = rows.reduce((sum, m) => sum + m.legalTop1 * m.positions, 0);
    bands.push(`moves ${from}-${from + 9}: ${((100 * legal) / positions).toFixed(2)}%`);
  }
  lines.push(bands.join(', '));
  return lines.join('\n');
}
