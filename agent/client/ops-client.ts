/**
 * The operator's MQTT client (spec/mqtt-api.md "Remote operations", "Node presence and state"):
 * requests with a transaction id and a timeout, answers gathered from one node or from `all`, and
 * the fleet as its retained `status`, `state` and `info` show it. Used by `anchiale status` and
 * `anchiale ctl`.
 *
 * Answers are matched by transaction (and, on MQTT 5, by correlation data). On MQTT 5 the request
 * carries a response topic under the reply prefix; the client also listens on the default
 * response topics, so a heater that answers there (MQTT 3.1.1, another reply prefix) is heard too.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { topicMatches } from '../adapters/mqtt/topic-match.js';
import { redactUrl } from '../adapters/mqtt/mqtt-bus.js';
import { AgentError, errorMessage } from '../errors.js';

export interface OpsClientOptions {
  url: string;
  /** mqtt.base_topic of the heaters (default anchiale/v1). */
  base?: string;
  /** jobs.reply_prefix of the heaters (default `<base>/replies/`). */
  replyPrefix?: string | null;
  username?: string | null;
  password?: string | null;
  protocolVersion?: 4 | 5;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  connectTimeoutMs?: number;
}

export interface OpsAnswer {
  node: string;
  transaction: unknown;
  status: 'ok' | 'error';
  data?: Record<string, unknown>;
  error?: { code: string; message: string; [k: string]: unknown };
  /** Where it came (response topic or default topic). */
  topic: string;
}

export interface OpsRequestResult {
  target: string;
  command: string;
  transaction: string;
  /** By node id. */
  answers: OpsAnswer[];
  /** Nodes expected (the target, or the online heaters for `all`) that did not answer in time. */
  missing: string[];
}

export interface OpsRequestOptions {
  /** Give up waiting after this long (default 5000 ms). */
  timeoutMs?: number;
  /** For `all`: stop as soon as these nodes answered (default: wait the whole timeout). */
  expectNodes?: readonly string[];
}

/** One heater as its retained documents show it. */
export interface FleetNode {
  node: string;
  /** `online` → true, `offline` → false, none seen → null. */
  online: boolean | null;
  state: Record<string, unknown> | null;
  info: Record<string, unknown> | null;
  /** Age of the state's `ts` (s) at reading time; null without a usable ts. */
  stateAgeS: number | null;
}

export interface FleetReadOptions {
  /** Only this node. */
  node?: string;
  /** Retained messages are taken as complete after this long without a new one (default 300 ms). */
  settleMs?: number;
  /** And at most this long in all (default 3000 ms). */
  maxMs?: number;
  /** Now (epoch ms) for the ages (default Date.now()). */
  nowMs?: () => number;
}

