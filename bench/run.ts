/**
 * Entry of `npm run bench`: runs the benchmarks listed below in order and prints what each reports.
 * `--only NAME` (or `--only=NAME`, repeatable) runs just those; `--list` prints the names.
 * Benchmarks report, they do not judge: the exit code is 0 even when a goal fails (tests test);
 * it is 2 for a usage error and 1 when a benchmark itself crashes.
 * Adding a benchmark: one entry {name, run} in BENCHMARKS, `run` resolving to its printable report.
 */
import { pathToFileURL } from 'node:url';
import { runSimControllersBench } from './sim-controllers.js';
import { runOptimalStartBench } from './optimal-start.js';

export interface Benchmark {
  name: string;
  /** Runs the benchmark (writing its results under bench/results/) and returns its report. */
  run: () => Promise<string>;
}

export const BENCHMARKS: readonly Benchmark[] = [
  { name: 'sim-controllers', run: async () => (await runSimControllersBench()).table },
  // Loaded when run (they spawn the compiled agent through the test helpers).
  { name: 'footprint', run: async () => (await (await import('./footprint.js')).runFootprintBench()).table },
  { name: 'reaction', run: async () => (await (await import('./reaction.js')).runReactionBench()).table },
  { name: 'broker-load', run: async () => (await (await import('./broker-load.js')).runBrokerLoadBench()).table },
  { name: 'optimal-start', run: async () => (await runOptimalStartBench()).table },
  // Loaded when run: they pull in node-llama-cpp and the test helpers.
  { name: 'job-path', run: async () => (await (await import('./job-path.js')).runJobPathBench()).table },
  { name: 'fleet-jobs', run: async () => (await (await import('./fleet-jobs.js')).runFleetJobsBench()).table },
  { name: 'fleet-50', run: async () => (await (await import('./fleet-50.js')).runFleet50Bench()).table },
];

/** The names asked for with --only (all when none); throws on a usage error. */
export function selectBenchmarks(argv: readonly string[], all: readonly Benchmark[] = BENCHMARKS): Benchmark[] {
  const only: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    if (a === '--only') {
      const name = argv[i + 1];
      if (name === undefined || name.startsWith('--')) throw new Error('--only needs a benchmark name');
      only.push(name);
      i += 1;
    } else if (a.startsWith('--only=')) {
      only.push(a.slice('--only='.length));
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (only.length === 0) return [...all];
  const unknown = only.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')} (known: ${all.map((b) => b.name).join(', ')})`);
  return all.filter((b) => only.includes(b.name));
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--list')) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name}\n`);
    return 0;
  }
  let chosen: Benchmark[];
  try {
    chosen = selectBenchmarks(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\nusage: npm run bench -- [--only NAME] [--list]\n`);
    return 2;
  }
  let code = 0;
  for (const b of chosen) {
    const t0 = performance.now();
    process.stdout.write(`\n=== ${b.name} ===\n`);
    try {
      process.stdout.write((await b.run()) + '\n');
      process.stdout.write(`(${b.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    } catch (err) {
      process.stderr.write(`bench ${b.name} crashed: ${(err as Error).stack ?? String(err)}\n`);
      code = 1;
    }
  }
  return code;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
