import { readFile } from 'node:fs/promises';
import {
  MqttClient,
  type IClientOptions,
  type IClientPublishOptions,
  type IDisconnectPacket,
  type IPublishPacket,
} from 'mqtt';
import { brokerStreamBuilder } from './broker-stream.js';
import { AgentError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  BusDisconnectInfo,
  BusSubscribeOptions,
  BusMessage,
  BusMessageProperties,
  BusPublishOptions,
  BusPublishProperties,
  MessageBus,
  Unsubscribe,
} from '../../ports/bus.js';

export interface MqttTlsOptions {
  caFile?: string | null;
  certFile?: string | null;
  keyFile?: string | null;
  /** Default true. */
  rejectUnauthorized?: boolean;
}

export interface MqttReconnectOptions {
  /** Shortest delay before a reconnect attempt (s). */
  minS: number;
  /** Longest delay (s); also the delay range after a refused login. */
  maxS: number;
}

export interface MqttBusOptions {
  /** `mqtt://host:port`, `mqtts://host:port` (with `tls`), `mqtt+unix:///path/to/socket`. */
  url: string;
  clientId: string;
  /** `<base>/<id>/status`: `online` on every connect, `offline` on stop() and as the last will. */
  statusTopic: string;
  username?: string | null;
  password?: string | null;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  /** Default 30. */
  keepaliveS?: number;
  /** Default {minS: 1, maxS: 60}. */
  reconnect?: MqttReconnectOptions;
  /**
   * The backoff ladder starts again from minS only after a connection that lasted at least this
   * long (default 10 s), so a connection that is accepted and dropped at once (client id taken
   * over by a twin, broker kicking us) still backs off.
   */
  stableAfterS?: number;
  tls?: MqttTlsOptions;
  /** Incoming messages larger than this are dropped with a warning (default 256 KiB). */
  maxPayloadBytes?: number;
  /** start() waits for the first connection (default true). */
  waitForConnect?: boolean;
  /** CONNACK timeout of each attempt, and how long start() waits (default 10 s). */
  connectTimeoutS?: number;
}

/** PEM contents read from the tls files (buildClientOptions stays pure). */
export interface MqttTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface MqttBusStats {
  /** Connection attempts, the first included. */
  attempts: number;
  /** Successful connections (CONNACK 0). */
  connects: number;
  /** Connections refused by the broker (CONNACK ≠ 0). */
  refusals: number;
  /** Incoming messages dropped for being over maxPayloadBytes. */
  droppedOversize: number;
  /** Delay the client will wait before its next reconnect attempt (ms). */
  reconnectDelayMs: number;
}

export const MQTT_BUS_DEFAULTS = {
  protocolVersion: 5 as 4 | 5,
  keepaliveS: 30,
  reconnect: { minS: 1, maxS: 60 },
  stableAfterS: 10,
  maxPayloadBytes: 256 * 1024,
  waitForConnect: true,
  connectTimeoutS: 10,
} as const;

/** Attempt number that puts backoffDelayMs in its top range ([maxS/2, maxS]). */
const AT_MAX = 64;

/**
 * Delay before reconnect attempt `attempt` (0 = first retry): exponential with jitter,
 * uniformly in [max(minS, cap/2), cap] where cap = min(maxS, minS · 2^(attempt+1)).
 * Every delay lies in [minS, maxS]; even the first retry is jittered (no herd after a broker restart).
 */
export function backoffDelayMs(
  attempt: number,
  range: { minS: number; maxS: number },
  random: () => number,
): number {
  const minS = range.minS;
  const maxS = Math.max(range.minS, range.maxS);
  const a = Number.isFinite(attempt) ? Math.max(0, Math.floor(attempt)) : AT_MAX;
  const capS = Math.min(maxS, minS * 2 ** (a + 1));
  const r = Math.min(1, Math.max(0, random()));
  const s = Math.min(maxS, Math.max(minS, capS * (0.5 + 0.5 * r)));
  return Math.max(1, Math.round(s * 1000));
}

