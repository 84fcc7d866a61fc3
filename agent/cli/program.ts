import { Command } from 'commander';
import { registerConfigCommand } from './config-command.js';

/** The `anchiale` command line; each command registers itself here. */
export function buildProgram(): Command {
  const program = new Command('anchiale')
    .description('AnchIAle: a GPU room heater that makes its heat with local LLM inference')
    .showHelpAfterError();
  registerConfigCommand(program);
  return program;
}
