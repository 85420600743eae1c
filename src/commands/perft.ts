/**
 * `gamba perft othello --depth D [--json]`: leaf counts of the game tree from the start position for
 * depths 1..D, to check the rules engine against published tables.
 */
import type { Argv, CommandModule } from 'yargs';
import { othelloPerft } from '../../games/othello/perft.js';
import { UserError } from '../util/errors.js';
import { printResult } from '../util/output.js';

const GAMES = ['othello'];
/** Depth 12 takes tens of seconds on one core; each further ply costs about ten times more. */
const MAX_DEPTH = 12;

interface PerftArgs {
  game: string;
  depth: string;
  json: boolean;
}

export const perftCommand: CommandModule<object, PerftArgs> = {
  command: 'perft <game>',
  describe: 'count the leaves of the game tree from the start position (rules check)',
  builder: (yargs: Argv) =>
    yargs
      .positional('game', { type: 'string', describe: `game whose rules to check (${GAMES.join(', ')})`, demandOption: true })
      .option('depth', { type: 'string', describe: `count leaves for depths 1..D (D at most ${MAX_DEPTH})`, demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object {"game","counts"}' })
      .example('$0 perft othello --depth 6', 'prints 4, 12, 56, 244, 1396, 8200') as unknown as Argv<PerftArgs>,
  handler: (args) => {
    if (!GAMES.includes(args.game)) {
      throw new UserError(`perft: unknown game ${JSON.stringify(args.game)} (supported: ${GAMES.join(', ')})`);
    }
    const depth = parseDepth(args.depth);
    const counts = othelloPerft(depth);
    printResult(args.json, { game: args.game, counts }, () =>
      counts.map((count, i) => `depth ${String(i + 1).padStart(2)}: ${count}`).join('\n'),
    );
  },
};

/** --depth as given on the command line (kept as text so a bad value can be quoted back). */
function parseDepth(text: unknown): number {
  const depth = typeof text === 'string' && /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(depth >= 1 && depth <= MAX_DEPTH)) {
    throw new UserError(`perft: --depth must be an integer from 1 to ${MAX_DEPTH}, got ${JSON.stringify(Array.isArray(text) ? text.join(' ') : String(text))}`);
  }
  return depth;
}