/** CONNACK codes that mean the credentials were refused (v5: 134, 135; v3.1.1: 4, 5). */
export function isAuthRefusal(code: number, protocolVersion: 4 | 5): boolean {
  return protocolVersion === 5 ? code === 134 || code === 135 : code === 4 || code === 5;
}

/** CONNACK codes that say the broker is momentarily unable (keep trying until the timeout). */
function isTransientRefusal(code: number, protocolVersion: 4 | 5): boolean {
  return protocolVersion === 5 ? code === 136 || code === 137 || code === 159 : code === 3;
}

const CONNACK_V3: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};
const CONNACK_V5: Record<number, string> = {
  128: 'unspecified error',
  129: 'malformed packet',
  130: 'protocol error',
  131: 'implementation specific error',
  132: 'unsupported protocol version',
  133: 'client identifier not valid',
  134: 'bad user name or password',
  135: 'not authorized',
  136: 'server unavailable',
  137: 'server busy',
  138: 'banned',
  140: 'bad authentication method',
  144: 'topic name invalid',
  149: 'packet too large',
  151: 'quota exceeded',
  153: 'payload format invalid',
  154: 'retain not supported',
  155: 'QoS not supported',
  156: 'use another server',
  157: 'server moved',
  159: 'connection rate exceeded',
};

/** The meaning of a CONNACK return/reason code. */
export function describeConnackCode(code: number, protocolVersion: 4 | 5): string {
  return (protocolVersion === 5 ? CONNACK_V5[code] : CONNACK_V3[code]) ?? `reason code ${code}`;
}

/** The URL without user info (for logs and errors). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)[^@/]*@/i, '$1');
}

function invalid(message: string, details?: Record<string, unknown>): AgentError {
  return new AgentError('mqtt_invalid_options', message, details);
}

/**
 * The MQTT.js options for these bus options (pure: TLS file contents are passed in).
 * Unix sockets: MQTT.js does accept an `mqtt+unix://` URL string itself, but this function hands
 * MQTT.js an options object, so `mqtt+unix:///path` is mapped to what MQTT.js makes of it:
 * `{protocol: 'mqtt', unixSocket: true, path}` (net.connect then uses the path, not host/port).
 */
