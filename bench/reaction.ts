/**
 * Benchmark: reaction time of a running agent (compiled, sim heater, system broker on loopback) to
 * N steps (default 200, ANCHIALE_BENCH_REACTION_N) alternating a `set/setpoint` command and a room
 * temperature step (a Zigbee2MQTT report), each time measured from just before the publish to:
 *  - decision: the first `state` message showing the new value (setpoint_c, or room_temp_c);
 *  - actuation: the first `state` message whose power_limit_w — the card's enforced limit, read back
 *    after the agent wrote it — differs from its value before the step. The sim heater applies a
 *    write at once, so this times the agent's own path (decision → setPowerLimit → read back → state),
 *    not a real card's driver. Steps after which the limit need not change are counted apart.
 * Bench config (so every step can act): mode heat, min_on_s/min_off_s 0.1, limit_min_interval_s 0.05,
 * model load 0.05 s. Goal: p99 ≤ 50 ms.
 *
 * Two passes: on the system broker as configured, and on a private Mosquitto with
 * `set_tcp_nodelay true`. A broker with Nagle's algorithm on (Mosquitto's default) holds a small
 * message back until the client acknowledges the previous one, and Linux delays that ACK by up to
 * 40 ms: the second pass shows what is left once the broker sends at once (the agent's own socket
 * needs TCP_NODELAY too for the rest to go: see the report).
 *
 * Writes bench/results/reaction.json and bench/results/reaction.svg (histograms).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnAgent } from '../test/helpers/agent-process.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { connectProbe, type ProbeMessage } from '../test/helpers/mqtt-probe.js';
import { compiledAgentEntry, deployedNodeArgs } from './agent-build.js';
import { histogramSvg, quantile } from './svg-chart.js';

export const REACTION_GOAL_P99_MS = 50;
const RESULTS_DIR = fileURLToPath(new URL('results', import.meta.url));
const BROKER = 'mqtt://127.0.0.1:1883';

export interface ReactionStep {
  i: number;
  kind: 'setpoint' | 'room';
  value: number;
  /** Publish → state showing the value (ms); null: not seen within the timeout. */
  decisionMs: number | null;
  /** Publish → state with a changed power limit (ms); null: the limit did not change. */
  actuationMs: number | null;
  limitBeforeW: number | null;
  limitAfterW: number | null;
}

export interface LatencyStats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ReactionPass {
  /** Which broker. */
  broker: string;
  steps: ReactionStep[];
  stats: Record<'setpoint_decision' | 'room_decision' | 'all_decision' | 'actuation', LatencyStats>;
  missed: number;
  noLimitChange: number;
  goalMet: boolean;
}

export interface ReactionResult {
  passes: ReactionPass[];
  table: string;
}

