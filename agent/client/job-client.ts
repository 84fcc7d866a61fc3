/**
 * The client side of the inference job protocol (spec/mqtt-api.md "Inference jobs"), on MQTT.js.
 *
 * Heat-aware dispatch: the client follows every heater's retained `status` and `state`, offers a
 * job directly to the usable heater with the largest heat demand (then the most free slots),
 * moves on when it is rejected or does not answer `accepted` in time, and publishes to the fleet
 * topic `<base>/jobs/<model>/submit` (a shared subscription of the heaters that want heat) as the
 * last resort, retried because the broker drops a fleet job no heater subscribes to. One job_id
 * travels to every heater tried: the first `accepted` wins, a later acceptance by another heater
 * is cancelled (`<base>/<id>/jobs/cancel`). Replies are de-duplicated by (job_id, node, type[, seq])
 * since delivery is at least once; streamed chunks are put back in seq order.
 *
 * MQTT 5 (default): message expiry = ttl_s, response topic + correlation data (= job_id), and the
 * PUBACK reason "no matching subscribers" tells at once that nobody takes a topic.
 * MQTT 3.1.1: the payload's `reply_to` carries everything.
 *
 * Replies survive the client's own reconnects: over MQTT 5 the session (the QoS 1 reply
 * subscription and what arrives for it meanwhile) is kept by the broker for `sessionExpiryS`
 * after a connection drops, and dropped at once by stop(). Over MQTT 3.1.1 a kept session could
 * only be kept forever, so there the session is clean and a reply published during a reconnect
 * is lost to the client (the job still ends, and its `done` is on the wire).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type IClientPublishOptions, type ISubscriptionMap, type MqttClient, type Packet } from 'mqtt';
import { AgentError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { ChunkAssembler } from './chunk-assembler.js';
import { FleetTracker } from './fleet-tracker.js';
import { buildFleetView, describeFleet, DEFAULT_MAX_QUEUE, DEFAULT_STATE_INTERVAL_S, type FleetView, type HeaterEntry } from './fleet-view.js';
import { parseJobReply, type JobReply } from './job-reply.js';

export interface JobClientOptions {
  /** Broker URL (mqtt://, mqtts://, mqtt+unix://, ws://, wss://). */
  url: string;
  /** `mqtt.base_topic` of the heaters (default anchiale/v1). */
  base?: string;
  /** MQTT client id (default anchiale-client-<random>). */
  clientId?: string;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  username?: string | null;
  password?: string | null;
  /** PEM contents (the shape OpsClient and resolveClientConnection use). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  /** The heaters' `jobs.reply_prefix` (default `<base>/replies/`). */
  replyPrefix?: string | null;
  /** The level under the reply prefix this client reads (default: the user name, else the client id; broker ACLs use `%u`). */
  replyName?: string;
  /** The heaters' `state.interval_s` (default 30): state older than twice it is not trusted. */
  stateIntervalS?: number;
  /** The heaters' `jobs.max_queue` (default 8). */
  maxQueue?: number;
  /** How long a heater (or the fleet) has to answer accepted/rejected (default 3000 ms). */
  acceptTimeoutMs?: number;
  /** Heaters tried directly before the fleet topic (default 3). */
  maxDirectAttempts?: number;
  /** Publications to the fleet topic (default 3). */
  fleetAttempts?: number;
  /** After acceptance: longest silence from the heater before the job counts as timed out (default 300 000 ms). */
  resultTimeoutMs?: number;
  /** How long start() waits for the broker (default 5000 ms). */
  connectTimeoutMs?: number;
  /** MQTT 5: how long the broker keeps this client's replies while it reconnects (default 300 s). */
  sessionExpiryS?: number;
  log?: Logger;
  /** Wall clock for state ages (default Date.now). */
  now?: () => number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface JobRequest {
  prompt?: string;
  messages?: ChatMessage[];
  /** Model id (GGUF file stem); absent: the chosen heater's model. */
  model?: string;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** Stream chunks (default true). */
  stream?: boolean;
  /** Seconds the job may wait, in the broker (message expiry) and at the heater (default 60). */
  ttlS?: number;
  /** Only this heater (direct, no fleet). */
  node?: string;
  /** auto (default): direct to the best heaters, then the fleet; direct: no fleet; fleet: only the fleet topic. */
  via?: 'auto' | 'direct' | 'fleet';
  /** A job id chosen by the caller (default: a random UUID). */
  jobId?: string;
}

