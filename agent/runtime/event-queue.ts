/**
 * Events while the broker is away: held in memory (bounded), published in order after the next
 * connect. While connected (and nothing is waiting) an event goes straight out.
 *
 * Bounded to `maxQueued` (default 200): when full, the oldest event that is not critical
 * (severity `error`) is dropped, or the oldest of all when every one is critical. What was dropped
 * is counted and reported first thing after the reconnect: an event
 * `events_dropped {count, first_dropped_ts, last_dropped_ts}`. Queued events keep their own `ts`.
 *
 * Not the durable outbox (agent/adapters/system/outbox.ts): events must get out even when the
 * state directory is what fails (disk full, read-only), so this queue never touches the disk, and
 * it is bounded hard (the outbox keeps terminal answers past its bounds). An agent that dies
 * during an outage loses what was queued; its counters and operator state are on disk.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export const EVENT_QUEUE_MAX = 200;

export interface EventQueueDeps {
  /** Publishes one event document (QoS 1, not retained). */
  publish: (payload: Record<string, unknown>) => Promise<void>;
  connected: () => boolean;
  /** Wall clock (ms). */
  now: () => number;
  log: Logger;
  maxQueued?: number;
}

export interface EventQueueStats {
  /** Waiting for the broker now. */
  queued: number;
  /** Dropped because the queue was full, since start. */
  dropped: number;
  /** Published after waiting, since start. */
  flushed: number;
}

interface Queued {
  payload: Record<string, unknown>;
  critical: boolean;
}

export class EventQueue {
  private readonly queue: Queued[] = [];
  private readonly max: number;
  private dropped = 0;
  private droppedPending = 0;
  private firstDroppedTs: unknown = null;
  private lastDroppedTs: unknown = null;
  private flushed = 0;

  constructor(private readonly deps: EventQueueDeps) {
    this.max = Math.max(1, deps.maxQueued ?? EVENT_QUEUE_MAX);
  }

  stats(): EventQueueStats {
    return { queued: this.queue.length, dropped: this.dropped, flushed: this.flushed };
  }

  /** Publishes the event now, or queues it while offline (or while older ones still wait). */
  send(payload: Record<string, unknown>): void {
    if (this.deps.connected() && this.queue.length === 0 && this.droppedPending === 0) {
      this.publish(payload);
      return;
    }
    this.enqueue(payload);
    if (this.deps.connected()) this.flush();
  }

  /** After a (re)connect: what was dropped is reported, then the queued events go out in order. */
  flush(): void {
    if (!this.deps.connected()) return;
    if (this.droppedPending > 0) {
      const report = {
        ts: new Date(this.deps.now()).toISOString(),
        type: 'events_dropped',
        severity: 'warning',
        count: this.droppedPending,
        first_dropped_ts: this.firstDroppedTs,
        last_dropped_ts: this.lastDroppedTs,
        max_queued: this.max,
      };
      this.deps.log.warn({ count: this.droppedPending, max: this.max }, 'events dropped while the broker was away (queue full)');
      this.droppedPending = 0;
      this.firstDroppedTs = null;
      this.lastDroppedTs = null;
      this.publish(report);
    }
    const batch = this.queue.splice(0);
    if (batch.length > 0) this.deps.log.info({ events: batch.length }, 'publishing the events queued while the broker was away');
    for (const q of batch) {
      this.flushed++;
      this.publish(q.payload);
    }
  }

  private enqueue(payload: Record<string, unknown>): void {
    if (this.queue.length === 0 && !this.deps.connected()) this.deps.log.info('broker away: events are queued until it is back');
    while (this.queue.length >= this.max) {
      let i = this.queue.findIndex((q) => !q.critical);
      if (i < 0) i = 0;
      const [gone] = this.queue.splice(i, 1);
      this.dropped++;
      this.droppedPending++;
      const ts = gone?.payload.ts ?? null;
      if (this.firstDroppedTs === null) this.firstDroppedTs = ts;
      this.lastDroppedTs = ts;
    }
    this.queue.push({ payload, critical: payload.severity === 'error' });
  }

  private publish(payload: Record<string, unknown>): void {
    this.deps.publish(payload).catch((err: unknown) => {
      const code = (err as { code?: string }).code;
      if (code === 'mqtt_publish_refused' || code === 'mqtt_stopped' || this.deps.connected()) {
        this.deps.log.warn({ type: payload.type, code, err: errorMessage(err) }, 'event not published');
        return;
      }
      // Lost with the connection: it waits for the next one (flushed at the next connect).
      this.deps.log.debug({ type: payload.type, err: errorMessage(err) }, 'event publish failed: queued again');
      this.enqueue(payload);
    });
  }
}
