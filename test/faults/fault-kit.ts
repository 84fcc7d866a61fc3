/** Small pieces shared by the fault cases (test/faults/*.test.ts). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Probe, ProbeMessage } from '../helpers/mqtt-probe.js';
import { clientIdFor, deepMerge } from '../helpers/agent-process.js';
import { startTestAgent, uniqueBase, type TestAgent, type TestAgentOptions } from '../runtime/agent-harness.js';

export const BROKER = 'mqtt://127.0.0.1:1883';

/** A Zigbee2MQTT thermostat report (room temperature and its setpoint). */
export function trv(roomC: number, setpointC = 21): string {
  return JSON.stringify({ local_temperature: roomC, occupied_heating_setpoint: setpointC, battery: 87, linkquality: 120 });
}

export function json(m: ProbeMessage): Record<string, unknown> {
  return JSON.parse(m.text) as Record<string, unknown>;
}

export function reasons(m: ProbeMessage): string[] {
  return (json(m).reasons as string[] | undefined) ?? [];
}

/** The events received so far on `<node>/event`, parsed. */
export function eventsOf(probe: Probe, nodeTopic: string): Array<Record<string, unknown>> {
  return probe.received(`${nodeTopic}/event`).map(json);
}

/** Leaves nothing retained on the shared broker under this node. */
export async function clearRetained(probe: Probe, nodeTopic: string): Promise<void> {
  for (const t of ['status', 'state', 'info']) await probe.publish(`${nodeTopic}/${t}`, '', { retain: true, qos: 1 });
}

export async function readJsonFile(dir: string, name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, name), 'utf8')) as Record<string, unknown>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A predicate that only matches messages received after `ref` (or after the first `count` messages). */
export function since(probe: Probe, ref: ProbeMessage | number, predicate: (m: ProbeMessage) => boolean = () => true): (m: ProbeMessage) => boolean {
  const from = typeof ref === 'number' ? ref : probe.messages.indexOf(ref) + 1;
  return (m) => probe.messages.indexOf(m) >= from && predicate(m);
}

/**
 * startTestAgent with a client id of its own (the harness's default `anchiale-h1` is shared by every
 * test agent on the broker, and a second connection with it takes the first one over).
 */
export function startFaultAgent(o: Omit<TestAgentOptions, 'url'> & { url?: string }): Promise<TestAgent> {
  const base = o.base ?? uniqueBase();
  const node = o.nodeId ?? 'h1';
  return startTestAgent({ ...o, url: o.url ?? BROKER, base, config: deepMerge({ mqtt: { client_id: clientIdFor(base, node) } }, o.config ?? {}) });
}