export function buildClientOptions(opts: MqttBusOptions, tls: MqttTlsMaterial = {}): IClientOptions {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw invalid(`mqtt url is not a URL: ${redactUrl(opts.url)}`, { url: redactUrl(opts.url) });
  }
  const protocolVersion = opts.protocolVersion ?? MQTT_BUS_DEFAULTS.protocolVersion;
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw invalid(`mqtt protocol version must be 4 or 5, not ${String(protocolVersion)}`);
  }
  const keepaliveS = opts.keepaliveS ?? MQTT_BUS_DEFAULTS.keepaliveS;
  const reconnect = opts.reconnect ?? MQTT_BUS_DEFAULTS.reconnect;
  if (!(reconnect.minS > 0) || !(reconnect.maxS >= reconnect.minS)) {
    throw invalid(`mqtt reconnect needs 0 < min_s <= max_s (got ${reconnect.minS}, ${reconnect.maxS})`);
  }
  const connectTimeoutS = opts.connectTimeoutS ?? MQTT_BUS_DEFAULTS.connectTimeoutS;
  const tlsFilesGiven = Boolean(opts.tls?.caFile || opts.tls?.certFile || opts.tls?.keyFile);

  const o: IClientOptions = {
    clientId: opts.clientId,
    protocolVersion,
    keepalive: keepaliveS,
    clean: true,
    // Subscriptions are made again by the bus on every connect (clean session, explicit).
    resubscribe: false,
    // Stale QoS 0 telemetry must not replay in a burst after a reconnect.
    queueQoSZero: false,
    // First retry delay; the bus changes it before every attempt (backoff with jitter).
    reconnectPeriod: Math.round(reconnect.minS * 1000),
    // Without this a refused CONNACK stops reconnecting for good; the bus backs off to max instead.
    reconnectOnConnackError: true,
    connectTimeout: Math.round(connectTimeoutS * 1000),
    will: { topic: opts.statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    // mqtt-packet otherwise pre-builds a Buffer for each of the 65 536 packet ids on the first write:
    // about 6 MiB of heap (measured in a heap snapshot of the idle agent) to save a 2-byte
    // allocation per packet, for a daemon that sends a few messages a minute.
    writeCache: false,
  };
  if (protocolVersion === 5) {
    o.properties = { sessionExpiryInterval: 0 };
  }

  const urlUser = url.username ? decodeURIComponent(url.username) : undefined;
  const urlPassword = url.password ? decodeURIComponent(url.password) : undefined;
  const username = opts.username ?? urlUser;
  const password = opts.password ?? urlPassword;
  if (username !== undefined && username !== null) o.username = username;
  if (password !== undefined && password !== null) o.password = password;

  switch (url.protocol) {
    case 'mqtt:':
    case 'mqtts:': {
      if (!url.hostname) throw invalid(`mqtt url has no host: ${redactUrl(opts.url)}`);
      const secure = url.protocol === 'mqtts:';
      if (!secure && tlsFilesGiven) {
        throw invalid(`mqtt tls files are set but the url is not mqtts://: ${redactUrl(opts.url)}`);
      }
      o.protocol = secure ? 'mqtts' : 'mqtt';
      o.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      o.port = url.port ? Number(url.port) : secure ? 8883 : 1883;
      if (secure) {
        if (tls.ca) o.ca = tls.ca;
        if (tls.cert) o.cert = tls.cert;
        if (tls.key) o.key = tls.key;
        o.rejectUnauthorized = opts.tls?.rejectUnauthorized ?? true;
      }
      break;
    }
    case 'mqtt+unix:': {
      const socketPath = decodeURIComponent(url.pathname);
      if (url.hostname || !socketPath || socketPath === '/') {
        throw invalid(`mqtt+unix url must be mqtt+unix:///absolute/path: ${redactUrl(opts.url)}`);
      }
      if (tlsFilesGiven) throw invalid('mqtt tls is not supported over a Unix socket');
      o.protocol = 'mqtt';
      o.unixSocket = true;
      o.path = socketPath;
      break;
    }
    default:
      throw invalid(`mqtt url scheme must be mqtt://, mqtts:// or mqtt+unix://: ${redactUrl(opts.url)}`, {
        url: redactUrl(opts.url),
      });
  }
  return o;
}

async function readTlsFiles(tls: MqttTlsOptions | undefined): Promise<MqttTlsMaterial> {
  const out: MqttTlsMaterial = {};
  const files = [
    ['ca', 'ca_file', tls?.caFile],
    ['cert', 'cert_file', tls?.certFile],
    ['key', 'key_file', tls?.keyFile],
  ] as const;
  for (const [field, key, file] of files) {
    if (!file) continue;
    try {
      out[field] = await readFile(file);
    } catch (err) {
      throw new AgentError('mqtt_tls_file_unreadable', `cannot read mqtt.tls.${key} ${file}: ${errorMessage(err)}`, {
        key: `mqtt.tls.${key}`,
        file,
      });
    }
  }
  return out;
}

function toPublishProperties(p: BusPublishProperties): IPublishPacket['properties'] {
  const out: NonNullable<IPublishPacket['properties']> = {};
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.userProperties !== undefined) out.userProperties = p.userProperties;
  return out;
}

function fromPacketProperties(p: IPublishPacket['properties']): BusMessageProperties | undefined {
  if (!p) return undefined;
  const out: BusMessageProperties = {};
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  // MQTT.js hands user properties over as a null-prototype object: make it a plain one.
  if (p.userProperties !== undefined) out.userProperties = { ...p.userProperties };
  return Object.keys(out).length ? out : undefined;
}

interface SubscriptionEntry {
  qos: 0 | 1;
  /** MQTT 5 retain-as-published: live messages keep the publisher's retain flag. */
  rap: boolean;
  /** subscribe() calls waiting for the broker's answer. */
  waiters: Array<{ resolve: (r: { granted: boolean }) => void; reject: (e: Error) => void }>;
}

