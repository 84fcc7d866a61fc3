/**
 * The agent as it is deployed (compiled JavaScript run by plain node, like dist/), built once per
 * benchmark run with tsconfig.build.json into node_modules/.cache/anchiale-bench-build (packages
 * resolve from the repository's node_modules). ANCHIALE_BENCH_REUSE_BUILD=1 reuses a previous build.
 */
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../test/helpers/agent-process.js';

const run = promisify(execFile);
export const BENCH_BUILD_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'anchiale-bench-build');
let built: Promise<string> | null = null;

/** Path of the compiled agent entry (agent/main.js), building it first if needed. */
export function compiledAgentEntry(): Promise<string> {
  built ??= (async () => {
    const entry = join(BENCH_BUILD_DIR, 'agent', 'main.js');
    const reuse = process.env.ANCHIALE_BENCH_REUSE_BUILD === '1' && (await access(entry).then(() => true, () => false));
    if (!reuse) {
      try {
        await run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', BENCH_BUILD_DIR], {
          cwd: REPO_ROOT,
          timeout: 300_000,
        });
      } catch (err) {
        // tsc still emits when the tree has type errors elsewhere (work in progress): go on if it did.
        if (!(await access(entry).then(() => true, () => false))) throw err;
        process.stderr.write(`bench: tsc reported errors; using the JavaScript it emitted anyway\n${String((err as { stdout?: string }).stdout ?? '').slice(0, 2000)}\n`);
      }
    }
    return entry;
  })();
  return built;
}

/**
 * The Node options the systemd unit runs the agent with (the words between the node binary and
 * dist/agent/main.js in its ExecStart), so that benchmarks measure the agent as deployed.
 */
export async function deployedNodeArgs(): Promise<string[]> {
  const unit = await readFile(join(REPO_ROOT, 'systemd', 'anchiale-agent.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (!exec) throw new Error('no ExecStart in systemd/anchiale-agent.service');
  const words = exec.trim().split(/\s+/);
  const main = words.findIndex((w) => w.endsWith('/dist/agent/main.js'));
  if (main < 1) throw new Error(`cannot find the node options in ExecStart=${exec}`);
  return words.slice(1, main);
}
