/**
 * The real daemon in a child process: `node [nodeArgs] --import tsx agent/main.ts run --config FILE`
 * (or a compiled entry, for benchmarks), with a sim heater, jobs off, a Zigbee2MQTT room sensor and
 * a given state dir. Its JSON log lines (stdout) are parsed and kept; stderr is kept. Only the
 * process started here is ever signalled, by its PID.
 */
import { deepMerge } from '../../agent/config/deep-merge.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface AgentProcessOptions {
  /** Broker URL. */
  url: string;
  /** mqtt.base_topic (unique per test). */
  base: string;
  nodeId?: string;
  stateDir: string;
  /** Extra config, deep-merged over the defaults below. */
  config?: Record<string, unknown>;
  /** Node options placed before the entry (e.g. `--unhandled-rejections=strict`). */
  nodeArgs?: string[];
  /** A compiled entry (e.g. dist/agent/main.js) run with plain node; default: agent/main.ts through tsx. */
  entry?: string;
  /** Log lines kept (oldest dropped first; default 100 000). */
  maxLogLines?: number;
}

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly configFile: string;
  /** The room (and setpoint) input topic: Zigbee2MQTT device `<device>`. */
  readonly roomTopic: string;
  readonly nodeTopic: string;
  /** Parsed JSON log lines, in order. */
  readonly logs: LogLine[];
  /** Log lines dropped because maxLogLines was reached. */
  droppedLogLines(): number;
  stderr(): string;
  /** Stdout lines that were not JSON. */
  otherOutput(): string[];
  running(): boolean;
  waitLog(predicate: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  waitExit(timeoutMs?: number): Promise<AgentExit>;
  /** Sends the signal to this process (by PID). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after timeoutMs; resolves with how it ended. */
  stop(timeoutMs?: number): Promise<AgentExit>;
  /** stop() if needed, then remove the config dir. */
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;
function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  });
}

/** The test config document: sim heater, jobs off, no discovery, z2m room sensor, log at info. */
export function agentConfigDoc(o: AgentProcessOptions): { doc: Record<string, unknown>; device: string } {
  const device = `${o.base.replace(/\//g, '_')}-trv`;
  const doc = deepMerge(
    {
      version: 1,
      node: { id: o.nodeId ?? 'h1' },
      // A client id of its own: agents of other tests on the shared broker must not take it over.
      mqtt: { url: o.url, base_topic: o.base, client_id: clientIdFor(o.base, o.nodeId ?? 'h1'), reconnect: { min_s: 0.2, max_s: 2 }, discovery: { enabled: false } },
      inputs: { room_temperature: { preset: 'z2m', device }, setpoint: { preset: 'z2m', device } },
      heater: { backend: 'sim', sim: { load_s: 0.2 } },
      jobs: { enabled: false },
      state: { dir: o.stateDir, interval_s: 30 },
      log: { level: 'info' },
    },
    o.config ?? {},
  );
  return { doc, device };
}

export async function spawnAgent(o: AgentProcessOptions): Promise<AgentProcess> {
  installExitHook();
  const { doc, device } = agentConfigDoc(o);
  const cfgDir = await mkdtemp(join(tmpdir(), 'anchiale-cfg-'));
  const configFile = join(cfgDir, 'agent.yaml');
  await writeFile(configFile, JSON.stringify(doc, null, 1) + '\n'); // JSON is YAML
  const entryArgs = o.entry ? [o.entry] : ['--import', 'tsx', join(REPO_ROOT, 'agent/main.ts')];
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...entryArgs, 'run', '--config', configFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const max = o.maxLogLines ?? 100_000;
  const logs: LogLine[] = [];
  const other: string[] = [];
  let dropped = 0;
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  const exitWaiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
        if (logs.length > max) {
          logs.shift();
          dropped++;
        }
      } catch {
        other.push(line);
      }
    }
    for (const w of [...waiters]) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err = (err + d).slice(-256 * 1024);
  });
  child.on('exit', () => {
    live.delete(child);
    for (const w of [...exitWaiters]) w();
    for (const w of [...waiters]) w();
  });
  if (child.pid === undefined) throw new Error('agent process did not start');
  const pid = child.pid;
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const exitInfo = (): AgentExit => ({ code: child.exitCode, signal: child.signalCode });

  const waitExit = (timeoutMs = 10_000): Promise<AgentExit> =>
    new Promise((resolve, reject) => {
      if (ended()) return resolve(exitInfo());
      const t = setTimeout(() => {
        exitWaiters.delete(done);
        reject(new Error(`agent ${pid} did not exit within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        exitWaiters.delete(done);
        resolve(exitInfo());
      };
      exitWaiters.add(done);
    });

  let cleaned = false;
  const p: AgentProcess = {
    child,
    pid,
    configFile,
    roomTopic: `zigbee2mqtt/${device}`,
    nodeTopic: `${o.base}/${o.nodeId ?? 'h1'}`,
    logs,
    droppedLogLines: () => dropped,
    stderr: () => err,
    otherOutput: () => other,
    running: () => !ended(),
    waitLog(predicate, timeoutMs = 10_000, what = 'log line') {
      let from = 0;
      return new Promise((resolve, reject) => {
        const check = () => {
          for (; from < logs.length; from++) {
            const l = logs[from]!;
            if (predicate(l)) {
              cleanupWait();
              resolve(l);
              return;
            }
          }
          if (ended()) {
            cleanupWait();
            reject(new Error(`agent ${pid} exited (${JSON.stringify(exitInfo())}) before ${what}; stderr: ${err.slice(-2000)}`));
          }
        };
        const t = setTimeout(() => {
          cleanupWait();
          reject(new Error(`no ${what} from agent ${pid} within ${timeoutMs} ms; last lines: ${logs.slice(-5).map((l) => l.msg).join(' | ')}`));
        }, timeoutMs);
        const cleanupWait = () => {
          clearTimeout(t);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    waitExit,
    kill(signal) {
      if (!ended()) process.kill(pid, signal);
    },
    async stop(timeoutMs = 10_000) {
      if (ended()) return exitInfo();
      process.kill(pid, 'SIGTERM');
      try {
        return await waitExit(timeoutMs);
      } catch {
        if (!ended()) process.kill(pid, 'SIGKILL');
        return waitExit(5000);
      }
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await p.stop().catch(() => undefined);
      await rm(cfgDir, { recursive: true, force: true });
    },
  };
  return p;
}

/** A client id unique to a test's topic namespace and node. */
export function clientIdFor(base: string, nodeId: string): string {
  return `anchiale-${base.replace(/[^A-Za-z0-9_-]/g, '-')}-${nodeId}`;
}


export { deepMerge };