type SubscribeOutcome = { granted: boolean } | 'connection_lost';

/**
 * The MQTT connection of the agent (MQTT.js 5). Fresh session on every connect (clean, session
 * expiry 0), subscriptions renewed by the bus, `online`/`offline` presence on `statusTopic`
 * with `offline` as last will, reconnect with exponential backoff and jitter.
 *
 * Offline publishing: QoS 1 waits in MQTT.js's in-memory queue (gone if the process dies; the
 * durable outbox is a separate concern); QoS 0 is refused (`mqtt_offline`).
 */
export class MqttBus implements MessageBus {
  private readonly log: Logger;
  private client: MqttClient | undefined;
  private readonly subscriptions = new Map<string, SubscriptionEntry>();
  private readonly messageHandlers: Array<(msg: BusMessage) => void> = [];
  private readonly connectHandlers: Array<() => void> = [];
  private readonly disconnectHandlers: Array<(info: BusDisconnectInfo) => void> = [];
  private protocolVersion: 4 | 5 = 5;
  /** Reconnect attempts since the last stable connection (the backoff exponent). */
  private failures = 0;
  private connectedAt: number | undefined;
  /** Bumped on every connect and close: a connect sequence of an older connection stops. */
  private generation = 0;
  private lastError: string | undefined;
  private refusedThisAttempt = false;
  private stopped = false;
  private startWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly counters = { attempts: 0, connects: 0, refusals: 0, droppedOversize: 0 };

  constructor(
    private readonly opts: MqttBusOptions,
    log: Logger,
    private readonly random: () => number,
  ) {
    this.log = log.child({ component: 'mqtt' });
  }

  get connected(): boolean {
    return !this.stopped && (this.client?.connected ?? false);
  }

  stats(): MqttBusStats {
    return { ...this.counters, reconnectDelayMs: this.client?.options.reconnectPeriod ?? 0 };
  }

  /**
   * Reads the TLS files, creates the client (handlers attached before connecting) and connects.
   * With waitForConnect (default) resolves once connected (`online` published, onConnect
   * handlers called) or rejects with AgentError `mqtt_auth_refused` (credentials refused: at
   * once), `mqtt_connect_refused` (other refusals: at once) or `mqtt_unreachable` (after
   * connectTimeoutS); the client is then ended and start() may be called again.
   * Without waitForConnect it resolves at once and keeps trying in the background.
   */
  async start(): Promise<void> {
    if (this.stopped) throw new AgentError('mqtt_stopped', 'mqtt bus was stopped');
    if (this.client) throw new AgentError('mqtt_already_started', 'mqtt bus already started');
    const tls = await readTlsFiles(this.opts.tls);
    const options = buildClientOptions(this.opts, tls);
    this.protocolVersion = options.protocolVersion === 4 ? 4 : 5;
    this.failures = 0;
    options.reconnectPeriod = this.delayFor(0);
    const url = redactUrl(this.opts.url);
    const waitForConnect = this.opts.waitForConnect ?? MQTT_BUS_DEFAULTS.waitForConnect;
    const timeoutS = this.opts.connectTimeoutS ?? MQTT_BUS_DEFAULTS.connectTimeoutS;
    this.log.info({ url, clientId: this.opts.clientId, protocolVersion: this.protocolVersion }, 'mqtt connecting');

    const ready = new Promise<void>((resolve, reject) => {
      if (!waitForConnect) return resolve();
      const timer = setTimeout(() => {
        fail(
          new AgentError(
            'mqtt_unreachable',
            `no MQTT connection to ${url} within ${timeoutS} s${this.lastError ? `: ${this.lastError}` : ''}`,
            { url, lastError: this.lastError ?? null, attempts: this.counters.attempts },
          ),
        );
      }, timeoutS * 1000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.startWaiter = undefined;
        this.generation++;
        const client = this.client;
        this.client = undefined;
        client?.end(true);
        reject(err);
      };
      this.startWaiter = {
        resolve: () => {
          clearTimeout(timer);
          this.startWaiter = undefined;
          resolve();
        },
        reject: fail,
      };
    });
    // The client opens the socket at once, but no event can fire before the listeners below are on
    // (all I/O is asynchronous). Not `manualConnect`: with it, end() re-arms reconnecting on a
    // later `close` (MQTT.js resets `disconnecting` for manualConnect clients).
    const client = new MqttClient(brokerStreamBuilder(options), options);
    this.client = client;
    this.counters.attempts++;
    this.attachListeners(client);
    await ready;
  }

