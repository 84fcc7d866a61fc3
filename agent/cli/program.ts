import { Command } from 'commander';
import type { RunCommandDeps } from './run-command.js';
import type { SimCommandDeps } from './sim-command.js';
import type { DemoDeps } from './demo-command.js';

export interface ProgramDeps {
  run: RunCommandDeps;
  /** Loaded only for `sim` (the simulator is not part of the daemon). */
  sim: () => Promise<SimCommandDeps>;
  demo: DemoDeps;
}

interface CommandEntry {
  name: string;
  register: (program: Command, deps: ProgramDeps | undefined) => Promise<void>;
}

/**
 * Every command, loaded on demand: `anchiale run` loads the daemon's modules and nothing else
 * (the idle footprint matters on a heater), while help and unknown commands load them all.
 */
const COMMANDS: CommandEntry[] = [
  { name: 'run', register: async (p, d) => void (d && (await import('./run-command.js')).registerRunCommand(p, d.run)) },
  { name: 'config', register: async (p) => void (await import('./config-command.js')).registerConfigCommand(p) },
  { name: 'sim', register: async (p, d) => void (d && (await import('./sim-command.js')).registerSimCommand(p, await d.sim())) },
  { name: 'demo', register: async (p, d) => void (d && (await import('./demo-command.js')).registerDemoCommand(p, d.demo)) },
  { name: 'ask', register: async (p) => void (await import('./ask-command.js')).registerAskCommand(p) },
  { name: 'status', register: async (p) => void (await import('./status-command.js')).registerStatusCommand(p) },
  { name: 'ctl', register: async (p) => void (await import('./ctl-command.js')).registerCtlCommand(p) },
  { name: 'doctor', register: async (p) => void (await import('./doctor-command.js')).registerDoctorCommand(p) },
  { name: 'ha', register: async (p) => void (await import('./ha-command.js')).registerHaCommand(p) },
];

/** The `anchiale` command line for these arguments; each command registers itself with what main.ts gives it. */
export async function buildProgram(deps?: ProgramDeps, argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('anchiale')
    .description('AnchIAle: a GPU room heater that makes its heat with local LLM inference')
    .version('0.1.0')
    .showHelpAfterError();
  const wanted = argv.slice(2).find((a) => !a.startsWith('-'));
  const only = COMMANDS.find((c) => c.name === wanted);
  for (const c of only ? [only] : COMMANDS) await c.register(program, deps);
  return program;
}
