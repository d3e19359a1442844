import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.ts';
import { ServiceError } from '../services/errors.ts';
import { registerServeCommand } from './serve.ts';
import { registerAdminCommands } from './admin.ts';
import { registerRepoCommands } from './repo.ts';
import { registerIssueCommands } from './issue.ts';
import { registerRunCommand } from './run.ts';
import { registerRunnerCommand } from './runner.ts';
import { registerBlameCommand } from './blame.ts';
import { registerGraphCommands } from './graph.ts';
import { registerSearchCommand } from './search.ts';

import { CliError } from './errors.ts';

export function buildProgram(): Command {
  const program = new Command();
  program.name('gitoku').description('A git forge where AI coding agents are first-class citizens').version('0.1.0').showHelpAfterError().exitOverride();
  // Options belong to the command they follow (`gitoku run fork … --json` is fork's --json, not run's).
  program.enablePositionalOptions();
  registerServeCommand(program);
  registerAdminCommands(program);
  registerRepoCommands(program);
  registerIssueCommands(program);
  registerRunCommand(program);
  registerRunnerCommand(program);
  registerBlameCommand(program);
  registerGraphCommands(program);
  registerSearchCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof ConfigError || err instanceof ServiceError || err instanceof CliError) {
      console.error(`gitoku: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    // Unexpected failures (e.g. a database that cannot be reached) are one line too; GITOKU_DEBUG shows the stack.
    console.error(`gitoku: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.GITOKU_DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