  /** Publishes `offline` (retained) while connected, then disconnects cleanly (no last will). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    const stoppedErr = () => new AgentError('mqtt_stopped', 'mqtt bus stopped');
    this.startWaiter?.reject(stoppedErr());
    for (const entry of this.subscriptions.values()) {
      for (const w of entry.waiters.splice(0)) w.reject(stoppedErr());
    }
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      try {
        await withTimeout(
          client.publishAsync(this.opts.statusTopic, 'offline', { qos: 1, retain: true }),
          3000,
          'publish offline',
        );
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'mqtt could not publish offline before disconnecting');
      }
      try {
        await withTimeout(client.endAsync(false), 3000, 'clean disconnect');
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'mqtt clean disconnect failed, closing the socket');
        await client.endAsync(true).catch(() => {});
      }
    } else {
      await client.endAsync(true).catch(() => {});
    }
    this.log.info('mqtt disconnected (stopped)');
  }

  async publish(topic: string, payload: string | Buffer, opts: BusPublishOptions): Promise<void> {
    if (this.stopped) throw new AgentError('mqtt_stopped', `mqtt bus stopped: message to ${topic} not sent`, { topic });
    const client = this.client;
    if (!client) throw new AgentError('mqtt_not_started', `mqtt bus not started: message to ${topic} not sent`, { topic });
    if (opts.qos === 0 && !client.connected) {
      throw new AgentError('mqtt_offline', `not connected: QoS 0 message to ${topic} dropped`, { topic });
    }
    const pubOpts: IClientPublishOptions = { qos: opts.qos, retain: opts.retain ?? false };
    if (this.protocolVersion === 5 && opts.properties) pubOpts.properties = toPublishProperties(opts.properties);
    try {
      await client.publishAsync(topic, payload, pubOpts);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') {
        throw new AgentError('mqtt_publish_refused', `broker refused the message to ${topic}: ${errorMessage(err)}`, {
          topic,
          reasonCode: code,
        });
      }
      throw new AgentError('mqtt_publish_failed', `message to ${topic} not sent: ${errorMessage(err)}`, { topic });
    }
  }

  subscribe(filter: string, qos: 0 | 1 = 1, opts: BusSubscribeOptions = {}): Promise<{ granted: boolean }> {
    if (this.stopped) return Promise.reject(new AgentError('mqtt_stopped', `mqtt bus stopped: cannot subscribe ${filter}`));
    let entry = this.subscriptions.get(filter);
    if (!entry) {
      entry = { qos, rap: opts.retainAsPublished === true, waiters: [] };
      this.subscriptions.set(filter, entry);
    }
    entry.qos = qos;
    entry.rap = opts.retainAsPublished === true;
    const e = entry;
    return new Promise((resolve, reject) => {
      e.waiters.push({ resolve, reject });
      const client = this.client;
      if (client?.connected) void this.subscribeNow(client, filter, e);
      // Otherwise the next connect subscribes it and answers the waiter.
    });
  }

  async unsubscribe(filter: string): Promise<void> {
    const entry = this.subscriptions.get(filter);
    this.subscriptions.delete(filter);
    for (const w of entry?.waiters.splice(0) ?? []) w.resolve({ granted: false });
    const client = this.client;
    if (!client?.connected || this.stopped) return;
    try {
      await client.unsubscribeAsync(filter);
    } catch (err) {
      // Clean sessions: a subscription does not outlive the connection anyway.
      this.log.debug({ filter, err: errorMessage(err) }, 'mqtt unsubscribe not confirmed');
    }
  }

  onMessage(handler: (msg: BusMessage) => void): Unsubscribe {
    return addHandler(this.messageHandlers, handler);
  }

  onConnect(handler: () => void): Unsubscribe {
    return addHandler(this.connectHandlers, handler);
  }

  onDisconnect(handler: (info: BusDisconnectInfo) => void): Unsubscribe {
    return addHandler(this.disconnectHandlers, handler);
  }

  // ---------------------------------------------------------------------------------------------

  private delayFor(attempt: number): number {
    return backoffDelayMs(attempt, this.opts.reconnect ?? MQTT_BUS_DEFAULTS.reconnect, this.random);
  }

  private attachListeners(client: MqttClient): void {
    client.on('message', (topic, payload, packet) => this.handleMessage(topic, payload, packet));
    client.on('connect', () => this.handleConnect(client));
    client.on('reconnect', () => {
      // An attempt starts now; if it fails, the next one waits one step longer.
      this.counters.attempts++;
      this.refusedThisAttempt = false;
      this.failures++;
      client.options.reconnectPeriod = this.delayFor(this.failures);
    });
    client.on('error', (err) => this.handleError(client, err));
    client.on('disconnect', (packet: IDisconnectPacket) => {
      const code = packet.reasonCode ?? 0;
      this.lastError =
        code === 142
          ? 'server disconnect: session taken over (another client connected with the same client id)'
          : `server disconnect: ${describeConnackCode(code, 5)} (${code})`;
      this.log.warn({ reasonCode: code, clientId: this.opts.clientId }, this.lastError);
    });
    // Runs before MQTT.js's own `close` listener, which schedules the next attempt with
    // options.reconnectPeriod: set the delay here.
    client.prependListener('close', () => this.handleClose(client));
  }

  private handleConnect(client: MqttClient): void {
    if (client !== this.client || this.stopped) return;
    this.counters.connects++;
    this.connectedAt = Date.now();
    this.lastError = undefined;
    this.log.info(
      { url: redactUrl(this.opts.url), clientId: this.opts.clientId, attempts: this.counters.attempts },
      'mqtt connected',
    );
    void this.connectSequence(client);
  }

  /** Renew subscriptions, publish `online`, then tell the onConnect handlers. */
  private async connectSequence(client: MqttClient): Promise<void> {
    const gen = ++this.generation;
    await Promise.all([...this.subscriptions.entries()].map(([filter, e]) => this.subscribeNow(client, filter, e)));
    if (gen !== this.generation) return;
    try {
      await client.publishAsync(this.opts.statusTopic, 'online', { qos: 1, retain: true });
    } catch (err) {
      this.log.warn({ topic: this.opts.statusTopic, err: errorMessage(err) }, 'mqtt could not publish online');
    }
    if (gen !== this.generation) return;
    this.startWaiter?.resolve();
    for (const h of [...this.connectHandlers]) this.safeCall('onConnect', () => h());
  }

