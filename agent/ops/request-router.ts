/**
 * Remote operations (spec/mqtt-api.md "Remote operations"): requests on
 * `<base>/<id>/request/<cmd>` and `<base>/all/request/<cmd>` → handler → the answer
 * `{transaction, status: ok|error, data|error, node}` on `<base>/<id>/response/<cmd>`, or on the
 * request's MQTT 5 response topic when it lies under jobs.reply_prefix (with its correlation
 * data, which also goes with an answer on the default topic). A rate limit per command (over it:
 * `busy`), a random delay for fleet-wide restart and reload_config, and an audit event per request:
 * `command {command, args, outcome: 'ok', source: 'request'}` or
 * `command_rejected {command, args, outcome: 'error', code, reason, source: 'request'}`.
 * Retained requests are ignored (a retained `restart` would restart the heater at every connect).
 * Adds `node` to the answer (contract extension): fleet-wide answers on one response topic stay
 * attributable.
 */
import type { BusMessage, MessageBus, Unsubscribe } from '../ports/bus.js';
import type { NodeTopics } from '../adapters/mqtt/topics.js';
import type { Logger } from '../log.js';
import type { Severity } from '../runtime/event-publisher.js';
import { errorMessage } from '../errors.js';
import type { CommandHandler } from './command-handler.js';
import { COMMAND_HANDLERS } from './command-handlers.js';
import { CommandRateLimiter, DEFAULT_COMMAND_RATE, DEFAULT_COMMAND_RATES, type CommandRate } from './command-rate-limiter.js';
import { fleetStaggerMs, FLEET_STAGGER_MAX_S } from './fleet-stagger.js';
import { OpsError, type OpsErrorCode } from './ops-error.js';
import type { OpsPort } from './ops-port.js';
import { isUsableResponseTopic, parseRequestTopic } from './request-topic.js';

/** Requests larger than this are answered invalid_request. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** How long a restart waits for its answer's PUBACK before it goes on anyway. */
const ANSWER_TIMEOUT_MS = 5000;
/** Arguments echoed in audit events are cut to this many characters of JSON. */
const MAX_AUDIT_ARGS_CHARS = 512;

export interface RequestRouterDeps {
  bus: MessageBus;
  topics: NodeTopics;
  port: OpsPort;
  log: Logger;
  emitEvent: (type: string, severity: Severity, fields: Record<string, unknown>) => void;
  /** Monotonic seconds (rate limits). */
  monoS: () => number;
  /** [0, 1): the fleet stagger (tests inject 0). */
  random: () => number;
  handlers?: readonly CommandHandler[];
  rates?: Readonly<Record<string, CommandRate>>;
  defaultRate?: CommandRate;
  staggerMaxS?: number;
}

export type Answer =
  | { transaction: unknown; status: 'ok'; node: string; data: Record<string, unknown> }
  | { transaction: unknown; status: 'error'; node: string; error: { code: OpsErrorCode; message: string; [k: string]: unknown } };

interface ReplyTarget {
  topic: string;
  correlationData?: Buffer;
}

