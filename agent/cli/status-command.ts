/**
 * `anchiale status [--node ID] [--json] [--mqtt-url URL] [--config FILE]`: the fleet as the
 * heaters' retained `status`, `state` and `info` show it — a table (node, online, mode, phase,
 * room/setpoint, demand, limit, heat, jobs, age of the state), or one node in detail. Exit 0, or 1
 * when nothing is seen (wrong broker or base topic?) or the broker cannot be reached.
 */
import type { Command } from 'commander';
import { OpsClient, type FleetNode } from '../client/ops-client.js';
import { addConnectionOptions, failed, processCliIo, resolveClientConnection, type ClientConnectionFlags, type CliIo } from './client-connection.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export interface StatusOptions extends ClientConnectionFlags {
  node?: string;
  json?: boolean;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '-' : String(v));
const fixed = (v: unknown, digits: number): string => {
  const n = num(v);
  return n === null ? '-' : n.toFixed(digits);
};

/** 42 → "42s", 300 → "5m", 7200 → "2h", 2 days → "2d". */
export function formatAge(s: number | null): string {
  if (s === null) return '-';
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

const online = (o: boolean | null) => (o === true ? 'yes' : o === false ? 'no' : '?');

/** The fleet table, one line per heater, columns aligned. */
export function formatFleetTable(nodes: readonly FleetNode[]): string {
  const header = ['NODE', 'ONLINE', 'MODE', 'PHASE', 'ROOM/SET °C', 'DEMAND', 'LIMIT W', 'HEAT W', 'JOBS', 'AGE'];
  const rows = nodes.map((n) => {
    const s = rec(n.state);
    return [
      n.node,
      online(n.online),
      str(s.mode),
      str(s.phase),
      `${fixed(s.room_temp_c, 1)}/${fixed(s.setpoint_c, 1)}`,
      fixed(s.demand, 2),
      fixed(s.power_limit_w, 0),
      fixed(s.heat_w, 0),
      num(rec(s.llm).jobs_active) === null ? '-' : String(rec(s.llm).jobs_active),
      formatAge(n.stateAgeS),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** One heater in detail, `key: value` lines. */
export function formatNodeDetail(n: FleetNode): string {
  const s = rec(n.state);
  const gpu = rec(s.gpu);
  const llm = rec(s.llm);
  const info = rec(n.info);
  const list = (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.join(', ') : '-');
  const lines: Array<[string, string]> = [
    ['node', n.node],
    ['name', str(info.name)],
    ['location', str(info.location)],
    ['online', online(n.online)],
    ['state age', formatAge(n.stateAgeS)],
    ['mode', `${str(s.mode)} (preset ${str(s.preset)})`],
    ['phase', `${str(s.phase)} (action ${str(s.action)})`],
    ['room', `${fixed(s.room_temp_c, 1)} °C (outdoor ${fixed(s.outdoor_temp_c, 1)} °C)`],
    ['setpoint', `${fixed(s.setpoint_c, 1)} °C (${str(s.setpoint_source)})`],
    ['demand', fixed(s.demand, 2)],
    ['power limit', `${fixed(s.power_limit_w, 0)} W`],
    ['gpu', `${fixed(gpu.power_w, 0)} W, ${fixed(gpu.temp_c, 0)} °C, ${fixed(gpu.util_pct, 0)} %`],
    ['heat', `${fixed(s.heat_w, 0)} W (wall ${fixed(s.wall_power_w, 0)} W)`],
    ['energy', `${fixed(s.energy_kwh, 2)} kWh`],
    ['llm', `${str(llm.model)} loaded=${str(llm.loaded)} accepting=${str(llm.accepting)} slots=${str(llm.slots)}/${str(llm.max_slots)} jobs=${str(llm.jobs_active)} done=${str(llm.jobs_done)}`],
    ['inputs stale', list(s.inputs_stale)],
    ['reasons', list(s.reasons)],
    ['safe mode', str(s.safe_mode)],
    ['agent', `${str(info.agent_version)} (config ${str(info.config_hash)})`],
    ['gpu card', `${str(rec(info.gpu).name)} [${str(rec(info.gpu).min_limit_w)}..${str(rec(info.gpu).max_limit_w)} W]`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${v}`).join('\n') + '\n';
}

export async function statusCommand(opts: StatusOptions, io: CliIo): Promise<number> {
  let client: OpsClient;
  try {
    client = await OpsClient.connect(await resolveClientConnection(opts, io.env, io.defaultConfigPath));
  } catch (err) {
    return failed(err, io);
  }
  try {
    const nodes = await client.fleet(opts.node !== undefined ? { node: opts.node } : {});
    if (opts.node !== undefined) {
      const n = nodes[0];
      if (!n) {
        io.stderr(`node ${opts.node}: nothing retained (unknown node, or another base topic?)\n`);
        return EXIT_FAILURE;
      }
      io.stdout(opts.json ? `${JSON.stringify(n)}\n` : formatNodeDetail(n));
      return EXIT_OK;
    }
    if (opts.json) io.stdout(`${JSON.stringify(nodes)}\n`);
    else if (nodes.length > 0) io.stdout(formatFleetTable(nodes));
    if (nodes.length === 0) {
      io.stderr('no heater seen (another broker or base topic?)\n');
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } catch (err) {
    return failed(err, io);
  } finally {
    await client.close();
  }
}

export function registerStatusCommand(program: Command, io: CliIo = processCliIo()): Command {
  return addConnectionOptions(
    program
      .command('status')
      .description("Show the fleet from the heaters' retained state (or one node with --node)")
      .option('--node <id>', 'one heater, in detail'),
  ).action(async (opts: StatusOptions) => {
    process.exitCode = await statusCommand(opts, io);
  });
}
