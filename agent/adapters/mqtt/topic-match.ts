/**
 * MQTT topic filters (`+` one level, `#` the rest) and the router from an incoming topic to the
 * inputs that read it. Pure: no client, no I/O.
 */
import type { ResolvedInput } from './input-presets.js';

/**
 * True when `filter` is a valid MQTT subscription filter: non-empty, no NUL, `+` and `#` only as
 * whole levels, `#` only last. Shared subscriptions (`$share/...`) are not input topics: false.
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000') || filter.startsWith('$share/')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/** True when `topic` is a valid topic name to publish to or receive on: non-empty, no wildcard, no NUL. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/**
 * MQTT matching of a topic name against a filter. `+` matches exactly one level (an empty level
 * included), `#` matches the parent level and everything below it. Filters that start with a
 * wildcard do not match topics starting with `$` (e.g. `$SYS/...`). An invalid filter or topic
 * name matches nothing.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (!isValidTopicFilter(filter) || !isValidTopicName(topic)) return false;
  if (filter === topic) return true;
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // covers the parent too: `a/#` matches `a`
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Which inputs an incoming message feeds. Several inputs may share one topic (a Zigbee2MQTT
 * thermostat gives room temperature and setpoint in one message): `route` returns all of them,
 * in the order they were given.
 */
export class InputRouter {
  private readonly inputs: readonly ResolvedInput[];

  constructor(inputs: readonly ResolvedInput[]) {
    this.inputs = inputs;
  }

  /** The inputs whose topic (a name or a filter) matches `topic`; empty when none. */
  route(topic: string): ResolvedInput[] {
    return this.inputs.filter((input) => topicMatches(input.topic, topic));
  }

  /** Distinct topics (filters) to subscribe to, in first-use order. */
  subscriptions(): string[] {
    return [...new Set(this.inputs.map((input) => input.topic))];
  }
}
