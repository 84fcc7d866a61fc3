/**
 * Collects the heaters' retained `<base>/<id>/status` and `<base>/<id>/state` messages into
 * observations for buildFleetView. Pure: messages in, observations out. An empty retained
 * payload (a removed heater) forgets that document.
 */
import type { HeaterObservation, HeaterStateDoc } from './fleet-view.js';

export class FleetTracker {
  private readonly heaters = new Map<string, HeaterObservation>();
  private readonly prefix: string;

  constructor(readonly baseTopic: string) {
    this.prefix = `${baseTopic}/`;
  }

  /** The subscription filters that feed this tracker. */
  get filters(): string[] {
    return [`${this.prefix}+/status`, `${this.prefix}+/state`];
  }

  /** Takes one message; returns false when the topic is not a heater's status or state. */
  observe(topic: string, payload: string): boolean {
    if (!topic.startsWith(this.prefix)) return false;
    const rest = topic.slice(this.prefix.length).split('/');
    if (rest.length !== 2) return false;
    const [node, kind] = rest as [string, string];
    if (node === '' || (kind !== 'status' && kind !== 'state')) return false;
    const cur = this.heaters.get(node) ?? { node, status: null, state: null };
    const next: HeaterObservation = { ...cur };
    if (kind === 'status') next.status = payload === '' ? null : payload.trim();
    else next.state = payload === '' ? null : parseState(payload);
    if (next.status === null && next.state === null) this.heaters.delete(node);
    else this.heaters.set(node, next);
    return true;
  }

  observations(): HeaterObservation[] {
    return [...this.heaters.values()];
  }

  get(node: string): HeaterObservation | undefined {
    return this.heaters.get(node);
  }
}

function parseState(payload: string): HeaterStateDoc | 'invalid' {
  try {
    const v: unknown = JSON.parse(payload);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as HeaterStateDoc) : 'invalid';
  } catch {
    return 'invalid';
  }
}