export interface ChunkEvent {
  node: string;
  seq: number;
  text: string;
  /** True for text taken from `done` that the stream never delivered (a gap). */
  recovered?: boolean;
}

export interface AcceptedEvent {
  node: string;
  queuePosition: number | null;
  via: 'direct' | 'fleet';
}

export interface RejectedEvent {
  node: string;
  reason: string;
  message: string;
  via: 'direct' | 'fleet';
}

export interface SubmitHandlers {
  onChunk?: (chunk: ChunkEvent) => void;
  onAccepted?: (info: AcceptedEvent) => void;
  onRejected?: (info: RejectedEvent) => void;
  /** Aborting cancels the job (a running job ends `done` with finish_reason cancelled). */
  signal?: AbortSignal;
}

/** `preempted`: accepted, then dropped from the heater's queue before it started (its room warmed up). */
export type AttemptOutcome = 'accepted' | 'rejected' | 'timeout' | 'no_subscriber' | 'preempted';

export interface DispatchAttempt {
  via: 'direct' | 'fleet';
  /** The node id (direct) or the fleet topic's model (fleet). */
  target: string;
  outcome: AttemptOutcome;
  /** Who answered, when someone did. */
  node?: string;
  reason?: string;
  ms: number;
}

export interface JobResult {
  jobId: string;
  node: string;
  via: 'direct' | 'fleet';
  text: string;
  finishReason: string;
  usage: { promptTokens: number | null; completionTokens: number | null };
  /** As the heater measured it. */
  timing: { queueMs: number | null; ttftMs: number | null; totalMs: number | null };
  energyJ: number | null;
  queuePosition: number | null;
  attempts: DispatchAttempt[];
  /** As this client measured it, from submit(): acceptance, first chunk, result. */
  client: { acceptedMs: number; firstChunkMs: number | null; totalMs: number };
  /** Chunks that never arrived in order (their text came from `done`). */
  chunkGaps: number;
}

export interface JobClientStats {
  submitted: number;
  done: number;
  /** Jobs that ended with a job_error. */
  failed: number;
  /** Jobs no heater accepted (rejected, timeout, no_heater). */
  rejected: number;
  active: number;
  duplicateReplies: number;
  lateDuplicatesCancelled: number;
  /** Jobs offered again after a heater dropped them from its queue (error preempted) before they started. */
  preemptedRetries: number;
}

export interface FleetStatus extends FleetView {
  /** Every heater seen, as known now. */
  heaters: HeaterEntry[];
  atMs: number;
}

interface Pending {
  jobId: string;
  replyTopic: string;
  owner: string | null;
  ownerVia: 'direct' | 'fleet';
  queuePosition: number | null;
  seen: Set<string>;
  assembler: ChunkAssembler;
  rejections: Extract<JobReply, { type: 'rejected' }>[];
  terminal: Extract<JobReply, { type: 'done' | 'error' }> | null;
  lastActivity: number;
  handlers: SubmitHandlers;
  /** The attempt being waited on (for the via of an acceptance). */
  currentVia: 'direct' | 'fleet';
  wake: () => void;
  t0: number;
  acceptedAt: number | null;
  firstChunkAt: number | null;
  stream: boolean;
}

const MQTT_RC_NO_MATCHING_SUBSCRIBERS = 16;
const CLOSED_JOBS_KEPT = 10_000;
const CANCEL_WAIT_MS = 5000;
/** Heaters a job may be preempted by before its `preempted` error is final. */
const MAX_PREEMPTED_RETRIES = 2;

export class JobClient {
  private client: MqttClient | null = null;
  private readonly base: string;
  private readonly replyPrefix: string;
  private readonly clientId: string;
  private readonly replyName: string;
  private readonly tracker: FleetTracker;
  private readonly log: Logger;
  private readonly pending = new Map<string, Pending>();
  /** Jobs this client has finished with, and the heater that served each (null: none). */
  private readonly closed = new Map<string, string | null>();
  private readonly pubackRc = new Map<number, number>();
  private stopping = false;
  private readonly counters: Omit<JobClientStats, 'active'> = {
    submitted: 0,
    done: 0,
    failed: 0,
    rejected: 0,
    duplicateReplies: 0,
    lateDuplicatesCancelled: 0,
    preemptedRetries: 0,
  };

