/**
 * The daemon's runtime: reads the building over the bus, decides every tick (and at once when an
 * input changes), steers the heater and the work, publishes state and events, persists operator
 * intent and counters. Constructors only assign; start() and stop() own the I/O.
 */
import { randomUUID } from 'node:crypto';
import { hostname, cpus, totalmem, type as osType, release } from 'node:os';
import { decide, initialCoreState, type CoreState } from '../core/heat-decision.js';
import { accumulate, heatEstimateW, mergeCounters, zeroCounters, type EnergyCounters } from '../core/energy.js';
import { applyOperatorCommand, initialOperatorState, sanitizeOperatorState, type OperatorCommand } from '../core/operator.js';
import { createScheduleCursor, type ScheduleCursor } from '../core/schedule.js';
import { freshValue } from '../core/safety.js';
import { restoreOptimalStart, serializeOptimalStart } from '../core/optimal-start.js';
import type { ControlConfig, HeatDecision, OperatorState, TickInput } from '../core/types.js';
import type { AgentConfig } from '../config/schema.js';
import { controlConfigFrom } from '../config/control-config.js';
import { configHash } from '../config/config-hash.js';
import { mapInput } from '../adapters/mqtt/input-mapping.js';
import { resolveInputSpecs } from '../adapters/mqtt/input-presets.js';
import { InputRouter } from '../adapters/mqtt/topic-match.js';
import { parseSetTopic } from '../adapters/mqtt/set-topics.js';
import { nodeTopics, type NodeTopics } from '../adapters/mqtt/topics.js';
import type { JsonFileStore } from '../adapters/system/json-file-store.js';
import type { BusMessage, MessageBus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { HeaterPort } from '../ports/heater.js';
import type { HostInfoPort } from '../ports/host-info.js';
import type { InferencePort } from '../ports/inference.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { EventPublisher, type Severity } from './event-publisher.js';
import { InputStore } from './input-store.js';
import { buildStateSnapshot, type StateSnapshot } from './state-snapshot.js';
import { StatePublisher } from './state-publisher.js';
import { EventQueue, type EventQueueStats } from './event-queue.js';
import { StorageHealth, type StorageStatus } from './storage-health.js';

export const AGENT_VERSION = '0.1.0';
/** Fixed control period; inputs also trigger a decision at once. */
export const TICK_S = 5;
/** Counters are persisted this often (and on stop). */
const PERSIST_COUNTERS_S = 10;
/** While the state dir fails, counters are tried again this often. */
const PERSIST_RETRY_S = 10;

export interface StartableBus extends MessageBus {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RuntimeExtension {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AgentRuntimeDeps {
  config: AgentConfig;
  log: Logger;
  clock: Clock;
  bus: StartableBus;
  heater: HeaterPort;
  inference: InferencePort;
  store: JsonFileStore;
  /** Tick period override (tests). */
  tickS?: number;
  /** Host inventory for `info` (gathered at start and on request, never in the loop). */
  hostInfo?: HostInfoPort;
}

interface PersistedOperator extends OperatorState {
  /** Retained set/* payloads already applied: a retained message seen again at reconnect is not re-applied. */
  appliedRetained?: Record<string, string>;
}

export class AgentRuntime {
  private readonly log: Logger;
  private control: ControlConfig;
  private readonly topics: NodeTopics;
  private readonly inputs: InputStore;
  private readonly router: InputRouter;
  private readonly events: EventPublisher;
  private readonly statePub: StatePublisher;
  private readonly eventQueue: EventQueue;
  private readonly storage: StorageHealth;
  private readonly instanceId = randomUUID();
  private schedule: ScheduleCursor | null;
  private core: CoreState = initialCoreState();
  private operator: OperatorState;
  private appliedRetained: Record<string, string> = {};
  private counters: EnergyCounters = zeroCounters;
  private lastDecision: HeatDecision | null = null;
  private lastSnapshot: StateSnapshot | null = null;
  private lastTickS: number | null = null;
  private lastPersistS = 0;
  /** energy_kwh as last written to disk: what `state` shows, so it never goes back after a crash. */
  private persistedEnergyKwh = 0;
  /** Learning samples already in learning.json (written only when it learned more). */
  private persistedSamples = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickQueued = false;
  private running = false;
  private stopping: Promise<void> | null = null;
  private readonly unsubscribers: Array<() => void> = [];
  private connectedOnce = false;
  private readonly connectWaiters: Array<() => void> = [];
  /** Called after every decision (the demo's view, tests). */
  onDecision: ((d: HeatDecision, s: StateSnapshot) => void) | null = null;
  private readonly eventListeners: Array<(type: string, severity: Severity) => void> = [];
  /** Reads the config file again and applies it (SIGHUP); set by the composition root when there is a file. */
  reloadConfig: (() => Promise<unknown>) | null = null;
  private readonly extensions: RuntimeExtension[] = [];

  constructor(private readonly deps: AgentRuntimeDeps) {
    const cfg = deps.config;
    this.log = deps.log.child({ component: 'runtime' });
    this.control = controlConfigFrom(cfg);
    this.topics = nodeTopics(cfg.mqtt.base_topic, cfg.node.id, cfg.jobs.reply_prefix);
    this.inputs = new InputStore(deps.clock);
    this.router = new InputRouter(resolveInputSpecs(cfg.inputs));
    this.eventQueue = new EventQueue({
      publish: (p) => this.deps.bus.publish(this.topics.event, JSON.stringify(p), { qos: 1, retain: false }),
      connected: () => this.deps.bus.connected,
      now: () => this.deps.clock.wallMs(),
      log: deps.log.child({ component: 'events' }),
    });
    this.storage = new StorageHealth({ log: deps.log, now: () => this.deps.clock.wallMs(), emit: (type, severity, fields) => this.emitEvent(type, severity, fields) });
    this.events = new EventPublisher((p) => this.eventQueue.send(p), deps.log.child({ component: 'events' }), () => this.now());
    this.statePub = new StatePublisher((s) => this.publishJson(this.topics.state, s, true), cfg.state.interval_s);
    this.schedule = cfg.thermostat.schedule.entries.length > 0 ? createScheduleCursor(cfg.thermostat.schedule) : null;
    this.operator = initialOperatorState(cfg.thermostat.mode);
  }

  get nodeTopics(): NodeTopics {
    return this.topics;
  }

  get decision(): HeatDecision | null {
    return this.lastDecision;
  }

  get snapshot(): StateSnapshot | null {
    return this.lastSnapshot;
  }

  /** Monotonic time of the last control tick that ran to its end (the watchdog's health check). */
  get lastTickMonoS(): number | null {
    return this.lastTickS;
  }

  /** Gathers the host inventory again and republishes `info` (on request). */
  async refreshHostInfo(): Promise<void> {
    await this.deps.hostInfo?.refresh();
    if (this.deps.bus.connected) this.publishJson(this.topics.info, this.info(), true);
  }

  get operatorState(): OperatorState {
    return this.operator;
  }

  /** The card's enforced limit as last read (tests, the demo). */
  heaterLimitW(): number | null {
    return this.deps.heater.telemetry()?.limitW ?? null;
  }

  /** Connection statistics of the bus, when it keeps them. */
  busStats(): { attempts: number; connects: number } | null {
    const b = this.deps.bus as Partial<{ stats(): { attempts: number; connects: number } }>;
    return typeof b.stats === 'function' ? b.stats() : null;
  }

  /** The state directory's health: writable, or failing since when and why (doctor, metrics, tests). */
  get storageStatus(): StorageStatus {
    return this.storage.status();
  }

  /** Events waiting for the broker, and dropped while it was away. */
  eventQueueStats(): EventQueueStats {
    return this.eventQueue.stats();
  }

  get energy(): EnergyCounters {
    return this.counters;
  }

  async start(): Promise<void> {
    const { bus, heater, inference, store } = this.deps;
    // An unwritable state dir is reported (state, event), never fatal: control runs without it.
    await store.ensureDir().catch((err: unknown) => this.storage.failed('state dir', err));
    await this.restore();
    // Once here, before the loop: gathering it can block the event loop for a moment.
    await this.deps.hostInfo?.refresh().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'host inventory failed'));
    await heater.start();
    await inference.start();

    this.unsubscribers.push(
      bus.onMessage((m) => this.onMessage(m)),
      bus.onConnect(() => this.onConnect()),
      bus.onDisconnect((info) => this.log.warn({ reason: info.reason, refused: info.refused }, 'broker connection lost')),
    );
    for (const filter of this.router.subscriptions()) void this.subscribe(filter);
    void this.subscribe(this.topics.setFilter, { retainAsPublished: true });
    void this.subscribe(this.topics.info);
    void this.subscribe(this.topics.status);
    for (const e of this.extensions) await e.start();
    await bus.start();

    this.running = true;
    this.tick();
    this.timer = setInterval(() => this.tick(), (this.deps.tickS ?? TICK_S) * 1000);
    this.log.info({ node: this.deps.config.node.id, mode: this.operator.mode, instance: this.instanceId }, 'agent started');
  }

  /** Ordered stop: no more ticks, work stopped, safe power limit, counters saved, `offline`. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const { bus, heater, inference } = this.deps;
    await inference.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'inference stop failed'));
    await heater.stop().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'could not restore the safe power limit'));
    await this.persistCounters();
    await this.persistLearning();
    for (const e of this.extensions) await e.stop().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'extension stop failed'));
    for (const u of this.unsubscribers.splice(0)) u();
    await bus.stop().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'broker disconnect failed'));
    this.log.info({ energy_kwh: this.counters.energyKwh }, 'agent stopped');
  }

  /** Emits an event (rate-limited per type) — also used by ops and the job runtime. */
  emitEvent(type: string, severity: Severity, fields: Record<string, unknown> = {}): void {
    this.events.emit(type, severity, fields);
    for (const l of this.eventListeners) l(type, severity);
  }

  /** Called for every event emitted (metrics); returns the unsubscribe function. */
  onEvent(listener: (type: string, severity: Severity) => void): () => void {
    this.eventListeners.push(listener);
    return () => {
      const i = this.eventListeners.indexOf(listener);
      if (i >= 0) this.eventListeners.splice(i, 1);
    };
  }

  /** Applies an operator command (set topics, requests) and persists it. */
  async command(cmd: OperatorCommand, source: string, opts: { audit?: boolean } = {}): Promise<void> {
    const now = this.now();
    const setpointInputC = this.control.inputs.setpoint.configured
      ? freshValue(this.inputs.snapshot().setpoint, this.control.inputs.setpoint.maxAgeS, now.monoS)
      : null;
    this.operator = applyOperatorCommand(this.operator, cmd, { wallMs: now.wallMs, setpointInputC });
    if (opts.audit !== false) this.emitEvent('command', 'info', { command: cmd.kind, args: commandArgs(cmd), source, outcome: 'ok' });
    await this.persistOperator();
    this.requestTick();
  }

  /** A component started with the runtime (before the bus connects) and stopped before it disconnects (ops). */
  use(extension: RuntimeExtension): void {
    this.extensions.push(extension);
  }

  /** Swaps the configuration that can change live (config reload): control settings, schedule, info. */
  applyConfig(config: AgentConfig): void {
    const control = controlConfigFrom(config);
    const schedule = config.thermostat.schedule.entries.length > 0 ? createScheduleCursor(config.thermostat.schedule) : null;
    this.deps.config = config;
    this.control = control;
    this.schedule = schedule;
    this.deps.inference.applyConfig?.(config);
    if (this.deps.bus.connected) this.publishJson(this.topics.info, this.info(), true);
    this.requestTick();
  }

  /** Decide now (coalesced): reacting at once to input changes and commands. */
  requestTick(): void {
    if (this.tickQueued || !this.running) return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      if (this.running) this.tick();
    });
  }

  /* ---------------- the control loop ---------------- */

  private now(): { monoS: number; wallMs: number } {
    return { monoS: this.deps.clock.monoS(), wallMs: this.deps.clock.wallMs() };
  }

  private tick(): void {
    try {
      this.tickUnsafe();
    } catch (err) {
      // The loop must survive anything: log, report, and try again next tick.
      this.log.error({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'control tick failed');
    }
  }

  private tickUnsafe(): void {
    const { heater, inference } = this.deps;
    const now = this.now();
    const inf = inference.status();
    const gpu = heater.telemetry();
    const input: TickInput = {
      now,
      inputs: this.inputs.snapshot(),
      operator: this.operator,
      schedule: this.schedule ? this.schedule.at(now.wallMs) : null,
      card: heater.limits(),
      gpu,
      work: {
        busy: inf.busy,
        queued: inf.queued,
        oldestWaitS: inf.oldestWaitS,
        modelLoaded: inf.modelLoaded,
        modelLoading: inf.modelLoading,
        assumeWork: inf.assumeWork,
        fault: inf.fault,
      },
    };
    const { state, decision } = decide(this.core, input, this.control);
    this.core = state;
    this.lastDecision = decision;

    if (decision.overrideEnded && this.operator.override) {
      this.log.info({ setpoint_c: this.operator.override.setpointC }, 'override ended');
      this.operator = { ...this.operator, override: null };
      void this.persistOperator();
    }
    if (decision.writeLimit) this.writeLimit(decision.targetLimitW);
    inference.apply({ sequences: decision.sequences, accepting: decision.accepting, modelWanted: decision.modelWanted, draining: this.operator.drain }, now.monoS);
    const after = inference.status();
    heater.observeWork?.({ busy: after.busy, modelLoaded: after.modelLoaded, modelLoading: after.modelLoading });
    for (const e of decision.events) {
      const { type, severity, ...fields } = e;
      this.emitEvent(type, severity, fields);
    }

    // Energy: the best heat estimate since the last tick.
    const wallPowerW = this.control.inputs.wall_power.configured
      ? freshValue(input.inputs.wall_power, this.control.inputs.wall_power.maxAgeS, now.monoS)
      : null;
    const heatW = heatEstimateW(wallPowerW, gpu?.powerW ?? null, this.control.heater.hostW);
    const dtS = this.lastTickS === null ? 0 : now.monoS - this.lastTickS;
    this.lastTickS = now.monoS;
    this.counters = accumulate(this.counters, {
      powerW: heatW,
      dtS,
      busy: after.busy > 0,
      tokens: inference.takeTokens(),
    });
    this.counters = { ...this.counters, jobsDone: Math.max(this.counters.jobsDone, after.jobsDone) };
    if (now.monoS - this.lastPersistS >= (this.storage.failing ? PERSIST_RETRY_S : PERSIST_COUNTERS_S)) {
      this.lastPersistS = now.monoS;
      void this.persistCounters();
      void this.persistLearning();
    }

    const snapshot = this.storage.annotate(buildStateSnapshot({
      wallMs: now.wallMs,
      decision,
      gpu: heater.telemetry(),
      wallPowerW,
      heatW,
      // The persisted total: a restart after a crash then never shows a smaller figure.
      energyKwh: this.persistedEnergyKwh,
      powerCapW: this.operator.powerCapW,
      llm: {
        model: after.model,
        loaded: after.modelLoaded,
        accepting: after.accepting,
        slots: after.slots,
        maxSlots: after.maxSlots,
        jobsActive: after.busy + after.queued,
        queued: after.queued,
        jobsDone: after.jobsDone,
        tokensPerS: after.tokensPerS,
      },
    }));
    this.lastSnapshot = snapshot;
    if (this.deps.bus.connected) this.statePub.offer(snapshot, now.monoS);
    this.onDecision?.(decision, snapshot);
  }

  private writeLimit(watts: number): void {
    this.deps.heater.setPowerLimit(watts).then(
      () => this.log.debug({ watts }, 'power limit written'),
      (err: unknown) => {
        const code = (err as { code?: string }).code ?? 'power_limit_failed';
        this.log.error({ watts, code, err: errorMessage(err) }, 'power limit write failed');
        this.emitEvent('power_limit_failed', 'error', { watts, code, message: errorMessage(err) });
      },
    );
  }

  /* ---------------- MQTT ---------------- */

  private async subscribe(filter: string, opts: { retainAsPublished?: boolean } = {}): Promise<void> {
    try {
      const { granted } = await this.deps.bus.subscribe(filter, 1, opts);
      if (!granted) this.log.error({ filter }, 'subscription refused by the broker (ACL?)');
    } catch (err) {
      this.log.error({ filter, err: errorMessage(err) }, 'subscribe failed');
    }
  }

  /** Resolves once connected with every subscription in place (at once if already so). */
  whenConnected(): Promise<void> {
    if (this.connectedOnce) return Promise.resolve();
    return new Promise((resolve) => this.connectWaiters.push(resolve));
  }

  private onConnect(): void {
    this.connectedOnce = true;
    for (const w of this.connectWaiters.splice(0)) w();
    this.publishJson(this.topics.info, this.info(), true);
    if (this.lastSnapshot) this.statePub.offer({ ...this.lastSnapshot, ts: new Date(this.deps.clock.wallMs()).toISOString() }, this.deps.clock.monoS(), true);
    this.eventQueue.flush();
    this.requestTick();
  }

  private onMessage(m: BusMessage): void {
    if (m.topic.startsWith(this.topics.setPrefix)) return void this.onSet(m);
    if (m.topic === this.topics.info) return this.onOwnInfo(m);
    if (m.topic === this.topics.status) return this.onOwnStatus(m);
    const specs = this.router.route(m.topic);
    for (const spec of specs) {
      const r = mapInput(spec, m.payload);
      if (r.ok) {
        this.inputs.set(spec.name, r.value, r.sourceTimeMs);
        this.requestTick();
      } else if (r.code === 'empty') {
        this.log.debug({ input: spec.name, topic: m.topic }, 'empty payload ignored (retained message cleared)');
      } else {
        this.log.warn({ input: spec.name, topic: m.topic, code: r.code, reason: r.reason }, 'input rejected');
        this.emitEvent(r.code === 'implausible' ? 'input_implausible' : 'input_rejected', 'warning', {
          input: spec.name,
          topic: m.topic,
          code: r.code,
          reason: r.reason,
        });
      }
    }
  }

  private async onSet(m: BusMessage): Promise<void> {
    const what = m.topic.slice(this.topics.setPrefix.length);
    const payloadText = m.payload.subarray(0, 64).toString('utf8');
    if (m.retain && this.appliedRetained[what] === payloadText) {
      this.log.debug({ what }, 'retained set message already applied');
      return;
    }
    const card = this.deps.heater.limits();
    const parsed = parseSetTopic(what, m.payload, {
      minSetpointC: this.control.thermostat.minSetpointC,
      maxSetpointC: this.control.thermostat.maxSetpointC,
      minPowerW: card.minLimitW,
      maxPowerW: Math.min(card.maxLimitW, this.control.heater.maxPowerW),
    });
    if (!parsed.ok) {
      this.log.warn({ topic: m.topic, reason: parsed.reason }, 'set command rejected');
      this.emitEvent('command_rejected', 'warning', { command: `set/${what}`, reason: parsed.reason, payload: payloadText });
      return;
    }
    // With MQTT 5 retain-as-published, a live retained command is flagged too: remember it, so its
    // re-delivery at the next (re)connect is not mistaken for a new command.
    if (m.retain) this.appliedRetained[what] = payloadText;
    try {
      await this.command(parsed.command, m.retain ? 'set_retained' : 'set');
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'set command failed');
    }
  }

  /** Another live process publishing this node's info is a twin with the same node id. */
  private onOwnInfo(m: BusMessage): void {
    if (m.retain) return; // our own previous run's retained info, or our echo at subscribe time
    let other: { instance_id?: unknown; hostname?: unknown } = {};
    try {
      const parsed: unknown = JSON.parse(m.payload.toString('utf8'));
      if (parsed !== null && typeof parsed === 'object') other = parsed as typeof other;
    } catch {
      /* not ours */
    }
    if (other.instance_id === this.instanceId) return;
    this.log.error({ node: this.deps.config.node.id, other_host: other.hostname, other_instance: other.instance_id }, 'another heater uses this node id');
    this.emitEvent('duplicate_node_id', 'error', { node: this.deps.config.node.id, other_hostname: other.hostname ?? null, other_instance: other.instance_id ?? null });
  }

  /** A twin's last will (or a stray message) must not leave us shown offline while we run. */
  private onOwnStatus(m: BusMessage): void {
    if (!this.running || !this.deps.bus.connected) return;
    if (m.payload.toString('utf8') === 'offline') {
      this.log.warn('own status shows offline while running: re-asserting online');
      void this.deps.bus.publish(this.topics.status, 'online', { qos: 1, retain: true }).catch(() => undefined);
    }
  }

  private publishJson(topic: string, payload: unknown, retain: boolean): void {
    this.deps.bus.publish(topic, JSON.stringify(payload), { qos: 1, retain }).catch((err: unknown) => {
      this.log.warn({ topic, err: errorMessage(err) }, 'publish failed');
    });
  }

  info(): Record<string, unknown> {
    const cfg = this.deps.config;
    const inv = this.deps.heater.inventory();
    const inf = this.deps.inference.status();
    return {
      agent_version: AGENT_VERSION,
      node_id: cfg.node.id,
      name: cfg.node.name,
      location: cfg.node.location,
      hostname: hostname(),
      instance_id: this.instanceId,
      started_at: new Date(this.deps.clock.wallMs()).toISOString(),
      gpu: {
        name: inv.name,
        uuid: inv.uuid,
        driver: inv.driver,
        vram_mib: inv.vramMib,
        min_limit_w: inv.minLimitW,
        max_limit_w: inv.maxLimitW,
        default_limit_w: inv.defaultLimitW,
      },
      host: this.deps.hostInfo?.current() ?? { cpu: cpus()[0]?.model ?? null, mem_mib: Math.round(totalmem() / 1048576), os: `${osType()} ${release()}` },
      models: this.deps.inference.models?.() ?? (inf.model ? [{ name: inf.model, size_bytes: null }] : []),
      capabilities: { fleet_jobs: cfg.jobs.enabled && cfg.jobs.fleet, mqtt_version: cfg.mqtt.protocol_version },
      config_hash: configHash(cfg),
    };
  }

  /* ---------------- persistence ---------------- */

  private async restore(): Promise<void> {
    const { store } = this.deps;
    try {
      const op = await store.read<PersistedOperator>('operator.json');
      if (op) {
        this.operator = sanitizeOperatorState(op, this.operator);
        this.appliedRetained = op.appliedRetained && typeof op.appliedRetained === 'object' ? { ...op.appliedRetained } : {};
        this.log.info({ operator: this.operator }, 'operator state restored');
      }
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'operator state unreadable: starting from the configured mode');
    }
    try {
      const c = await store.read<EnergyCounters>('counters.json');
      if (c) this.counters = mergeCounters(this.counters, sanitizeCounters(c));
      this.persistedEnergyKwh = this.counters.energyKwh;
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'counters unreadable: they restart from zero in memory, the file is kept');
    }
    try {
      const l = await store.read<{ optimalStart?: unknown }>('learning.json');
      if (l) {
        this.core = { ...this.core, optimalStart: restoreOptimalStart(l.optimalStart) };
        this.persistedSamples = this.core.optimalStart.samples;
      }
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'learning.json unreadable: optimal start learns again from its prior');
    }
  }

  /** What the core learned (optimal start's warm-up rate), when it learned more since the last write. */
  private async persistLearning(): Promise<void> {
    const learned = this.core.optimalStart;
    if (learned.samples === this.persistedSamples) return;
    try {
      await this.deps.store.write('learning.json', { optimalStart: serializeOptimalStart(learned) });
      this.persistedSamples = learned.samples;
      this.storage.succeeded('learning.json');
    } catch (err) {
      this.storage.failed('learning.json', err);
    }
  }

  private async persistOperator(): Promise<void> {
    try {
      await this.deps.store.write('operator.json', { ...this.operator, appliedRetained: this.appliedRetained });
      this.storage.succeeded('operator.json');
    } catch (err) {
      this.storage.failed('operator.json', err);
    }
  }

  private async persistCounters(): Promise<void> {
    try {
      const saved = this.counters;
      await this.deps.store.write('counters.json', saved);
      this.persistedEnergyKwh = Math.max(this.persistedEnergyKwh, saved.energyKwh);
      this.storage.succeeded('counters.json');
    } catch (err) {
      this.storage.failed('counters.json', err);
    }
  }
}

function sanitizeCounters(c: Partial<EnergyCounters>): EnergyCounters {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  return { energyKwh: n(c.energyKwh), usefulKwh: n(c.usefulKwh), tokens: n(c.tokens), jobsDone: n(c.jobsDone) };
}

function commandArgs(cmd: OperatorCommand): Record<string, unknown> {
  const { kind: _k, ...args } = cmd;
  return args;
}
