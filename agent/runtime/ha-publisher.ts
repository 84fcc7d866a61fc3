/**
 * Publishes the Home Assistant discovery document (agent/ops/ha-discovery.ts), retained, QoS 1:
 * after every (re)connect, and again whenever Home Assistant announces itself with its birth
 * message (`<discovery.prefix>/status` = `online`, a live message: a retained `online` seen at
 * subscribe time is covered by the publish on connect). Only started when
 * mqtt.discovery.enabled is true.
 *
 * removeDiscovery() publishes the empty retained payload that makes Home Assistant delete the
 * device; this publisher then stays quiet (no republish on reconnect or HA birth) until
 * publish() is called again. To keep a device removed across restarts, also set
 * mqtt.discovery.enabled: false (`anchiale ha remove` does the removal without the daemon).
 */
import type { BusMessage, MessageBus } from '../ports/bus.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { haDiscoveryTopic, type HaDiscoveryPayload } from '../ops/ha-discovery.js';

export interface HaPublisherDeps {
  bus: MessageBus;
  log: Logger;
  /** mqtt.discovery.prefix. */
  prefix: string;
  nodeId: string;
  /** Built at each publish (the card's limits are known once the heater started). */
  payload: () => HaDiscoveryPayload;
}

export interface HaPublisherStats {
  /** Discovery documents published (every reason). */
  published: number;
  /** Of which after a Home Assistant birth message. */
  birthRepublishes: number;
  removals: number;
  /** Whether the device is currently removed (no republish until publish()). */
  removed: boolean;
}

export type HaPublishReason = 'connect' | 'ha_birth' | 'request';

export class HaPublisher {
  private readonly log: Logger;
  private readonly unsubscribers: Array<() => void> = [];
  private removed = false;
  private running = false;
  private refusedLogged = false;
  private readonly counts = { published: 0, birthRepublishes: 0, removals: 0 };

  constructor(private readonly deps: HaPublisherDeps) {
    this.log = deps.log.child({ component: 'ha' });
  }

  /** `<prefix>/device/anchiale_<id>/config`. */
  get topic(): string {
    return haDiscoveryTopic(this.deps.prefix, this.deps.nodeId);
  }

  /** Where Home Assistant publishes its birth and last will. */
  get haStatusTopic(): string {
    return `${this.deps.prefix}/status`;
  }

  stats(): HaPublisherStats {
    return { ...this.counts, removed: this.removed };
  }

  /** Registers the bus handlers and the subscription to Home Assistant's status (before or after bus.start()). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { bus } = this.deps;
    this.unsubscribers.push(
      bus.onConnect(() => void this.publishIfActive('connect')),
      bus.onMessage((m) => this.onMessage(m)),
    );
    void bus.subscribe(this.haStatusTopic, 1).then(
      ({ granted }) => {
        if (!granted) this.log.error({ topic: this.haStatusTopic }, 'subscription to the Home Assistant status refused (ACL?)');
      },
      (err: unknown) => this.log.warn({ topic: this.haStatusTopic, err: errorMessage(err) }, 'cannot subscribe to the Home Assistant status'),
    );
    if (bus.connected) await this.publishIfActive('connect');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubscribers.splice(0)) u();
    await this.deps.bus.unsubscribe(this.haStatusTopic).catch(() => undefined);
  }

  /** Publishes the discovery document now (also ends a removal). Resolves true once the broker took it. */
  async publish(reason: HaPublishReason = 'request'): Promise<boolean> {
    if (reason === 'request') this.removed = false;
    const text = JSON.stringify(this.deps.payload());
    try {
      await this.deps.bus.publish(this.topic, text, { qos: 1, retain: true });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'mqtt_publish_refused') {
        // An ACL problem does not go away by itself: say it once, loudly.
        if (!this.refusedLogged) {
          this.refusedLogged = true;
          this.log.error({ topic: this.topic, err: errorMessage(err) }, 'broker refused the Home Assistant discovery document (ACL must allow writing it)');
        }
      } else {
        this.log.warn({ topic: this.topic, reason, err: errorMessage(err) }, 'Home Assistant discovery not published');
      }
      return false;
    }
    this.counts.published++;
    if (reason === 'ha_birth') this.counts.birthRepublishes++;
    this.log.debug({ topic: this.topic, reason, bytes: text.length }, 'Home Assistant discovery published');
    return true;
  }

  /**
   * Removes the device from Home Assistant: an empty retained payload on the discovery topic.
   * No republish afterwards until publish() (or a restart with discovery enabled).
   */
  async removeDiscovery(): Promise<void> {
    this.removed = true;
    await this.deps.bus.publish(this.topic, '', { qos: 1, retain: true });
    this.counts.removals++;
    this.log.info({ topic: this.topic }, 'Home Assistant discovery removed');
  }

  private async publishIfActive(reason: HaPublishReason): Promise<void> {
    if (!this.running || this.removed) return;
    await this.publish(reason);
  }

  private onMessage(m: BusMessage): void {
    if (m.topic !== this.haStatusTopic) return;
    // A retained `online` arrives with every subscription: the publish on connect covers it.
    if (m.retain) return;
    if (m.payload.toString('utf8').trim() !== 'online') return;
    this.log.info('Home Assistant came online: republishing discovery');
    void this.publishIfActive('ha_birth');
  }
}
