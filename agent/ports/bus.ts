/**
 * The message bus the runtime talks to (MQTT in production, a fake in tests).
 * Topics are MQTT topic names/filters; payloads are bytes.
 */

/** MQTT 5 properties passed through (dropped on an MQTT 3.1.1 connection). */
export interface BusPublishProperties {
  /** Seconds the broker may keep the message for a subscriber that has not received it. */
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
}

export interface BusPublishOptions {
  qos: 0 | 1;
  retain?: boolean;
  properties?: BusPublishProperties;
}

export interface BusMessageProperties {
  responseTopic?: string;
  correlationData?: Buffer;
  messageExpiryInterval?: number;
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
}

export interface BusMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: 0 | 1 | 2;
  /** Present only when the message carried MQTT 5 properties. */
  properties?: BusMessageProperties;
}

export interface BusDisconnectInfo {
  /** Human-readable cause (socket error, keepalive timeout, server DISCONNECT reason, refusal). */
  reason: string;
  /** Set when the broker refused the connection (CONNACK reason code and its meaning). */
  refused?: { code: number; message: string };
}

export type Unsubscribe = () => void;

export interface BusSubscribeOptions {
  /** MQTT 5 retain-as-published: a live message keeps its publisher's retain flag (ignored on 3.1.1). */
  retainAsPublished?: boolean;
}

export interface MessageBus {
  /**
   * QoS 1 resolves on PUBACK. While disconnected a QoS 1 publish waits in the client's in-memory
   * queue (lost if the process dies: durable delivery is the outbox's job) and a QoS 0 publish
   * rejects. Rejects with an AgentError (`code`) when the broker refuses it or the bus is stopped.
   */
  publish(topic: string, payload: string | Buffer, opts: BusPublishOptions): Promise<void>;
  /**
   * Adds the filter to the bus's subscriptions, which are made again on every (re)connect.
   * Resolves once the broker answered (now, or at the next connect while offline).
   */
  subscribe(filter: string, qos?: 0 | 1, opts?: BusSubscribeOptions): Promise<{ granted: boolean }>;
  unsubscribe(filter: string): Promise<void>;
  /** Handlers are called in order; one that throws is logged and does not affect the others. */
  onMessage(handler: (msg: BusMessage) => void): Unsubscribe;
  readonly connected: boolean;
  /** After every (re)connect, once subscriptions are renewed and `online` is published. */
  onConnect(handler: () => void): Unsubscribe;
  onDisconnect(handler: (info: BusDisconnectInfo) => void): Unsubscribe;
}
