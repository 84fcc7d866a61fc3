import type { BusDisconnectInfo, BusMessage, BusPublishOptions, MessageBus, Unsubscribe } from '../../agent/ports/bus.js';

export interface FakePublish {
  topic: string;
  payload: string;
  opts: BusPublishOptions;
  /** Settle this publish (PUBACK, or a failure). */
  ack(): void;
  fail(code: string): void;
}

/**
 * A hand-driven MessageBus: `connected` is set by the test, publishes wait until the test acks them
 * (or auto-ack with `autoAck`), connect/disconnect handlers run when the test says so.
 */
export class FakeBus implements MessageBus {
  connected = false;
  autoAck = false;
  readonly published: FakePublish[] = [];
  readonly subscriptions = new Map<string, number>();
  private readonly msgHandlers: Array<(m: BusMessage) => void> = [];
  private readonly connectHandlers: Array<() => void> = [];
  private readonly disconnectHandlers: Array<(i: BusDisconnectInfo) => void> = [];

  publish(topic: string, payload: string | Buffer, opts: BusPublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const p: FakePublish = {
        topic,
        payload: payload.toString(),
        opts,
        ack: () => resolve(),
        fail: (code) => reject(Object.assign(new Error(code), { code })),
      };
      this.published.push(p);
      if (this.autoAck) queueMicrotask(() => p.ack());
    });
  }

  async subscribe(filter: string): Promise<{ granted: boolean }> {
    this.subscriptions.set(filter, (this.subscriptions.get(filter) ?? 0) + 1);
    return { granted: true };
  }

  async unsubscribe(filter: string): Promise<void> {
    this.subscriptions.delete(filter);
  }

  onMessage(h: (m: BusMessage) => void): Unsubscribe {
    return add(this.msgHandlers, h);
  }
  onConnect(h: () => void): Unsubscribe {
    return add(this.connectHandlers, h);
  }
  onDisconnect(h: (i: BusDisconnectInfo) => void): Unsubscribe {
    return add(this.disconnectHandlers, h);
  }

  connect(): void {
    this.connected = true;
    for (const h of [...this.connectHandlers]) h();
  }

  disconnect(): void {
    this.connected = false;
    for (const h of [...this.disconnectHandlers]) h({ reason: 'test' });
  }

  deliver(m: BusMessage): void {
    for (const h of [...this.msgHandlers]) h(m);
  }
}

function add<T>(list: T[], h: T): Unsubscribe {
  list.push(h);
  return () => {
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
  };
}
