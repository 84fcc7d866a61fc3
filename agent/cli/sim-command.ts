/**
 * `anchiale sim --scenario FILE.yaml [--controller pi|tpi|hysteresis|all] [--out result.json]
 *  [--series series.csv] [--plot chart.svg]` (spec/simulation.md).
 *
 * Prints the result JSON ({scenario, controller, metrics}) on stdout; with `all`, a JSON array of
 * results for [pi, hysteresis, tpi] and a side-by-side table on stderr. `--out` writes the same
 * JSON to a file, `--series` a CSV of the time series (one row per simulated minute), `--plot` an
 * SVG chart. Exit codes: 0 done, 78 invalid scenario (every error with its key path on stderr),
 * 73 an output file cannot be written, 1 anything else.
 *
 * The controllers come from the composition root (the agent's own controller for `pi`); this file
 * knows none of them.
 */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { AgentError, errorMessage } from '../errors.js';
import type { SimMetrics } from '../sim/metrics.js';
import { loadScenario, type Scenario } from '../sim/scenario.js';
import { seriesToCsv } from '../sim/series-csv.js';
import type { SimController } from '../sim/sim-controller.js';
import { runSimulation, type SimResult } from '../sim/simulator.js';
import { plotSvg } from '../sim/svg-plot.js';

export type SimControllerKind = 'pi' | 'tpi' | 'hysteresis';
export type SimControllerChoice = SimControllerKind | 'all';

/** Order of `--controller all`. */
export const ALL_CONTROLLERS: readonly SimControllerKind[] = ['pi', 'hysteresis', 'tpi'];

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CANTCREAT = 73;
export const EXIT_CONFIG = 78;

export interface SimCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

export interface SimCommandDeps {
  controllers: Record<SimControllerKind, (scenario: Scenario) => SimController>;
  /** Default: process.stdout, process.stderr, process.exitCode. */
  io?: SimCommandIo;
}

export interface SimCommandOptions {
  scenario: string;
  controller: SimControllerChoice;
  out?: string;
  series?: string;
  plot?: string;
}

const processIo: SimCommandIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** The metrics table of several results, one column per controller. */
export function formatMetricsTable(results: readonly SimResult[]): string {
  const keys = Object.keys(results[0]?.metrics ?? {}) as Array<keyof SimMetrics>;
  const header = ['metric', ...results.map((r) => r.controller)];
  const rows = keys.map((k) => [k, ...results.map((r) => (r.metrics[k] === null ? '–' : String(r.metrics[k])))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

function isConfigError(err: unknown): err is AgentError {
  return err instanceof AgentError && /invalid/.test(err.code);
}

/** Lines of a config error's `details.issues` ({path, message}), e.g. from the agent's configuration of `agent:`. */
function issueLines(err: AgentError): string {
  const issues = err.details?.issues;
  if (!Array.isArray(issues)) return '';
  return issues
    .map((i: { path?: unknown; message?: unknown }) => `  ${i.path ? `${String(i.path)}: ` : ''}${String(i.message)}\n`)
    .join('');
}

async function writeOutput(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (err) {
    throw new AgentError('output_unwritable', `cannot write ${path}: ${errorMessage(err)}`, { path });
  }
}

/** Run the command; returns the exit code (also what the commander action sets). */
export async function runSimCommand(opts: SimCommandOptions, deps: SimCommandDeps): Promise<number> {
  const io = deps.io ?? processIo;
  try {
    const scenario = await loadScenario(opts.scenario);
    const kinds = opts.controller === 'all' ? ALL_CONTROLLERS : [opts.controller];
    const seriesEveryS = opts.series || opts.plot ? 60 : 0;
    const results = kinds.map((kind) => {
      const controller = deps.controllers[kind](scenario);
      const result = runSimulation(scenario, controller, { seriesEveryS });
      // The name the user asked for, whatever the controller calls itself.
      return { ...result, controller: kind };
    });
    const printable = results.map((r) => ({ scenario: r.scenario, controller: r.controller, metrics: r.metrics }));
    const json = JSON.stringify(opts.controller === 'all' ? printable : printable[0], null, 2) + '\n';
    io.stdout(json);
    if (opts.controller === 'all') io.stderr(`scenario ${scenario.name}\n` + formatMetricsTable(results));
    if (opts.out) await writeOutput(opts.out, json);
    if (opts.series) await writeOutput(opts.series, seriesToCsv(results));
    if (opts.plot) await writeOutput(opts.plot, plotSvg(results));
    return EXIT_OK;
  } catch (err) {
    if (isConfigError(err)) {
      io.stderr(`${err.message}\n${issueLines(err)}`);
      return EXIT_CONFIG;
    }
    if (err instanceof AgentError && err.code === 'output_unwritable') {
      io.stderr(`${err.message}\n`);
      return EXIT_CANTCREAT;
    }
    io.stderr(`sim failed: ${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}

export function registerSimCommand(program: Command, deps: SimCommandDeps): Command {
  const io = deps.io ?? processIo;
  return program
    .command('sim')
    .description('simulate a room and a heater in accelerated time and print the metrics (spec/simulation.md)')
    .requiredOption('--scenario <file>', 'scenario file (YAML or JSON)')
    .addOption(
      new Option('--controller <name>', 'controller to run (all: pi, hysteresis and tpi side by side)')
        .choices(['pi', 'tpi', 'hysteresis', 'all'])
        .default('pi'),
    )
    .option('--out <file>', 'write the result JSON to this file')
    .option('--series <file>', 'write the time series (CSV, one row per simulated minute)')
    .option('--plot <file>', 'write an SVG chart')
    .action(async (opts: SimCommandOptions) => {
      io.setExitCode(await runSimCommand(opts, deps));
    });
}
