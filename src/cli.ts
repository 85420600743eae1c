/**
 * `gamba <command>`: the command-line entry point. Each command lives in src/commands/<name>.ts and
 * exports a yargs CommandModule; this file only wires them together and turns errors into one line.
 */
import yargs, { type MiddlewareFunction } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError, isFileSystemError } from './util/errors.js';
import { commands } from './commands/index.js';

async function main(): Promise<number> {
  const args = hideBin(process.argv);
  let cli = yargs(args)
    .scriptName('gamba')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    // Before validation; yargs passes itself as the second argument, which its typings leave out.
    .middleware(lastValueWins(args) as unknown as MiddlewareFunction, true)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs spreads some messages over lines ("Invalid values:\n  Argument: ..."): keep them on one.
      throw error ?? new UserError(message.replace(/\s*\n\s*/g, ' '));
    });
  for (const command of commands) cli = cli.command(command);
  await cli.parseAsync();
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

/** The part of yargs' option table (yargs.getOptions(), missing from its typings) that lastValueWins reads. */
interface OptionTable {
  key: Record<string, unknown>;
  array: string[];
  number: string[];
  alias: Record<string, string[]>;
}

/**
 * A scalar flag given twice (`--games 30 --games 300`) reaches the command as an array, which its checks
 * then refuse with an odd message: the last value wins, as in most CLIs. Options declared `array: true`
 * and variadic positionals (`import-pgn <files..>`, which yargs declares as arrays) keep every value; so
 * does anything yargs does not know as an option. (yargs' `duplicate-arguments-array: false` would also
 * keep only the last file of a variadic positional.) Runs before validation, so `choices` see one value.
 *
 * yargs-parser takes a repeated value of exactly 1 for a count step (yargs/yargs-parser#506: `--steps 3
 * --steps 1` parses as 4, `--steps 3 --steps 2 --steps 1` as "3,21"), so a number flag given more than
 * once is read back from the command line (`args`, what yargs parsed) instead.
 */
function lastValueWins(args: readonly string[]) {
  return (argv: Record<string, unknown>, parser: { getOptions(): OptionTable }): void => {
    const { key, array, number, alias } = parser.getOptions();
    const arrays = new Set(array.flatMap((name) => [name, ...(alias[name] ?? [])]));
    const numbers = new Set(number);
    for (const name of Object.keys(key)) {
      const names = [name, ...(alias[name] ?? [])];
      if (names.some((n) => arrays.has(n))) continue;
      // argv holds each flag under its declared name, its aliases and their camelCase forms.
      const spellings = [...new Set(names.flatMap((n) => [n, n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]))];
      const given = numbers.has(name) ? lastGiven(args, spellings) : undefined;
      for (const spelled of spellings) {
        const value = argv[spelled];
        if (given !== undefined) argv[spelled] = Number(given);
        else if (Array.isArray(value)) argv[spelled] = value[value.length - 1];
      }
    }
  };
}

/** The last value given to a flag spelled any of `spellings` (`--name v`, `--name=v`, `-n v`), if it is given more than once. */
function lastGiven(args: readonly string[], spellings: readonly string[]): string | undefined {
  const flags = spellings.map((s) => (s.length === 1 ? `-${s}` : `--${s}`));
  let count = 0;
  let last: string | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    for (const flag of flags) {
      if (args[i] === flag) last = args[i + 1];
      else if (args[i].startsWith(`${flag}=`)) last = args[i].slice(flag.length + 1);
      else continue;
      count++;
    }
  }
  return count > 1 ? last : undefined;
}

main().then(
  (code) => {
    // Flush, then exit explicitly: a live GPU context or worker would otherwise keep Node running.
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    const oneLine = error instanceof UserError || isFileSystemError(error);
    const message = oneLine ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`gamba: ${message}\n`);
    process.exit(error instanceof UserError ? 2 : 1);
  },
);
