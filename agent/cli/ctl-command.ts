/**
 * `anchiale ctl <node|all> <command> [--arg key=value …] [--json] [--timeout S]`: sends a remote
 * command (spec/mqtt-api.md "Remote operations") and prints each node's answer. For `all`, the
 * heaters whose retained status is online are expected, and the command waits for them (or the
 * timeout). Exit 0 when every expected node answered ok, 1 otherwise (an error, no answer, no
 * broker), 78 for a bad config file.
 * `--arg` values are read as JSON when they parse (21.5, null, true, "text"), else as text.
 */
import type { Command } from 'commander';
import { OpsClient, type OpsRequestResult } from '../client/ops-client.js';
import { AgentError } from '../errors.js';
import { FLEET_STAGGER_MAX_S } from '../ops/fleet-stagger.js';
import { addConnectionOptions, failed, processCliIo, resolveClientConnection, type ClientConnectionFlags, type CliIo } from './client-connection.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export interface CtlOptions extends ClientConnectionFlags {
  arg?: string[];
  json?: boolean;
  /** Seconds (string from the command line). */
  timeout?: string | number;
}

/** Default wait for answers (s); fleet-wide restart/reload_config wait out the stagger too. */
export const CTL_TIMEOUT_S = 5;
const STAGGERED = ['restart', 'reload_config'];

/** `["setpoint_c=21.5", "duration_s=3600"]` → `{setpoint_c: 21.5, duration_s: 3600}`. */
export function parseCtlArgs(list: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq) : '';
    if (!/^[a-z0-9_]+$/.test(key)) throw new AgentError('invalid_arg', `--arg ${JSON.stringify(item)}: expected key=value (key [a-z0-9_]+)`);
    if (key === 'transaction') throw new AgentError('invalid_arg', '--arg transaction: set by ctl itself');
    const raw = item.slice(eq + 1);
    try {
      out[key] = JSON.parse(raw);
    } catch {
      out[key] = raw;
    }
  }
  return out;
}

/** Each node's answer: `h1  ok` and the data, `h2  error  code: message`, `h3  no answer`. */
export function formatAnswers(r: OpsRequestResult, timeoutS: number): string {
  const lines: string[] = [];
  for (const a of r.answers) {
    if (a.status === 'ok') {
      lines.push(`${a.node}  ok`);
      const data = a.data ?? {};
      if (Object.keys(data).length > 0) lines.push(...JSON.stringify(data, null, 2).split('\n').map((l) => `  ${l}`));
    } else {
      const { code, message, errors } = a.error ?? { code: 'internal', message: '' };
      lines.push(`${a.node}  error  ${code}: ${message}`);
      if (Array.isArray(errors)) {
        for (const e of errors as Array<{ path?: unknown; message?: unknown }>) lines.push(`  - ${e.path ? `${String(e.path)}: ` : ''}${String(e.message ?? '')}`);
      }
    }
  }
  for (const n of r.missing) lines.push(`${n}  no answer within ${timeoutS} s`);
  if (r.answers.length === 0 && r.missing.length === 0) lines.push(`no answer within ${timeoutS} s`);
  return lines.join('\n') + '\n';
}

export async function ctlCommand(target: string, command: string, opts: CtlOptions, io: CliIo): Promise<number> {
  let args: Record<string, unknown>;
  let timeoutS: number;
  try {
    args = parseCtlArgs(opts.arg ?? []);
    timeoutS = opts.timeout === undefined ? CTL_TIMEOUT_S + (target === 'all' && STAGGERED.includes(command) ? FLEET_STAGGER_MAX_S : 0) : Number(opts.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new AgentError('invalid_arg', `--timeout ${String(opts.timeout)}: expected a positive number of seconds`);
  } catch (err) {
    return failed(err, io);
  }
  let client: OpsClient;
  try {
    client = await OpsClient.connect(await resolveClientConnection(opts, io.env, io.defaultConfigPath));
  } catch (err) {
    return failed(err, io);
  }
  try {
    const expectNodes = target === 'all' ? (await client.fleet()).filter((n) => n.online === true).map((n) => n.node) : undefined;
    const r = await client.request(target, command, args, { timeoutMs: timeoutS * 1000, ...(expectNodes ? { expectNodes } : {}) });
    io.stdout(opts.json ? `${JSON.stringify(r)}\n` : formatAnswers(r, timeoutS));
    const ok = r.answers.length > 0 && r.missing.length === 0 && r.answers.every((a) => a.status === 'ok');
    return ok ? EXIT_OK : EXIT_FAILURE;
  } catch (err) {
    return failed(err, io);
  } finally {
    await client.close();
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerCtlCommand(program: Command, io: CliIo = processCliIo()): Command {
  return addConnectionOptions(
    program
      .command('ctl')
      .description('Send a remote command to a heater (or all) and print the answers')
      .argument('<node>', 'node id, or all')
      .argument('<command>', 'status, health_check, mode, preset, setpoint_override, power_cap, drain, resume, reload_config, restart, model_load, model_unload, log_level, schedule')
      .option('--arg <key=value>', 'a command argument (repeatable); the value is JSON when it parses, else text', collect, [])
      .option('--timeout <s>', `seconds to wait for answers (default ${CTL_TIMEOUT_S}; fleet-wide restart/reload_config ${CTL_TIMEOUT_S + FLEET_STAGGER_MAX_S})`),
  ).action(async (target: string, command: string, opts: CtlOptions) => {
    process.exitCode = await ctlCommand(target, command, opts, io);
  });
}
