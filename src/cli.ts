/**
 * `gamba <command>`: the command-line entry point. Each command lives in src/commands/<name>.ts and
 * exports a yargs CommandModule; this file only wires them together and turns errors into one line.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from './util/errors.js';
import { commands } from './commands/index.js';

async function main(): Promise<number> {
  let cli = yargs(hideBin(process.argv))
    .scriptName('gamba')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      // yargs spreads some messages over lines ("Invalid values:\n  Argument: ..."): keep them on one.
      throw error ?? new UserError(message.replace(/\s*\n\s*/g, ' '));
    });
  for (const command of commands) cli = cli.command(command);
  await cli.parseAsync();
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

main().then(
  (code) => {
    // Flush, then exit explicitly: a live GPU context or worker would otherwise keep Node running.
    process.stdout.write('', () => process.exit(code));
  },
  (error: unknown) => {
    const message = error instanceof UserError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`gamba: ${message}\n`);
    process.exit(error instanceof UserError ? 2 : 1);
  },
);