  constructor(private readonly opts: JobClientOptions) {
    this.base = opts.base ?? 'anchiale/v1';
    this.replyPrefix = opts.replyPrefix ?? `${this.base}/replies/`;
    this.clientId = opts.clientId ?? `anchiale-client-${randomBytes(4).toString('hex')}`;
    this.replyName = opts.replyName ?? opts.username ?? this.clientId;
    this.tracker = new FleetTracker(this.base);
    this.log = (opts.log ?? silentLogger()).child({ component: 'job-client' });
  }

  /** The filter of this client's replies. */
  get replyFilter(): string {
    return `${this.replyPrefix}${this.replyName}/#`;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  get stats(): JobClientStats {
    return { ...this.counters, active: this.pending.size };
  }

  /**
   * Connects, subscribes to the heaters' status/state and to this client's replies, and returns
   * once the retained documents present at subscription time have arrived.
   */
  async start(): Promise<void> {
    if (this.client) return;
    if (/[/+#]/.test(this.replyName) || this.replyName.includes('\u0000') || this.replyName === '') {
      throw new AgentError('invalid_option', `reply name ${JSON.stringify(this.replyName)} must be one topic level without + or #`);
    }
    const o = this.opts;
    const tls = o.tls ?? {};
    const v5 = (o.protocolVersion ?? 5) === 5;
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: o.protocolVersion ?? 5,
      // MQTT 5: clean start off, so after a dropped connection the broker hands over what arrived
      // for the reply subscription meanwhile. The default client id is new for every client; a
      // session resumed under a given one only brings replies to unknown jobs, which are ignored.
      clean: !v5,
      reconnectPeriod: 1000,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      queueQoSZero: false,
      resubscribe: true,
      manualConnect: true,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(v5 ? { properties: { sessionExpiryInterval: o.sessionExpiryS ?? 300 } } : {}),
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.client = client;
    this.stopping = false;
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback' && typeof p.reasonCode === 'number' && p.reasonCode > 0 && typeof p.messageId === 'number') {
        this.pubackRc.set(p.messageId, p.reasonCode);
        if (this.pubackRc.size > 1000) this.pubackRc.delete(this.pubackRc.keys().next().value as number);
      }
    });
    client.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'mqtt error'));
    // Small packets back to back (a PUBACK, then the next request) must not wait for the broker's
    // delayed ACK (Nagle: up to 40 ms a job on Linux). Each (re)connect has a new socket.
    client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true));
    // A kept session keeps the subscriptions, so MQTT.js does not renew them, but only a SUBSCRIBE
    // brings the retained status and state again: heaters that came back while the client was
    // away would otherwise look stale until their next periodic state.
    let connects = 0;
    client.on('connect', (connack) => {
      if (++connects > 1 && connack.sessionPresent) {
        // `resubscribe`: MQTT.js otherwise skips filters it already holds.
        const again = Object.fromEntries(this.tracker.filters.map((f) => [f, { qos: 0 }])) as ISubscriptionMap;
        again.resubscribe = true;
        client.subscribe(again, (err) => {
          if (err) this.log.warn({ err: errorMessage(err) }, 'renewing the fleet subscriptions failed');
        });
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timeoutMs = o.connectTimeoutMs ?? 5000;
        let lastErr = '';
        const onErr = (err: Error) => (lastErr = err.message);
        const timer = setTimeout(() => {
          cleanup();
          reject(new AgentError('broker_unreachable', `no connection to ${redactUrl(o.url)} within ${timeoutMs} ms${lastErr ? ` (${lastErr})` : ''}`));
        }, timeoutMs);
        const onConnect = () => {
          cleanup();
          resolve();
        };
        const cleanup = () => {
          clearTimeout(timer);
          client.off('connect', onConnect);
          client.off('error', onErr);
        };
        client.on('connect', onConnect);
        client.on('error', onErr);
        client.connect();
      });
      // Retained state arrives right after the SUBACK of its filters; the SUBACK of the second
      // SUBSCRIBE comes after it (the broker handles one client's packets in order), so when
      // start() returns the fleet view is complete. QoS 0: no in-flight window to wait behind.
      const granted = await client.subscribeAsync(this.tracker.filters, { qos: 0 });
      const replies = await client.subscribeAsync(this.replyFilter, { qos: 1 });
      const refused = [...granted, ...replies].filter((g) => g.qos >= 0x80);
      if (refused.length > 0) {
        throw new AgentError('not_authorized', `the broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}`);
      }
    } catch (err) {
      this.client = null;
      await client.endAsync(true).catch(() => undefined);
      throw err;
    }
    this.log.debug({ clientId: this.clientId, replies: this.replyFilter }, 'job client started');
  }

  /** Cancels the jobs still running, fails the waiting submits with `stopped`, disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    for (const p of this.pending.values()) {
      if (p.owner && !p.terminal) this.cancel(p.owner, p.jobId);
      p.wake();
    }
    this.client = null;
    // MQTT 5: nothing more is wanted, so the broker may drop the session now.
    const v5 = (this.opts.protocolVersion ?? 5) === 5;
    await client.endAsync(false, v5 ? { properties: { sessionExpiryInterval: 0 } } : {}).catch(() => undefined);
  }

  /** Every heater seen and which ones a job for `model` may go to now. */
  fleetStatus(opts: { model?: string | null } = {}): FleetStatus {
    const atMs = (this.opts.now ?? Date.now)();
    const view = this.view(opts.model ?? null, atMs);
    const heaters = [...view.usable, ...view.skipped].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { ...view, heaters, atMs };
  }

  /** Runs one job on the best heater that takes it; see the file comment. */
  async submit(req: JobRequest, handlers: SubmitHandlers = {}): Promise<JobResult> {
    const client = this.client;
    if (!client) throw new AgentError('not_started', 'JobClient.start() first');
    if ((req.prompt === undefined) === (req.messages === undefined)) {
      throw new AgentError('invalid_request', 'give exactly one of prompt or messages');
    }
    const jobId = req.jobId ?? randomUUID();
    if (this.pending.has(jobId) || this.closed.has(jobId)) throw new AgentError('invalid_request', `job id ${jobId} was already used by this client`);
    const via = req.node ? 'direct' : (req.via ?? 'auto');
    const view = this.view(req.model ?? null, (this.opts.now ?? Date.now)());
    const plan = this.plan(req, view, via);
    this.counters.submitted += 1;
    if (plan.length === 0) {
      this.counters.rejected += 1;
      this.closed.set(jobId, null);
      throw noHeaterError(req, view);
    }
    const p: Pending = {
      jobId,
      replyTopic: `${this.replyPrefix}${this.replyName}/${jobId}`,
      owner: null,
      ownerVia: 'direct',
      queuePosition: null,
      seen: new Set(),
      assembler: new ChunkAssembler(),
      rejections: [],
      terminal: null,
      lastActivity: performance.now(),
      handlers,
      currentVia: plan[0]!.via,
      wake: () => undefined,
      t0: performance.now(),
      acceptedAt: null,
      firstChunkAt: null,
      stream: req.stream ?? true,
    };
    this.pending.set(jobId, p);
    const onAbort = () => {
      if (p.owner) this.cancel(p.owner, jobId);
      p.wake();
    };
    handlers.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const attempts: DispatchAttempt[] = [];
      let terminal: Extract<JobReply, { type: 'done' | 'error' }>;
      let round = { plan, view };
      const preemptedBy = new Set<string>();
      for (;;) {
        attempts.push(...(await this.dispatch(p, req, round.plan, round.view)));
        terminal = await this.awaitTerminal(p);
        // Dropped from a queue before it started (that room warmed up): nothing was produced, so the
        // job goes to another heater whose room wants heat, unless the caller named the heater.
        const retry =
          terminal.type === 'error' && terminal.code === 'preempted' && !req.node && p.firstChunkAt === null &&
          preemptedBy.size < MAX_PREEMPTED_RETRIES && !p.handlers.signal?.aborted && !this.stopping;
        if (!retry || terminal.type !== 'error') break;
        preemptedBy.add(terminal.node);
        const taken = attempts.findLast((a) => a.outcome === 'accepted');
        attempts.push({ via: p.ownerVia, target: taken?.target ?? terminal.node, outcome: 'preempted', node: terminal.node, ms: performance.now() - (p.acceptedAt ?? p.t0) });
        p.handlers.onRejected?.({ node: terminal.node, reason: 'preempted', message: terminal.message, via: p.ownerVia });
        const view2 = this.view(req.model ?? null, (this.opts.now ?? Date.now)());
        const plan2 = this.plan(req, { ...view2, usable: view2.usable.filter((h) => !preemptedBy.has(h.node)) }, via);
        if (plan2.length === 0) break;
        this.log.info({ jobId, node: terminal.node }, 'job preempted before it started; offering it to another heater');
        this.counters.preemptedRetries += 1;
        p.owner = null;
        p.terminal = null;
        p.queuePosition = null;
        p.acceptedAt = null;
        p.lastActivity = performance.now();
        round = { plan: plan2, view: view2 };
      }
      if (terminal.type === 'error') {
        this.counters.failed += 1;
        throw new AgentError('job_error', `job ${jobId} failed on ${terminal.node}: ${terminal.code}${terminal.message ? `: ${terminal.message}` : ''}`, {
          jobId,
          node: terminal.node,
          code: terminal.code,
          message: terminal.message,
          attempts,
        });
      }
      const fin = p.assembler.finish(terminal.text);
      if (p.stream && fin.tail !== '') {
        handlers.onChunk?.({ node: terminal.node, seq: -1, text: fin.tail, recovered: true });
      }
      if (fin.mismatch) this.log.warn({ jobId }, 'streamed text is not a prefix of the final text');
      this.counters.done += 1;
      const now = performance.now();
      return {
        jobId,
        node: terminal.node,
        via: p.ownerVia,
        text: terminal.text,
        finishReason: terminal.finishReason,
        usage: terminal.usage,
        timing: terminal.timing,
        energyJ: terminal.energyJ,
        queuePosition: p.queuePosition,
        attempts,
        client: {
          acceptedMs: (p.acceptedAt ?? now) - p.t0,
          firstChunkMs: p.firstChunkAt === null ? null : p.firstChunkAt - p.t0,
          totalMs: now - p.t0,
        },
        chunkGaps: fin.gaps,
      };
    } catch (err) {
      if (!(err instanceof AgentError && err.code === 'job_error')) this.counters.rejected += 1;
      throw err;
    } finally {
      handlers.signal?.removeEventListener('abort', onAbort);
      this.pending.delete(jobId);
      this.closed.set(jobId, p.owner);
      if (this.closed.size > CLOSED_JOBS_KEPT) this.closed.delete(this.closed.keys().next().value as string);
    }
  }

  /* ---------- dispatch ---------- */

  private view(model: string | null, nowMs: number): FleetView {
    return buildFleetView(this.tracker.observations(), {
      nowMs,
      model,
      stateIntervalS: this.opts.stateIntervalS ?? DEFAULT_STATE_INTERVAL_S,
      maxQueue: this.opts.maxQueue ?? DEFAULT_MAX_QUEUE,
    });
  }

  private plan(req: JobRequest, view: FleetView, via: 'auto' | 'direct' | 'fleet'): { via: 'direct' | 'fleet'; target: string }[] {
    if (req.node) {
      const o = this.tracker.get(req.node);
      // An explicit heater is asked even when its state says no (it answers why), unless it is known to be gone.
      if (o && o.status !== null && o.status !== 'online') return [];
      return [{ via: 'direct', target: req.node }];
    }
    const plan: { via: 'direct' | 'fleet'; target: string }[] = [];
    if (via !== 'fleet') {
      for (const h of view.usable.slice(0, this.opts.maxDirectAttempts ?? 3)) plan.push({ via: 'direct', target: h.node });
    }
    if (via !== 'direct') {
      // The fleet topic names a model: the one asked for, else the best heater's, else that of a heater that is only full.
      const model = req.model ?? view.usable[0]?.model ?? view.skipped.find((h) => h.skip === 'full')?.model ?? null;
      const someoneWants = view.usable.length > 0 || view.skipped.some((h) => h.skip === 'full');
      if (model && someoneWants) for (let i = 0; i < (this.opts.fleetAttempts ?? 3); i++) plan.push({ via: 'fleet', target: model });
    }
    return plan;
  }

  /** Offers the job along the plan until a heater accepts; returns the attempts. */
  private async dispatch(p: Pending, req: JobRequest, plan: { via: 'direct' | 'fleet'; target: string }[], view: FleetView): Promise<DispatchAttempt[]> {
    const attempts: DispatchAttempt[] = [];
    const acceptTimeoutMs = this.opts.acceptTimeoutMs ?? 3000;
    let fleetTries = 0;
    for (const step of plan) {
      if (p.owner || p.terminal) break;
      if (this.stopping) throw new AgentError('stopped', 'the job client stopped');
      if (p.handlers.signal?.aborted) throw new AgentError('cancelled', `job ${p.jobId} cancelled before a heater accepted it`);
      if (step.via === 'fleet' && fleetTries > 0) await sleep(Math.min(1000, 100 * 2 ** (fleetTries - 1)));
      if (step.via === 'fleet') fleetTries += 1;
      if (p.owner || p.terminal) break;
      p.currentVia = step.via;
      const mark = p.rejections.length;
      const t = performance.now();
      const topic = step.via === 'direct' ? `${this.base}/${step.target}/jobs/submit` : `${this.base}/jobs/${step.target}/submit`;
      const model = step.via === 'fleet' ? step.target : (req.model ?? null);
      const rejectedHere = () =>
        p.rejections.slice(mark).find((r) => step.via === 'fleet' || r.node === step.target) ?? null;
      const rc = await this.publishJob(p, req, topic, model, acceptTimeoutMs);
      if (rc === MQTT_RC_NO_MATCHING_SUBSCRIBERS && !p.owner && !p.terminal && !rejectedHere()) {
        attempts.push({ via: step.via, target: step.target, outcome: 'no_subscriber', ms: performance.now() - t });
        continue;
      }
      const left = Math.max(0, acceptTimeoutMs - (performance.now() - t));
      await this.waitFor(p, () => p.owner !== null || p.terminal !== null || rejectedHere() !== null, left);
      const ms = performance.now() - t;
      const taker = takenBy(p);
      if (taker !== null) {
        attempts.push({ via: step.via, target: step.target, outcome: 'accepted', node: taker, ms });
        break;
      }
      const rej = rejectedHere();
      if (rej) {
        attempts.push({ via: step.via, target: step.target, outcome: 'rejected', node: rej.node, reason: rej.reason, ms });
        p.handlers.onRejected?.({ node: rej.node, reason: rej.reason, message: rej.message, via: step.via });
        // The request itself is wrong (no other heater takes it either), or the caller named the heater.
        if (rej.reason === 'invalid_request' || req.node) throw rejectedError(p.jobId, rej, attempts);
        continue;
      }
      attempts.push({ via: step.via, target: step.target, outcome: 'timeout', ms });
    }
    if (p.owner || p.terminal) return attempts;
    if (this.stopping) throw new AgentError('stopped', 'the job client stopped');
    const lastRejection = [...attempts].reverse().find((a) => a.outcome === 'rejected');
    if (lastRejection) {
      const rej = [...p.rejections].reverse()[0]!;
      throw rejectedError(p.jobId, rej, attempts);
    }
    if (attempts.every((a) => a.outcome === 'no_subscriber')) {
      throw new AgentError(
        'no_heater',
        `no heater takes jobs: ${attempts.length} publication${attempts.length === 1 ? '' : 's'} reached no subscriber (${describeFleet(view)})`,
        { jobId: p.jobId, attempts, heaters: [...view.usable, ...view.skipped] },
      );
    }
    throw new AgentError('timeout', `no heater accepted job ${p.jobId}: ${describeAttempts(attempts)}`, { jobId: p.jobId, attempts });
  }

  /** Publishes the request; resolves with the PUBACK reason code (0 when none), or -1 when it could not be sent in time. */
  private async publishJob(p: Pending, req: JobRequest, topic: string, model: string | null, timeoutMs: number): Promise<number> {
    const client = this.client;
    if (!client) return -1;
    const ttlS = req.ttlS ?? 60;
    const body: Record<string, unknown> = { job_id: p.jobId, reply_to: p.replyTopic };
    if (model) body.model = model;
    if (req.messages !== undefined) body.messages = req.messages;
    else body.prompt = req.prompt;
    if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.seed !== undefined) body.seed = req.seed;
    body.stream = p.stream;
    body.ttl_s = ttlS;
    const popts: IClientPublishOptions = { qos: 1, retain: false };
    if ((this.opts.protocolVersion ?? 5) === 5) {
      popts.properties = {
        messageExpiryInterval: Math.max(1, Math.ceil(ttlS)),
        responseTopic: p.replyTopic,
        correlationData: Buffer.from(p.jobId),
        contentType: 'application/json',
      };
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const packet = await Promise.race([
        client.publishAsync(topic, JSON.stringify(body), popts),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
      ]);
      if (packet === 'timeout') return -1;
      const id = packet?.messageId;
      if (typeof id !== 'number') return 0;
      const rc = this.pubackRc.get(id) ?? 0;
      this.pubackRc.delete(id);
      return rc;
    } catch (err) {
      this.log.warn({ jobId: p.jobId, topic, err: errorMessage(err) }, 'job publish failed');
      return -1;
    } finally {
      clearTimeout(timer);
    }
  }

  /** After acceptance: the owner's done or error (or a timeout after resultTimeoutMs of silence). */
  private async awaitTerminal(p: Pending): Promise<Extract<JobReply, { type: 'done' | 'error' }>> {
    const silenceMs = this.opts.resultTimeoutMs ?? 300_000;
    let abortedAt: number | null = null;
    for (;;) {
      if (p.terminal) return p.terminal;
      if (this.stopping) throw new AgentError('stopped', 'the job client stopped');
      if (p.handlers.signal?.aborted) {
        abortedAt ??= performance.now();
        // The heater answers a cancel with `done` (cancelled); do not wait for it for ever.
        if (performance.now() - abortedAt >= CANCEL_WAIT_MS) {
          throw new AgentError('cancelled', `job ${p.jobId} cancelled; ${p.owner} did not confirm within ${CANCEL_WAIT_MS} ms`, { jobId: p.jobId, node: p.owner });
        }
        await this.waitFor(p, () => p.terminal !== null, CANCEL_WAIT_MS - (performance.now() - abortedAt));
        continue;
      }
      const idle = performance.now() - p.lastActivity;
      if (idle >= silenceMs) {
        throw new AgentError('timeout', `heater ${p.owner} accepted job ${p.jobId} but sent nothing for ${Math.round(idle / 1000)} s`, {
          jobId: p.jobId,
          node: p.owner,
        });
      }
      await this.waitFor(p, () => p.terminal !== null, silenceMs - idle);
    }
  }

  private waitFor(p: Pending, done: () => boolean, timeoutMs: number): Promise<void> {
    if (done() || this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      function finish() {
        clearTimeout(timer);
        p.wake = () => undefined;
        resolve();
      }
      p.wake = () => {
        if (done() || p.handlers.signal?.aborted) finish();
      };
      if (this.stopping) finish();
    });
  }

  private cancel(node: string, jobId: string): void {
    const client = this.client;
    if (!client) return;
    client.publishAsync(`${this.base}/${node}/jobs/cancel`, JSON.stringify({ job_id: jobId }), { qos: 1 }).catch((err: unknown) => {
      this.log.warn({ node, jobId, err: errorMessage(err) }, 'cancel publish failed');
    });
  }

  /* ---------- incoming ---------- */

  private onMessage(topic: string, payload: Buffer): void {
    if (topic.startsWith(this.replyPrefix)) {
      this.onReply(topic, payload.toString('utf8'));
      return;
    }
    this.tracker.observe(topic, payload.toString('utf8'));
  }

  private onReply(topic: string, text: string): void {
    const reply = parseJobReply(text);
    if (typeof reply === 'string') {
      this.log.debug({ topic, problem: reply }, 'ignored an invalid reply');
      return;
    }
    const p = this.pending.get(reply.jobId);
    if (!p) {
      // A heater accepting a job this client has finished with (or given up on) is a late duplicate.
      if (reply.type === 'accepted' && this.closed.has(reply.jobId) && this.closed.get(reply.jobId) !== reply.node) {
        this.lateDuplicate(reply.node, reply.jobId);
      }
      return;
    }
    const key = reply.type === 'chunk' ? `${reply.node}|chunk|${reply.seq}` : `${reply.node}|${reply.type}`;
    if (p.seen.has(key)) {
      this.counters.duplicateReplies += 1;
      return;
    }
    p.seen.add(key);
    switch (reply.type) {
      case 'accepted':
        if (p.owner === null && p.terminal === null) {
          this.takeOwner(p, reply.node, reply.queuePosition);
        } else if (p.owner !== reply.node) {
          this.lateDuplicate(reply.node, p.jobId);
        }
        break;
      case 'rejected':
        if (p.owner !== reply.node) p.rejections.push(reply);
        break;
      case 'chunk':
        // A chunk (or an answer) before `accepted` still names the heater that runs the job.
        if (p.owner === null && p.terminal === null) this.takeOwner(p, reply.node, null);
        if (p.owner !== reply.node) break;
        p.lastActivity = performance.now();
        if (!p.stream) break;
        for (const c of p.assembler.push(reply.seq, reply.text)) {
          p.firstChunkAt ??= performance.now();
          p.handlers.onChunk?.({ node: reply.node, seq: c.seq, text: c.text });
        }
        break;
      case 'done':
      case 'error':
        if (p.owner === null && p.terminal === null) this.takeOwner(p, reply.node, null);
        if (p.owner !== reply.node || p.terminal !== null) break;
        p.lastActivity = performance.now();
        p.terminal = reply;
        break;
    }
    p.wake();
  }

  private takeOwner(p: Pending, node: string, queuePosition: number | null): void {
    p.owner = node;
    p.ownerVia = p.currentVia;
    p.queuePosition = queuePosition;
    p.acceptedAt = performance.now();
    p.lastActivity = p.acceptedAt;
    p.handlers.onAccepted?.({ node, queuePosition, via: p.currentVia });
    // Aborted before anyone accepted: cancel at once.
    if (p.handlers.signal?.aborted) this.cancel(node, p.jobId);
  }

  private lateDuplicate(node: string, jobId: string): void {
    this.counters.lateDuplicatesCancelled += 1;
    this.log.debug({ node, jobId }, 'cancelling a late duplicate acceptance');
    this.cancel(node, jobId);
  }
}

