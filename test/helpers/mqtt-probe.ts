import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { topicMatches } from '../../agent/adapters/mqtt/topic-match.js';

export interface ProbeMessage {
  topic: string;
  payload: Buffer;
  /** payload as UTF-8 */
  text: string;
  retain: boolean;
  qos: number;
  properties: Record<string, unknown> | undefined;
}

export interface Probe {
  readonly client: MqttClient;
  /** Every message received, in order. */
  readonly messages: ProbeMessage[];
  subscribe(filter: string | string[], qos?: 0 | 1): Promise<void>;
  publish(topic: string, payload: string | Buffer, opts?: IClientPublishOptions): Promise<void>;
  /** Messages received so far whose topic matches `filter`. */
  received(filter: string): ProbeMessage[];
  /**
   * The first message matching `filter` (and `predicate`) not yet returned by next(): one already
   * received, or the next to arrive. Throws after `timeoutMs` (default 3000) naming the filter.
   */
  next(filter: string, predicate?: (m: ProbeMessage) => boolean, timeoutMs?: number): Promise<ProbeMessage>;
  end(): Promise<void>;
}

/** A small MQTT test client (MQTT 5 by default) that records what it receives. */
export async function connectProbe(url: string, opts: IClientOptions = {}): Promise<Probe> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId: `probe-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 200,
    connectTimeout: 3000,
    ...opts,
  });
  const messages: ProbeMessage[] = [];
  const consumed = new Set<ProbeMessage>();
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({
      topic,
      payload,
      text: payload.toString('utf8'),
      retain: packet.retain,
      qos: packet.qos,
      properties: packet.properties as Record<string, unknown> | undefined,
    });
    for (const w of [...waiters]) w();
  });

  const find = (filter: string, predicate?: (m: ProbeMessage) => boolean) =>
    messages.find((m) => !consumed.has(m) && topicMatches(filter, m.topic) && (!predicate || predicate(m)));

  return {
    client,
    messages,
    async subscribe(filter, qos = 1) {
      const granted = await client.subscribeAsync(filter, { qos });
      const bad = granted.filter((g) => g.qos >= 0x80);
      if (bad.length) throw new Error(`probe: subscribe refused: ${bad.map((g) => `${g.topic} (${g.qos})`).join(', ')}`);
    },
    async publish(topic, payload, popts = {}) {
      await client.publishAsync(topic, payload, { qos: 1, ...popts });
    },
    received(filter) {
      return messages.filter((m) => topicMatches(filter, m.topic));
    },
    next(filter, predicate, timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = find(filter, predicate);
          if (!m) return false;
          consumed.add(m);
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = messages.filter((m) => topicMatches(filter, m.topic)).map((m) => m.text.slice(0, 80));
          reject(new Error(`probe: no message on ${filter} within ${timeoutMs} ms (seen on it: ${JSON.stringify(seen)})`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    async end() {
      await client.endAsync(true);
    },
  };
}
