import { Command } from 'commander';
import { registerConfigCommand } from './config-command.js';
import { registerHaCommand } from './ha-command.js';
import { registerRunCommand, type RunCommandDeps } from './run-command.js';
import { registerSimCommand, type SimCommandDeps } from './sim-command.js';
import { registerDemoCommand, type DemoDeps } from './demo-command.js';
import { registerStatusCommand } from './status-command.js';
import { registerCtlCommand } from './ctl-command.js';
import { registerAskCommand } from './ask-command.js';
import { registerDoctorCommand } from './doctor-command.js';

export interface ProgramDeps {
  run: RunCommandDeps;
  sim: SimCommandDeps;
  demo: DemoDeps;
}

/** The `anchiale` command line; each command registers itself here with what main.ts gives it. */
export function buildProgram(deps?: ProgramDeps): Command {
  const program = new Command('anchiale')
    .description('AnchIAle: a GPU room heater that makes its heat with local LLM inference')
    .version('0.1.0')
    .showHelpAfterError();
  registerConfigCommand(program);
  registerStatusCommand(program);
  registerCtlCommand(program);
  registerAskCommand(program);
  registerHaCommand(program);
  registerDoctorCommand(program);
  if (deps) {
    registerRunCommand(program, deps.run);
    registerSimCommand(program, deps.sim);
    registerDemoCommand(program, deps.demo);
  }
  return program;
}