const NODE_ID = /^[a-z0-9_-]+$/;
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export class OpsClient {
  private readonly base: string;
  private readonly replyPrefix: string;
  private readonly v5: boolean;
  private readonly listeners = new Set<(topic: string, payload: Buffer, props: { correlationData?: Buffer } | undefined) => void>();

  private constructor(
    private readonly client: MqttClient,
    opts: OpsClientOptions,
  ) {
    this.base = opts.base ?? 'anchiale/v1';
    this.replyPrefix = opts.replyPrefix ?? `${this.base}/replies/`;
    this.v5 = (opts.protocolVersion ?? 5) === 5;
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties as { correlationData?: Buffer } | undefined;
      for (const l of [...this.listeners]) l(topic, payload, props);
    });
  }

  /** Connects (no retry: a CLI says at once when the broker cannot be reached). */
  static async connect(opts: OpsClientOptions): Promise<OpsClient> {
    const o: IClientOptions = {
      protocolVersion: opts.protocolVersion ?? 5,
      clientId: `anchiale-cli-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
      ...(opts.tls ?? {}),
    };
    try {
      const client = await mqtt.connectAsync(opts.url, o);
      return new OpsClient(client, opts);
    } catch (err) {
      throw new AgentError('broker_unreachable', `cannot connect to ${redactUrl(opts.url)}: ${errorMessage(err)}`);
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(false).catch(() => this.client.endAsync(true));
  }

  /** Sends `command` to a node or to `all` and gathers the answers. */
  async request(target: string, command: string, args: Record<string, unknown> = {}, opts: OpsRequestOptions = {}): Promise<OpsRequestResult> {
    if (target !== 'all' && !NODE_ID.test(target)) throw new AgentError('invalid_target', `not a node id: "${target}" (use [a-z0-9_-]+ or all)`);
    if (!/^[a-z0-9_]+$/.test(command)) throw new AgentError('invalid_command', `not a command name: "${command}"`);
    const transaction = randomUUID();
    const correlation = Buffer.from(transaction);
    const defaultFilter = `${this.base}/${target === 'all' ? '+' : target}/response/${command}`;
    const replyTopic = this.v5 ? `${this.replyPrefix}ctl-${transaction}` : null;
    const filters = replyTopic ? [defaultFilter, replyTopic] : [defaultFilter];
    const expected = target === 'all' ? [...(opts.expectNodes ?? [])] : [target];
    const answers = new Map<string, OpsAnswer>();

    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const listener = (topic: string, payload: Buffer, props: { correlationData?: Buffer } | undefined) => {
      if (!filters.some((f) => topicMatches(f, topic))) return;
      const a = parseAnswer(topic, payload, this.base);
      if (!a) return;
      const ours = a.transaction === transaction || (props?.correlationData !== undefined && correlation.equals(props.correlationData));
      if (!ours || answers.has(a.node)) return;
      if (target !== 'all' && a.node !== target) return;
      answers.set(a.node, a);
      if (expected.length > 0 && expected.every((n) => answers.has(n))) finish();
    };
    this.listeners.add(listener);
    const timer = setTimeout(() => finish(), opts.timeoutMs ?? 5000);
    try {
      await this.client.subscribeAsync(filters, { qos: 1 });
      const pub: IClientPublishOptions = { qos: 1, retain: false };
      if (replyTopic) pub.properties = { responseTopic: replyTopic, correlationData: correlation };
      await this.client.publishAsync(`${this.base}/${target}/request/${command}`, JSON.stringify({ transaction, ...args }), pub);
      await done;
    } finally {
      clearTimeout(timer);
      this.listeners.delete(listener);
      await this.client.unsubscribeAsync(filters).catch(() => undefined);
    }
    const list = [...answers.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { target, command, transaction, answers: list, missing: expected.filter((n) => !answers.has(n)).sort() };
  }

  /** The heaters' retained status, state and info (one node with `node`). */
  async fleet(opts: FleetReadOptions = {}): Promise<FleetNode[]> {
    const level = opts.node ?? '+';
    if (opts.node !== undefined && !NODE_ID.test(opts.node)) throw new AgentError('invalid_target', `not a node id: "${opts.node}"`);
    const filters = ['status', 'state', 'info'].map((k) => `${this.base}/${level}/${k}`);
    const nodes = new Map<string, { status: string | null; state: Record<string, unknown> | null; info: Record<string, unknown> | null }>();
    let last = Date.now();
    const listener = (topic: string, payload: Buffer) => {
      if (!topic.startsWith(`${this.base}/`) || payload.length === 0) return;
      const [node, kind, ...more] = topic.slice(this.base.length + 1).split('/');
      if (more.length > 0 || node === undefined || node === 'all' || !NODE_ID.test(node)) return;
      if (kind !== 'status' && kind !== 'state' && kind !== 'info') return;
      if (opts.node !== undefined && node !== opts.node) return;
      last = Date.now();
      const entry = nodes.get(node) ?? { status: null, state: null, info: null };
      if (kind === 'status') entry.status = payload.toString('utf8');
      else {
        try {
          const v: unknown = JSON.parse(payload.toString('utf8'));
          if (isRecord(v)) entry[kind] = v;
        } catch {
          /* not a document of ours */
        }
      }
      nodes.set(node, entry);
    };
    this.listeners.add(listener);
    try {
      await this.client.subscribeAsync(filters, { qos: 1 });
      const started = Date.now();
      last = Math.max(last, started);
      const settleMs = opts.settleMs ?? 300;
      const maxMs = opts.maxMs ?? 3000;
      while (Date.now() - last < settleMs && Date.now() - started < maxMs) await new Promise((r) => setTimeout(r, 25));
    } finally {
      this.listeners.delete(listener);
      await this.client.unsubscribeAsync(filters).catch(() => undefined);
    }
    const now = (opts.nowMs ?? Date.now)();
    return [...nodes.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([node, e]) => {
        const tsMs = typeof e.state?.ts === 'string' ? Date.parse(e.state.ts) : NaN;
        return {
          node,
          online: e.status === 'online' ? true : e.status === null ? null : false,
          state: e.state,
          info: e.info,
          stateAgeS: Number.isFinite(tsMs) ? Math.max(0, (now - tsMs) / 1000) : null,
        };
      });
  }
}

/** An answer envelope, its node from the payload or else from a default response topic. */
function parseAnswer(topic: string, payload: Buffer, base: string): OpsAnswer | null {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (!isRecord(v) || (v.status !== 'ok' && v.status !== 'error')) return null;
  let node = typeof v.node === 'string' ? v.node : null;
  if (node === null && topic.startsWith(`${base}/`)) node = topic.slice(base.length + 1).split('/')[0] ?? null;
  if (node === null) return null;
  const a: OpsAnswer = { node, transaction: v.transaction ?? null, status: v.status, topic };
  if (v.status === 'ok') a.data = isRecord(v.data) ? v.data : {};
  else {
    const e = isRecord(v.error) ? v.error : {};
    a.error = { ...e, code: typeof e.code === 'string' ? e.code : 'internal', message: typeof e.message === 'string' ? e.message : '' };
  }
  return a;
}