  private async subscribeNow(client: MqttClient, filter: string, entry: SubscriptionEntry): Promise<void> {
    const outcome = await new Promise<SubscribeOutcome>((resolve) => {
      const rap = entry.rap && this.protocolVersion === 5 ? { rap: true } : {};
      client.subscribe(filter, { qos: entry.qos, ...rap }, (err) => {
        if (!err) return resolve({ granted: true });
        const packet = (err as { packet?: { cmd?: string } }).packet;
        resolve(packet?.cmd === 'suback' ? { granted: false } : 'connection_lost');
      });
    });
    if (outcome === 'connection_lost') return; // waiters wait for the next connect
    if (this.subscriptions.get(filter) !== entry) return; // unsubscribed meanwhile
    if (!outcome.granted) this.log.warn({ filter }, 'mqtt subscription refused by the broker');
    for (const w of entry.waiters.splice(0)) w.resolve(outcome);
  }

  private handleError(client: MqttClient, err: Error): void {
    if (client !== this.client) return;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && err.message.startsWith('Connection refused')) {
      this.handleRefusal(client, code);
      return;
    }
    this.lastError = errorMessage(err);
    this.log.debug({ err: this.lastError }, 'mqtt client error');
  }

  private handleRefusal(client: MqttClient, code: number): void {
    const pv = this.protocolVersion;
    const message = describeConnackCode(code, pv);
    this.counters.refusals++;
    this.refusedThisAttempt = true;
    this.lastError = `connection refused: ${message} (${code})`;
    // No hammering: straight to the top of the backoff range. MQTT.js schedules the retry with
    // this period right after the `error` event (reconnectOnConnackError).
    this.failures = Math.max(this.failures, AT_MAX);
    client.options.reconnectPeriod = this.delayFor(this.failures);
    const auth = isAuthRefusal(code, pv);
    this.log.error(
      {
        reasonCode: code,
        reason: message,
        protocolVersion: pv,
        username: this.opts.username ?? null,
        clientId: this.opts.clientId,
        retryInMs: client.options.reconnectPeriod,
      },
      auth
        ? `mqtt login refused by the broker: ${message} (CONNACK ${code}); check mqtt.username and the password`
        : `mqtt connection refused by the broker: ${message} (CONNACK ${code})`,
    );
    const info: BusDisconnectInfo = { reason: this.lastError, refused: { code, message } };
    for (const h of [...this.disconnectHandlers]) this.safeCall('onDisconnect', () => h(info));
    if (this.startWaiter && !isTransientRefusal(code, pv)) {
      const url = redactUrl(this.opts.url);
      this.startWaiter.reject(
        new AgentError(
          auth ? 'mqtt_auth_refused' : 'mqtt_connect_refused',
          `MQTT broker ${url} refused the connection: ${message} (CONNACK ${code})`,
          { url, reasonCode: code, reason: message, username: this.opts.username ?? null },
        ),
      );
    }
  }

  private handleClose(client: MqttClient): void {
    if (client !== this.client) return;
    this.generation++;
    const wasConnectedAt = this.connectedAt;
    this.connectedAt = undefined;
    if (this.stopped) return;
    if (wasConnectedAt !== undefined) {
      const stableMs = (this.opts.stableAfterS ?? MQTT_BUS_DEFAULTS.stableAfterS) * 1000;
      if (Date.now() - wasConnectedAt >= stableMs) this.failures = 0;
      client.options.reconnectPeriod = this.delayFor(this.failures);
      const reason = this.lastError ?? 'connection closed';
      this.log.warn({ reason, retryInMs: client.options.reconnectPeriod }, 'mqtt connection lost');
      const info: BusDisconnectInfo = { reason };
      for (const h of [...this.disconnectHandlers]) this.safeCall('onDisconnect', () => h(info));
    } else if (!this.refusedThisAttempt) {
      this.log.warn(
        { url: redactUrl(this.opts.url), err: this.lastError ?? 'connection closed', attempt: this.counters.attempts, retryInMs: client.options.reconnectPeriod },
        'mqtt connect failed',
      );
    }
    this.refusedThisAttempt = false;
  }

  private handleMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const max = this.opts.maxPayloadBytes ?? MQTT_BUS_DEFAULTS.maxPayloadBytes;
    if (payload.length > max) {
      this.counters.droppedOversize++;
      this.log.warn({ topic, bytes: payload.length, maxPayloadBytes: max }, 'mqtt message over the size limit dropped');
      return;
    }
    const msg: BusMessage = { topic, payload, retain: packet.retain, qos: packet.qos };
    const properties = fromPacketProperties(packet.properties);
    if (properties) msg.properties = properties;
    for (const h of [...this.messageHandlers]) this.safeCall('onMessage', () => h(msg), topic);
  }

  private safeCall(kind: string, fn: () => unknown, topic?: string): void {
    const report = (err: unknown) =>
      this.log.error({ err: errorMessage(err), handler: kind, ...(topic ? { topic } : {}) }, `mqtt ${kind} handler failed`);
    try {
      const r = fn();
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, report);
    } catch (err) {
      report(err);
    }
  }
}

function addHandler<T>(list: T[], handler: T): Unsubscribe {
  list.push(handler);
  return () => {
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
