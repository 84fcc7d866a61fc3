/**
 * `anchiale doctor [--config FILE] [--json]`: a pass/warn/fail table of what the heater needs
 * (Node, config, broker and its ACL, node id, GPU, driver, power management, limits, persistence,
 * node-llama-cpp backend, model vs VRAM, directories, power-limit helper, clock), a hint for
 * each problem. Exit status 1 when any check fails, 0 otherwise (warnings included).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH } from '../config/load.js';
import { DEFAULT_POWER_LIMIT_DIR } from '../adapters/gpu/power-limit-writers.js';
import { execFileResult } from '../adapters/system/exec-file.js';
import { runDoctorChecks, type CheckResult, type DoctorContext, type LlamaBackend } from '../ops/doctor-checks.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export interface DoctorIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const DEFAULT_SITE_MAX_FILE = '/etc/anchiale/site-max-power-w';

/**
 * Which backend node-llama-cpp loads here, asked in a child process (a CUDA abort there cannot take
 * the doctor down): getLlama({gpu: 'auto', build: 'never'}), as the worker does.
 */
export async function detectLlamaBackend(env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ backend: LlamaBackend } | { error: string }> {
  let url: string;
  try {
    url = import.meta.resolve('node-llama-cpp');
  } catch (err) {
    return { error: `node-llama-cpp not installed (${String(err)})` };
  }
  const script = [
    'const { getLlama, LlamaLogLevel } = await import(process.argv[2]);',
    "const llama = await getLlama({ build: 'never', gpu: 'auto', logLevel: LlamaLogLevel.error });",
    "process.stdout.write(JSON.stringify({ backend: llama.gpu === false ? 'cpu' : llama.gpu }) + '\\n');",
    'await llama.dispose();',
    'process.exit(0);',
  ].join('\n');
  // A script file, not `node -e`: node-llama-cpp tests its binary in a child process of its own,
  // which fails when the parent was started with -e.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'anchiale-llama-probe-'));
  const file = path.join(tmp, 'probe.mjs');
  await writeFile(file, script);
  const r = await execFileResult(process.execPath, [file, url], { timeoutMs, env }).finally(() => rm(tmp, { recursive: true, force: true }));
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.code === 0 && line) {
    const parsed = JSON.parse(line) as { backend: LlamaBackend };
    return { backend: parsed.backend };
  }
  const why = r.error ?? (r.signal ? `killed by ${r.signal}` : `exit ${String(r.code)}`);
  return { error: `${why}: ${r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` };
}

export function defaultDoctorContext(configPath: string, env: NodeJS.ProcessEnv = process.env): DoctorContext {
  return {
    configPath,
    env,
    exec: execFileResult,
    hostname: os.hostname(),
    nodeVersion: process.versions.node,
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    nvidiaSmi: 'nvidia-smi',
    powerLimitDir: env.ANCHIALE_POWER_LIMIT_DIR || DEFAULT_POWER_LIMIT_DIR,
    siteMaxFile: env.ANCHIALE_SITE_MAX_FILE || DEFAULT_SITE_MAX_FILE,
    detectLlamaBackend: () => detectLlamaBackend(env),
    brokerTimeoutMs: 5000,
  };
}

const oneLine = (t: string) => t.replace(/\s*\n\s*/g, ' ');

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** The table: one line per check, its hint on the next line. */
export function formatDoctorTable(checks: CheckResult[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${LABEL[c.status]}  ${c.name.padEnd(width)}  ${oneLine(c.detail)}`);
    if (c.hint && c.status !== 'pass') lines.push(`${' '.repeat(6 + width + 2)}→ ${oneLine(c.hint)}`);
  }
  const n = (s: CheckResult['status']) => checks.filter((c) => c.status === s).length;
  lines.push('', `${n('pass')} passed, ${n('warn')} warning${n('warn') === 1 ? '' : 's'}, ${n('fail')} failed`);
  return `${lines.join('\n')}\n`;
}

/** Runs every check and prints them; resolves with the exit status. */
export async function runDoctor(opts: { json: boolean }, ctx: DoctorContext, io: DoctorIo): Promise<number> {
  const { checks } = await runDoctorChecks(ctx);
  const failed = checks.some((c) => c.status === 'fail');
  if (opts.json) {
    const count = (s: CheckResult['status']) => checks.filter((c) => c.status === s).length;
    io.stdout(`${JSON.stringify({ ok: !failed, config: ctx.configPath, summary: { pass: count('pass'), warn: count('warn'), fail: count('fail') }, checks }, null, 2)}\n`);
  } else {
    io.stdout(`anchiale doctor (${ctx.configPath})\n\n${formatDoctorTable(checks)}`);
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

export function registerDoctorCommand(program: Command, io: DoctorIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }): Command {
  return program
    .command('doctor')
    .description('check this heater: config, broker, GPU, power limits, inference backend, directories, helper, clock (exit 1 on any failure)')
    .option('-c, --config <path>', 'configuration file', DEFAULT_CONFIG_PATH)
    .option('--json', 'print the checks as JSON')
    .action(async (o: { config: string; json?: boolean }) => {
      process.exitCode = await runDoctor({ json: o.json === true }, defaultDoctorContext(o.config), io);
    });
}
