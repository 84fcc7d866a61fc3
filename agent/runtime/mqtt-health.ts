/**
 * The broker connection as an operator sees it: connected or not, how often it reconnected, and
 * above all whether the broker refuses our login.
 *
 * A refused login cannot be reported over MQTT while it lasts. So:
 * - the first refusal of a streak is logged once at error level with what to check (the bus
 *   itself logs every refused attempt, at most one per backoff period: reconnect.max_s/2..max_s);
 * - status()/statusText() expose the streak at once (metrics endpoint, doctor, systemd status);
 * - once a login succeeds again, an event `mqtt_auth_refused` (or `mqtt_connect_refused` for other
 *   CONNACK refusals) tells the fleet how long and how often it was refused.
 */
import type { BusDisconnectInfo } from '../ports/bus.js';
import type { Logger } from '../log.js';
import { isAuthRefusal } from '../adapters/mqtt/mqtt-bus.js';
import type { Severity } from './event-publisher.js';

export interface MqttRefusal {
  /** CONNACK reason code. */
  code: number;
  message: string;
  /** The broker refused the credentials (v5 134/135, v3.1.1 4/5). */
  auth: boolean;
  atMs: number;
}

export interface MqttHealthStatus {
  connected: boolean;
  /** Successful connections since start. */
  connects: number;
  /** Connections after the first one. */
  reconnects: number;
  /** Established connections that were lost. */
  disconnects: number;
  /** CONNACK refusals since start. */
  refusals: number;
  /** Of which the credentials were refused. */
  authRefusals: number;
  /** Refusals since the last successful connection (0: not refused now). */
  refusedStreak: number;
  /** When the current streak began (wall ms), null when not refused now. */
  refusedSinceMs: number | null;
  lastRefusal: MqttRefusal | null;
}

export interface MqttHealthDeps {
  log: Logger;
  /** Wall clock (ms). */
  now: () => number;
  emit: (type: string, severity: Severity, fields: Record<string, unknown>) => void;
  protocolVersion: 4 | 5;
  /** mqtt.username (for the hint; never the password). */
  username: string | null;
}

export class MqttHealth {
  private readonly log: Logger;
  private connected = false;
  private readonly counts = { connects: 0, disconnects: 0, refusals: 0, authRefusals: 0 };
  private streak = 0;
  private streakAuth = 0;
  private streakSinceMs: number | null = null;
  private lastRefusal: MqttRefusal | null = null;

  constructor(private readonly deps: MqttHealthDeps) {
    this.log = deps.log.child({ component: 'mqtt-health' });
  }

  onConnect(): void {
    this.connected = true;
    this.counts.connects++;
    if (this.streak > 0 && this.lastRefusal) {
      const fields = {
        refusals: this.streak,
        since: new Date(this.streakSinceMs ?? this.lastRefusal.atMs).toISOString(),
        until: new Date(this.deps.now()).toISOString(),
        reason_code: this.lastRefusal.code,
        reason: this.lastRefusal.message,
        username: this.deps.username,
      };
      const auth = this.streakAuth > 0;
      this.log.info(fields, auth ? 'MQTT login accepted again after refusals' : 'MQTT connection accepted again after refusals');
      this.deps.emit(auth ? 'mqtt_auth_refused' : 'mqtt_connect_refused', 'warning', fields);
    }
    this.streak = 0;
    this.streakAuth = 0;
    this.streakSinceMs = null;
  }

  onDisconnect(info: BusDisconnectInfo): void {
    if (this.connected) this.counts.disconnects++;
    this.connected = false;
    if (!info.refused) return;
    const { code, message } = info.refused;
    const auth = isAuthRefusal(code, this.deps.protocolVersion);
    const atMs = this.deps.now();
    this.counts.refusals++;
    if (auth) this.counts.authRefusals++;
    this.lastRefusal = { code, message, auth, atMs };
    if (this.streak === 0) {
      this.streakSinceMs = atMs;
      this.log.error(
        { reasonCode: code, reason: message, username: this.deps.username },
        auth
          ? `MQTT broker refuses our login (${message}, CONNACK ${code}): check mqtt.username, the password (mqtt.password_file, ANCHIALE_MQTT__PASSWORD) and the client certificate; retrying with backoff`
          : `MQTT broker refuses the connection (${message}, CONNACK ${code}); retrying with backoff`,
      );
    }
    this.streak++;
    if (auth) this.streakAuth++;
  }

  status(): MqttHealthStatus {
    return {
      connected: this.connected,
      connects: this.counts.connects,
      reconnects: Math.max(0, this.counts.connects - 1),
      disconnects: this.counts.disconnects,
      refusals: this.counts.refusals,
      authRefusals: this.counts.authRefusals,
      refusedStreak: this.streak,
      refusedSinceMs: this.streakSinceMs,
      lastRefusal: this.lastRefusal,
    };
  }

  /** One line for `systemctl status` / doctor while refused, null otherwise. */
  statusText(): string | null {
    const r = this.lastRefusal;
    if (this.streak === 0 || !r) return null;
    const since = new Date(this.streakSinceMs ?? r.atMs).toISOString();
    return r.auth
      ? `MQTT login refused (${r.message}, CONNACK ${r.code}) since ${since}, ${this.streak} attempt(s): check mqtt credentials`
      : `MQTT connection refused (${r.message}, CONNACK ${r.code}) since ${since}, ${this.streak} attempt(s)`;
  }
}