export interface ReactionOptions {
  steps?: number;
  resultsDir?: string | null;
  /** Only this broker (one pass); default: the system broker, then a private one with set_tcp_nodelay. */
  url?: string;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export function latencyStats(values: readonly number[]): LatencyStats {
  return {
    n: values.length,
    p50: r1(quantile(values, 0.5)),
    p90: r1(quantile(values, 0.9)),
    p99: r1(quantile(values, 0.99)),
    max: r1(values.length ? Math.max(...values) : NaN),
  };
}

export function reactionTable(passes: ReadonlyArray<Omit<ReactionPass, 'steps'>>): string {
  const row = (broker: string, name: string, s: LatencyStats) =>
    `| ${broker} | ${name} | ${s.n} | ${s.p50.toFixed(1)} | ${s.p90.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} |`;
  const lines = ['Reaction on loopback (ms, from just before the publish)', '', '| broker | path | n | p50 | p90 | p99 | max |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const p of passes) {
    lines.push(
      row(p.broker, 'set/setpoint → state', p.stats.setpoint_decision),
      row(p.broker, 'room temperature → state', p.stats.room_decision),
      row(p.broker, 'all steps → state (decision)', p.stats.all_decision),
      row(p.broker, 'all steps → limit written, read back (actuation)', p.stats.actuation),
    );
  }
  lines.push('');
  for (const p of passes) {
    lines.push(
      `${p.broker}: ${p.missed} step(s) not seen within 2 s, ${p.noLimitChange} needed no limit change; goal p99 ≤ ${REACTION_GOAL_P99_MS} ms (decision): ${p.goalMet ? 'met' : 'NOT met'}.`,
    );
  }
  return lines.join('\n');
}

export async function runReactionBench(o: ReactionOptions = {}): Promise<ReactionResult> {
  const n = o.steps ?? Number(process.env.ANCHIALE_BENCH_REACTION_N ?? 200);
  const passes: ReactionPass[] = [];
  if (o.url) {
    passes.push(await runReactionPass(o.url, o.url, n));
  } else {
    passes.push(await runReactionPass(BROKER, 'system broker (as configured)', n));
    const m = await startMosquitto({ extraConfig: ['set_tcp_nodelay true'] });
    try {
      passes.push(await runReactionPass(m.url, 'mosquitto set_tcp_nodelay true', n));
    } finally {
      await m.stop();
    }
  }
  const result: ReactionResult = { passes, table: reactionTable(passes) };
  const dir = o.resultsDir === undefined ? RESULTS_DIR : o.resultsDir;
  if (dir !== null) {
    await mkdir(dir, { recursive: true });
    const meta = { node: process.version, platform: `${process.platform} ${process.arch}`, measured_at: new Date().toISOString(), goal_p99_ms: REACTION_GOAL_P99_MS };
    await writeFile(join(dir, 'reaction.json'), JSON.stringify({ ...meta, passes }, null, 1) + '\n');
    await writeFile(join(dir, 'reaction.svg'), reactionSvg(result));
  }
  return result;
}

/** One pass of `n` steps against the broker at `url`. */
export async function runReactionPass(url: string, broker: string, n: number): Promise<ReactionPass> {
  const entry = await compiledAgentEntry();
  const stateDir = await mkdtemp(join(tmpdir(), 'anchiale-bench-reaction-'));
  const base = `anchiale-bench/reaction-${process.pid}-${Date.now().toString(36)}`;
  const node = `${base}/h1`;
  const probe = await connectProbe(url);
  const agent = await spawnAgent({
    url,
    base,
    stateDir,
    entry,
    nodeArgs: await deployedNodeArgs(),
    config: {
      log: { level: 'warn' },
      inputs: { setpoint: undefined },
      thermostat: { mode: 'heat', min_on_s: 0.1, min_off_s: 0.1 },
      heater: { limit_min_interval_s: 0.05, sim: { load_s: 0.05 } },
      jobs: { enabled: false },
    },
  });
  try {
    await probe.subscribe([`${node}/state`, `${node}/status`]);
    await probe.next(`${node}/status`, (m) => m.text === 'online', 20_000);
    const parse = (m: ProbeMessage) => JSON.parse(m.text) as { setpoint_c: number | null; room_temp_c: number | null; power_limit_w: number | null; action: string };
    await probe.publish(agent.roomTopic, JSON.stringify({ local_temperature: 20 }));
    await probe.publish(`${node}/set/setpoint`, '22');
    await probe.next(`${node}/state`, (m) => parse(m).action === 'heating' && parse(m).setpoint_c === 22, 10_000);
    await new Promise((r) => setTimeout(r, 500));

    // Arrival times of state messages, by index in probe.messages.
    const arrivals = new Map<ProbeMessage, number>();
    probe.client.on('message', () => {
      const m = probe.messages.at(-1);
      if (m) arrivals.set(m, performance.now());
    });
    const lastLimit = () => {
      const s = probe.received(`${node}/state`).at(-1);
      return s ? parse(s).power_limit_w : null;
    };
    const steps: ReactionStep[] = [];
    for (let i = 0; i < n; i++) {
      const kind: ReactionStep['kind'] = i % 2 === 0 ? 'setpoint' : 'room';
      const k = Math.floor(i / 2);
      const value = kind === 'setpoint' ? (k % 2 === 0 ? 19.5 : 23) : Math.round(((k % 2 === 0 ? 21.5 : 19) + (k % 40) * 0.01) * 100) / 100;
      const limitBefore = lastLimit();
      const from = probe.messages.length;
      const t0 = performance.now();
      if (kind === 'setpoint') await probe.publish(`${node}/set/setpoint`, String(value));
      else await probe.publish(agent.roomTopic, JSON.stringify({ local_temperature: value }));
      const after = (pred: (m: ProbeMessage) => boolean) => (m: ProbeMessage) => probe.messages.indexOf(m) >= from && pred(m);
      const seen = await probe
        .next(`${node}/state`, after((m) => (kind === 'setpoint' ? parse(m).setpoint_c : parse(m).room_temp_c) === value), 2000)
        .catch(() => null);
      // The state that shows the decision may already show the new limit (next() does not return it twice).
      const acted =
        seen && parse(seen).power_limit_w !== limitBefore
          ? seen
          : await probe.next(`${node}/state`, after((m) => parse(m).power_limit_w !== limitBefore), seen ? 300 : 10).catch(() => null);
      steps.push({
        i,
        kind,
        value,
        decisionMs: seen ? r1((arrivals.get(seen) ?? performance.now()) - t0) : null,
        actuationMs: acted ? r1((arrivals.get(acted) ?? performance.now()) - t0) : null,
        limitBeforeW: limitBefore,
        limitAfterW: acted ? parse(acted).power_limit_w : limitBefore,
      });
      await new Promise((r) => setTimeout(r, 60 + Math.random() * 60));
    }
    const ok = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null);
    const stats = {
      setpoint_decision: latencyStats(ok(steps.filter((s) => s.kind === 'setpoint').map((s) => s.decisionMs))),
      room_decision: latencyStats(ok(steps.filter((s) => s.kind === 'room').map((s) => s.decisionMs))),
      all_decision: latencyStats(ok(steps.map((s) => s.decisionMs))),
      actuation: latencyStats(ok(steps.map((s) => s.actuationMs))),
    };
    const missed = steps.filter((s) => s.decisionMs === null).length;
    const noLimitChange = steps.filter((s) => s.decisionMs !== null && s.actuationMs === null).length;
    const goalMet = missed === 0 && stats.all_decision.p99 <= REACTION_GOAL_P99_MS;
    return { broker, steps, stats, missed, noLimitChange, goalMet };
  } finally {
    await agent.cleanup();
    for (const t of ['status', 'state', 'info']) await probe.publish(`${node}/${t}`, '', { retain: true }).catch(() => undefined);
    await probe.end();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export function reactionSvg(r: ReactionResult): string {
  const ok = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null);
  const first = r.passes[0]!;
  return histogramSvg({
    width: 1000,
    title: `Reaction on loopback: ${first.steps.length} steps per broker (setpoint and room steps)`,
    xLabel: 'ms from publish to the state showing the step (decision) or the new limit read back (actuation)',
    series: r.passes.flatMap((p) => [
      { name: `decision, ${p.broker}`, values: ok(p.steps.map((s) => s.decisionMs)) },
      { name: `actuation, ${p.broker}`, values: ok(p.steps.map((s) => s.actuationMs)) },
    ]),
    bins: 60,
    markers: [
      ...r.passes.map((p) => ({ x: p.stats.all_decision.p99, label: `p99 ${p.stats.all_decision.p99} ms (${p.broker})` })),
      { x: REACTION_GOAL_P99_MS, label: `goal p99 ≤ ${REACTION_GOAL_P99_MS} ms`, colour: '#d1495b' },
    ],
  });
}
