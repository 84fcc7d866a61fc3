/**
 * A heater that speaks only the job protocol of spec/mqtt-api.md, over a real broker, for client
 * tests: retained `status` and `state` (with the demand, slots and acceptance a test sets), a
 * direct job topic, optionally the fleet topic through `$share`, cancels recorded. What it answers
 * to a job is the test's `behavior`; the default accepts, streams two chunks and answers `done`.
 */
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';

export interface FakeJob {
  topic: string;
  via: 'direct' | 'fleet';
  body: Record<string, unknown>;
  jobId: string;
  /** MQTT 5 response topic when present, else reply_to. */
  replyTo: string;
  correlationData: Buffer | null;
  messageExpiryInterval: number | null;
  responseTopic: string | null;
  receivedAt: number;
}

export type FakeBehavior = (job: FakeJob, heater: FakeHeater) => Promise<void> | void;

export interface FakeHeaterState {
  demand?: number | null;
  phase?: string;
  reasons?: string[];
  model?: string | null;
  accepting?: boolean;
  slots?: number;
  maxSlots?: number;
  jobsActive?: number;
  tokensPerS?: number | null;
  /** ISO time of the state (default: now at each publication). */
  ts?: string;
}

export interface FakeHeaterOptions {
  url: string;
  base: string;
  node: string;
  state?: FakeHeaterState;
  /** Join `$share/<group>/<base>/jobs/<model>/submit` (default false). */
  fleet?: boolean;
  shareGroup?: string;
  /** Subscribe to the direct job topic (default true). */
  direct?: boolean;
  /** `online` (default), `offline`, or null for none. */
  status?: string | null;
  behavior?: FakeBehavior;
  protocolVersion?: 4 | 5;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FakeHeater {
  readonly jobs: FakeJob[] = [];
  readonly cancels: string[] = [];
  private client: MqttClient | null = null;
  private stateDoc: FakeHeaterState;
  behavior: FakeBehavior;

  constructor(readonly opts: FakeHeaterOptions) {
    this.stateDoc = { ...opts.state };
    this.behavior = opts.behavior ?? FakeHeater.serve();
  }

  get node(): string {
    return this.opts.node;
  }

  get model(): string {
    return this.stateDoc.model ?? 'tiny';
  }

  async start(): Promise<void> {
    const { base, node } = this.opts;
    const client = mqtt.connect(this.opts.url, {
      protocolVersion: this.opts.protocolVersion ?? 5,
      clientId: `fake-${node}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 200,
      manualConnect: true,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      const props = (packet.properties ?? {}) as { responseTopic?: string; correlationData?: Buffer; messageExpiryInterval?: number };
      if (topic === `${base}/${node}/jobs/cancel`) {
        const id = (JSON.parse(payload.toString()) as { job_id?: string }).job_id;
        if (typeof id === 'string') this.cancels.push(id);
        return;
      }
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      const job: FakeJob = {
        topic,
        via: topic === `${base}/${node}/jobs/submit` ? 'direct' : 'fleet',
        body,
        jobId: String(body.job_id),
        replyTo: props.responseTopic ?? String(body.reply_to),
        correlationData: props.correlationData ?? null,
        messageExpiryInterval: props.messageExpiryInterval ?? null,
        responseTopic: props.responseTopic ?? null,
        receivedAt: Date.now(),
      };
      this.jobs.push(job);
      void Promise.resolve(this.behavior(job, this)).catch(() => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.connect();
    });
    const filters = [`${base}/${node}/jobs/cancel`];
    if (this.opts.direct ?? true) filters.push(`${base}/${node}/jobs/submit`);
    if (this.opts.fleet) filters.push(`$share/${this.opts.shareGroup ?? 'anchiale'}/${base}/jobs/${this.model}/submit`);
    await client.subscribeAsync(filters, { qos: 1 });
    await this.publishPresence();
  }

  /** Republishes the retained status and state (after setState or a new `ts`). */
  async publishPresence(): Promise<void> {
    const c = this.client!;
    const { base, node } = this.opts;
    const status = this.opts.status === undefined ? 'online' : this.opts.status;
    if (status !== null) await c.publishAsync(`${base}/${node}/status`, status, { qos: 1, retain: true });
    await c.publishAsync(`${base}/${node}/state`, JSON.stringify(this.stateJson()), { qos: 1, retain: true });
  }

  async setState(patch: FakeHeaterState): Promise<void> {
    this.stateDoc = { ...this.stateDoc, ...patch };
    await this.publishPresence();
  }

  stateJson(): Record<string, unknown> {
    const s = this.stateDoc;
    const demand = s.demand === undefined ? 0.5 : s.demand;
    const accepting = s.accepting ?? (demand ?? 0) > 0;
    return {
      ts: s.ts ?? new Date().toISOString(),
      mode: 'auto',
      preset: 'comfort',
      phase: s.phase ?? (accepting ? 'heating' : 'idle'),
      action: accepting ? 'heating' : 'idle',
      room_temp_c: 20,
      setpoint_c: 21,
      setpoint_source: 'input',
      outdoor_temp_c: null,
      demand,
      power_limit_w: 200,
      gpu: { power_w: 150, temp_c: 60, util_pct: 50, mem_used_mib: 100, pstate: 'P2' },
      wall_power_w: null,
      heat_w: 150,
      energy_kwh: 1,
      llm: {
        model: this.model,
        loaded: true,
        accepting,
        slots: s.slots ?? 2,
        max_slots: s.maxSlots ?? 2,
        jobs_active: s.jobsActive ?? 0,
        jobs_done: 0,
        tokens_per_s: s.tokensPerS ?? null,
      },
      inputs_stale: [],
      reasons: s.reasons ?? (accepting ? ['below_setpoint'] : ['at_setpoint']),
      safe_mode: false,
    };
  }

  /** Publishes one reply for `job` ({job_id, node} added; correlation data echoed on MQTT 5). */
  async reply(job: FakeJob, body: Record<string, unknown>): Promise<void> {
    const opts: IClientPublishOptions = { qos: 1 };
    if (job.correlationData && (this.opts.protocolVersion ?? 5) === 5) opts.properties = { correlationData: job.correlationData };
    await this.client!.publishAsync(job.replyTo, JSON.stringify({ job_id: job.jobId, node: this.node, ...body }), opts);
  }

  /** Removes the retained documents and disconnects. */
  async stop(): Promise<void> {
    const c = this.client;
    if (!c) return;
    this.client = null;
    const { base, node } = this.opts;
    await c.publishAsync(`${base}/${node}/status`, '', { qos: 1, retain: true }).catch(() => undefined);
    await c.publishAsync(`${base}/${node}/state`, '', { qos: 1, retain: true }).catch(() => undefined);
    await c.endAsync(true);
  }

  /* ---------- behaviours ---------- */

  /** Accept at once, stream `text` in `chunks` pieces (if asked), answer done. */
  static serve(text = 'hello world', opts: { chunks?: number; delayMs?: number; queuePosition?: number } = {}): FakeBehavior {
    return async (job, h) => {
      await h.reply(job, { type: 'accepted', queue_position: opts.queuePosition ?? 0 });
      const pieces = splitText(text, opts.chunks ?? 2);
      if (job.body.stream === true) {
        for (let i = 0; i < pieces.length; i++) {
          if (opts.delayMs) await sleep(opts.delayMs);
          await h.reply(job, { type: 'chunk', seq: i, text: pieces[i] });
        }
      }
      await h.reply(job, FakeHeater.done(text));
    };
  }

  static reject(reason: string, message = ''): FakeBehavior {
    return async (job, h) => h.reply(job, { type: 'rejected', reason, message });
  }

  /** Says nothing (a heater that never answers). */
  static silent(): FakeBehavior {
    return () => undefined;
  }

  static done(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      type: 'done',
      text,
      finish_reason: 'stop',
      usage: { prompt_tokens: 3, completion_tokens: text.length },
      timing: { queue_ms: 1, ttft_ms: 5, total_ms: 20 },
      energy_j: 2.5,
      ...extra,
    };
  }
}

function splitText(text: string, n: number): string[] {
  const size = Math.ceil(text.length / Math.max(1, n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