/** The heater that took the job, if any (read afresh: replies arrive while dispatch awaits). */
function takenBy(p: Pending): string | null {
  return p.owner ?? p.terminal?.node ?? null;
}

function rejectedError(jobId: string, rej: Extract<JobReply, { type: 'rejected' }>, attempts: DispatchAttempt[]): AgentError {
  return new AgentError('rejected', `job ${jobId} rejected by ${rej.node}: ${rej.reason}${rej.message ? ` (${rej.message})` : ''}; ${describeAttempts(attempts)}`, {
    jobId,
    node: rej.node,
    reason: rej.reason,
    message: rej.message,
    attempts,
  });
}

function noHeaterError(req: JobRequest, view: FleetView): AgentError {
  const what = req.node ? `heater ${req.node} is not online` : `no heater wants heat${req.model ? ` for model ${req.model}` : ''}`;
  return new AgentError('no_heater', `${what}: ${describeFleet(view)}`, { heaters: [...view.usable, ...view.skipped] });
}

function describeAttempts(attempts: DispatchAttempt[]): string {
  if (attempts.length === 0) return 'nothing tried';
  return `tried ${attempts
    .map((a) => `${a.via === 'fleet' ? `fleet(${a.target})` : a.target}: ${a.outcome}${a.reason ? ` ${a.reason}` : ''}${a.via === 'fleet' && a.node ? ` by ${a.node}` : ''}`)
    .join(', ')}`;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