export class RequestRouter {
  private readonly log: Logger;
  private readonly handlers: Map<string, CommandHandler>;
  private readonly limiter: CommandRateLimiter;
  /** Commands with a run in progress or a staggered action pending: a second one is `busy`. */
  private readonly inFlight = new Map<string, string>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: (ran: boolean) => void }>();
  private readonly unsubscribers: Unsubscribe[] = [];
  private stopped = false;

  constructor(private readonly deps: RequestRouterDeps) {
    this.log = deps.log.child({ component: 'ops' });
    this.handlers = new Map((deps.handlers ?? COMMAND_HANDLERS).map((h) => [h.command, h]));
    this.limiter = new CommandRateLimiter(deps.rates ?? DEFAULT_COMMAND_RATES, deps.defaultRate ?? DEFAULT_COMMAND_RATE);
  }

  /** Subscribes to the request topics (made again at every reconnect by the bus). */
  async start(): Promise<void> {
    const { bus, topics } = this.deps;
    this.stopped = false;
    this.unsubscribers.push(bus.onMessage((m) => this.onMessage(m)));
    for (const filter of [topics.requestFilter, topics.allRequestFilter]) {
      bus.subscribe(filter, 1).then(
        ({ granted }) => {
          if (!granted) this.log.error({ filter }, 'request subscription refused by the broker (ACL?)');
        },
        (err: unknown) => this.log.error({ filter, err: errorMessage(err) }, 'request subscribe failed'),
      );
    }
  }

  /** Drops pending staggered actions; answers in flight are not awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribers.splice(0)) u();
    for (const t of [...this.timers]) {
      clearTimeout(t.timer);
      t.resolve(false);
    }
    this.timers.clear();
  }

  /** Handles one bus message; ignores anything that is not a request to this node. */
  onMessage(m: BusMessage): void {
    const req = parseRequestTopic(m.topic, this.deps.topics);
    if (!req || this.stopped) return;
    if (m.retain) {
      this.log.warn({ topic: m.topic }, 'retained request ignored (requests must not be retained)');
      return;
    }
    void this.handle(req.command, req.fleet, m).catch((err: unknown) =>
      this.log.error({ command: req.command, err: errorMessage(err) }, 'request handling failed'),
    );
  }

  private async handle(command: string, fleet: boolean, m: BusMessage): Promise<void> {
    const reply = this.replyTarget(command, m);
    const source = { source: 'request', fleet };

    let body: unknown;
    if (m.payload.length > MAX_REQUEST_BYTES) {
      return this.reject(reply, command, null, {}, source, new OpsError('invalid_request', `request is larger than ${MAX_REQUEST_BYTES} bytes`));
    }
    try {
      body = JSON.parse(m.payload.toString('utf8'));
    } catch (err) {
      return this.reject(reply, command, null, {}, source, new OpsError('invalid_request', `request is not valid JSON: ${errorMessage(err)}`));
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return this.reject(reply, command, null, {}, source, new OpsError('invalid_request', 'request must be a JSON object {"transaction": …, …arguments}'));
    }
    const { transaction = null, ...args } = body as Record<string, unknown>;

    const handler = this.handlers.get(command);
    if (!handler) {
      const known = [...this.handlers.keys()].join(', ');
      return this.reject(reply, command, transaction, args, source, new OpsError('unknown_command', `unknown command "${command.slice(0, 64)}" (one of ${known})`));
    }
    const pending = handler.exclusive ? this.inFlight.get(command) : undefined;
    if (pending) return this.reject(reply, command, transaction, args, source, new OpsError('busy', pending));
    const slot = this.limiter.take(command, this.deps.monoS());
    if (!slot.ok) {
      const r = this.limiter.rate(command);
      return this.reject(
        reply,
        command,
        transaction,
        args,
        source,
        new OpsError('busy', `rate limit of ${command}: ${r.burst} at once, then one every ${r.refillS} s; retry in ${Math.ceil(slot.retryInS)} s`, {
          retry_in_s: Math.ceil(slot.retryInS),
        }),
      );
    }

    const delayMs = fleet && handler.stagger ? fleetStaggerMs(this.deps.random, this.deps.staggerMaxS ?? FLEET_STAGGER_MAX_S) : 0;
    try {
      if (handler.stagger === 'before_run' && delayMs > 0) {
        if (handler.exclusive) this.inFlight.set(command, `a fleet-wide ${command} is already scheduled`);
        this.log.info({ command, delay_s: delayMs / 1000 }, 'fleet-wide request staggered');
        if (!(await this.sleep(delayMs))) return;
      }
      if (handler.exclusive) this.inFlight.set(command, `${command} is already in progress`);
      const out = await handler.run(args, this.deps.port, { fleet, delayMs });
      await this.answer(reply, { transaction, status: 'ok', node: this.deps.topics.node, data: out.data });
      this.audit('command', 'info', { command, args: auditArgs(args), outcome: 'ok', ...source });
      if (out.afterAnswer) {
        const run = out.afterAnswer;
        if (handler.stagger === 'after_answer' && delayMs > 0) {
          if (handler.exclusive) this.inFlight.set(command, `a fleet-wide ${command} is already scheduled`);
          this.log.info({ command, delay_s: delayMs / 1000 }, 'fleet-wide request staggered');
          if (await this.sleep(delayMs)) run();
        } else {
          run();
        }
      }
    } catch (err) {
      const e = err instanceof OpsError ? err : new OpsError('internal', errorMessage(err));
      if (!(err instanceof OpsError)) this.log.error({ command, err: errorMessage(err) }, 'command failed');
      await this.reject(reply, command, transaction, args, source, e);
    } finally {
      if (handler.exclusive) this.inFlight.delete(command);
    }
  }

  /** The request's MQTT 5 response topic when usable, else the default; correlation data kept. */
  private replyTarget(command: string, m: BusMessage): ReplyTarget {
    const p = m.properties;
    const correlationData = p?.correlationData;
    let topic = this.deps.topics.response(command);
    if (p?.responseTopic !== undefined) {
      if (isUsableResponseTopic(p.responseTopic, this.deps.topics.replyPrefix)) topic = p.responseTopic;
      else this.log.warn({ response_topic: p.responseTopic, reply_prefix: this.deps.topics.replyPrefix }, 'response topic outside the reply prefix: answering on the default topic');
    }
    return correlationData ? { topic, correlationData } : { topic };
  }

  private async reject(
    reply: ReplyTarget,
    command: string,
    transaction: unknown,
    args: Record<string, unknown>,
    source: Record<string, unknown>,
    e: OpsError,
  ): Promise<void> {
    const { field: _f, ...extra } = e.details ?? {};
    await this.answer(reply, { transaction, status: 'error', node: this.deps.topics.node, error: { code: e.code, message: e.message, ...extra } });
    this.log.warn({ command, code: e.code, reason: e.message }, 'request rejected');
    this.audit('command_rejected', 'warning', { command, args: auditArgs(args), outcome: 'error', code: e.code, reason: e.message, ...source });
  }

  private async answer(reply: ReplyTarget, a: Answer): Promise<void> {
    const properties = reply.correlationData ? { correlationData: reply.correlationData } : undefined;
    const sent = this.deps.bus.publish(reply.topic, JSON.stringify(a), { qos: 1, retain: false, ...(properties ? { properties } : {}) });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn({ topic: reply.topic }, 'answer not acknowledged in time');
        resolve();
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
    });
    try {
      await Promise.race([sent, timeout]);
    } catch (err) {
      this.log.warn({ topic: reply.topic, err: errorMessage(err) }, 'answer not sent');
    } finally {
      clearTimeout(timer);
    }
  }

  private audit(type: string, severity: Severity, fields: Record<string, unknown>): void {
    try {
      this.deps.emitEvent(type, severity, fields);
    } catch (err) {
      this.log.warn({ type, err: errorMessage(err) }, 'audit event failed');
    }
  }

  /** Resolves true after `ms`, false when the router stops first. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve(!this.stopped);
        }, ms),
        resolve,
      };
      entry.timer.unref();
      this.timers.add(entry);
    });
  }
}

/** The request's arguments for the audit: short, or cut. */
function auditArgs(args: Record<string, unknown>): Record<string, unknown> | string {
  let text: string;
  try {
    text = JSON.stringify(args);
  } catch {
    return '[unserialisable]';
  }
  return text.length <= MAX_AUDIT_ARGS_CHARS ? args : `${text.slice(0, MAX_AUDIT_ARGS_CHARS)}…`;
}
