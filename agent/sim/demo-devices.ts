/**
 * Simulated building devices for the demo, publishing over MQTT exactly what the real ones
 * publish (notes/platform-facts.md "Smart plugs and thermostats on MQTT", the input presets of
 * adapters/mqtt/input-presets.ts):
 * - DemoThermostat: a thermostatic radiator valve behind Zigbee2MQTT, `zigbee2mqtt/<name>`
 *   JSON {battery, last_seen, linkquality, local_temperature, occupied_heating_setpoint}, QoS 0,
 *   not retained (Zigbee2MQTT's defaults), on a change of the reported temperature ≥ 0.1 K
 *   (reported at 0.1 °C resolution, like a TRV) or every 60 simulated seconds; accepts
 *   `zigbee2mqtt/<name>/set` `{"occupied_heating_setpoint": 22}` (and the `/set/<attribute>`
 *   and `/get` forms).
 * - DemoSmartPlug: a Shelly Plus Plug S (Gen2) with MQTT status notifications on,
 *   `<prefix>/status/switch:0` JSON {id, source, output, apower, voltage, current,
 *   aenergy {total Wh, by_minute mWh of the last 3 complete minutes (newest first), minute_ts},
 *   temperature {tC, tF}} every few simulated seconds and on a power change; `<prefix>/online`
 *   `true` retained (last will `false` when it owns its connection).
 * - DemoOutdoorSensor: a plain number topic (a weather bridge), retained by default.
 *
 * Time: each device reads a `clock` (simulated epoch ms, e.g. DemoRoom.simNowMs) for its periods,
 * timestamps and energy; a real timer (`pollMs`) looks at its inputs. Periods are in simulated
 * seconds, so a device never looks stale to an agent running on simulated time; the timer
 * period bounds how often it can publish in real time.
 *
 * Connection: give an MqttClient to share (not ended by stop()), or a url (+ options) for the
 * device to connect on start() and end on stop(), like a real device with its own connection.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { AgentError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

export type DemoMqttConnection = { client: MqttClient } | { url: string; options?: IClientOptions };

export interface DemoDeviceCommon {
  mqtt: DemoMqttConnection;
  /** Simulated wall clock, epoch ms. */
  clock: () => number;
  /** Real timer period, ms (default 250; 0 = no timer: call tick() yourself). */
  pollMs?: number;
  /** With a url: how long start() waits for the first connection (default 10 000 ms). */
  connectTimeoutMs?: number;
  log?: Logger;
}

const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  return Object.is(r, -0) ? 0 : r;
};
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function checkTopic(key: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || /[+#]/.test(value) || value.includes('\0') || value.startsWith('/') || value.endsWith('/')) {
    throw new AgentError('demo_device_invalid', `demo device ${key}: must be a topic without +, # or NUL, not starting or ending with /`, { key });
  }
}

/** Connection ownership, the poll timer and start/stop shared by the devices. */
abstract class MqttDevice {
  protected client: MqttClient | undefined;
  protected readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | undefined;
  private owned = false;
  private started = false;

  constructor(
    protected readonly common: DemoDeviceCommon,
    component: string,
  ) {
    this.log = (common.log ?? silentLogger()).child({ component });
  }

  /** Connect (when given a url), subscribe, publish the first state, start the timer. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const conn = this.common.mqtt;
    if ('client' in conn) {
      this.client = conn.client;
    } else {
      this.owned = true;
      this.client = mqtt.connect(conn.url, { queueQoSZero: false, reconnectPeriod: 1000, ...this.willOptions(), ...conn.options });
      this.client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt error'));
    }
    this.client.on('message', this.onMessage);
    if (this.owned) await this.firstConnect(this.client);
    await this.onConnectAsync();
    await this.tick();
    const pollMs = this.common.pollMs ?? 250;
    if (pollMs > 0) {
      this.timer = setInterval(() => {
        this.tick().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'device tick failed'));
      }, pollMs);
    }
  }

  private async firstConnect(c: MqttClient): Promise<void> {
    const timeoutMs = this.common.connectTimeoutMs ?? 10_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        const done = (err?: Error) => {
          clearTimeout(timer);
          c.off('connect', onOk);
          c.off('error', done);
          if (err) reject(err);
          else resolve();
        };
        const onOk = () => done();
        c.on('connect', onOk);
        c.on('error', done);
      });
    } catch (err) {
      this.started = false;
      this.client = undefined;
      c.off('message', this.onMessage);
      await c.endAsync(true).catch(() => {});
      throw new AgentError('demo_device_connect_failed', `demo device could not connect: ${errorMessage(err)}`);
    }
    // Later reconnects: subscribe again and say hello again.
    c.on('connect', this.onConnect);
  }

  /** Stop the timer; say goodbye and end the connection when it is the device's own. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const c = this.client;
    if (!c) return;
    c.off('message', this.onMessage);
    c.off('connect', this.onConnect);
    await this.goodbye().catch(() => {});
    await this.unsubscribe().catch(() => {});
    if (this.owned) await c.endAsync();
    this.client = undefined;
  }

  /** Look at the inputs and publish what is due. The timer calls it; tests may too. */
  abstract tick(): Promise<void>;

  /** tick() now, without waiting (after a command). */
  protected kick(): void {
    this.tick().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'device tick failed'));
  }

  protected async publish(topic: string, payload: string, retain = false): Promise<void> {
    const c = this.client;
    if (!c) return;
    try {
      await c.publishAsync(topic, payload, { qos: 0, retain });
    } catch (err) {
      this.log.warn({ topic, err: errorMessage(err) }, 'publish failed');
    }
  }

  /** Topics to subscribe (again after each reconnect of an owned connection). */
  protected subscriptions(): string[] {
    return [];
  }
  protected handle(_topic: string, _payload: Buffer): void {}
  protected willOptions(): Partial<IClientOptions> {
    return {};
  }
  /** After (re)connecting: e.g. an `online` announcement. */
  protected async hello(): Promise<void> {}
  protected async goodbye(): Promise<void> {}

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (!this.subscriptions().includes(topic)) return;
    try {
      this.handle(topic, payload);
    } catch (err) {
      this.log.warn({ topic, err: errorMessage(err) }, 'message handling failed');
    }
  };

  private readonly onConnect = (): void => {
    if (!this.started) return;
    this.onConnectAsync().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'resubscribe failed'));
  };

  private async onConnectAsync(): Promise<void> {
    const subs = this.subscriptions();
    if (subs.length > 0 && this.client) await this.client.subscribeAsync(subs, { qos: 0 });
    await this.hello();
  }

  private async unsubscribe(): Promise<void> {
    const subs = this.subscriptions();
    if (subs.length > 0 && this.client?.connected && !this.owned) await this.client.unsubscribeAsync(subs);
  }
}

// ---------------------------------------------------------------------------------------------

export interface DemoThermostatOptions extends DemoDeviceCommon {
  /** Zigbee2MQTT friendly name (may contain `/`, e.g. `room204/trv`). */
  name: string;
  /** Zigbee2MQTT base topic (default `zigbee2mqtt`). */
  baseTopic?: string;
  /** The room temperature the valve measures now, °C. */
  roomTempC: () => number;
  /** Initial occupied_heating_setpoint, °C (default 21). */
  setpointC?: number;
  /** The valve's setpoint range and step (default 5..30 by 0.5). */
  minSetpointC?: number;
  maxSetpointC?: number;
  setpointStepC?: number;
  /** Battery %, link quality (defaults 87, 120). */
  battery?: number;
  linkquality?: number;
  /** Zigbee2MQTT `advanced.last_seen: ISO_8601` (default true); false: no last_seen field. */
  lastSeen?: boolean;
  /** Longest time between reports, simulated s (default 60). */
  reportEveryS?: number;
  /** Smallest change of the reported temperature that is published at once, K (default 0.1). */
  reportChangeK?: number;
  /** Called when the setpoint changes (from `/set` or setSetpoint()). */
  onSetpoint?: (setpointC: number, source: 'mqtt' | 'local') => void;
}

/** What a Zigbee2MQTT thermostat/TRV publishes on `zigbee2mqtt/<name>`. */
export interface Z2mThermostatPayload {
  battery: number;
  last_seen?: string;
  linkquality: number;
  local_temperature: number;
  occupied_heating_setpoint: number;
}

export class DemoThermostat extends MqttDevice {
  private readonly o: DemoThermostatOptions;
  private setpoint: number;
  private lastTemp: number | undefined;
  private lastAtMs = Number.NEGATIVE_INFINITY;
  private dirty = true;
  private count = 0;

  constructor(opts: DemoThermostatOptions) {
    super(opts, 'demo-thermostat');
    checkTopic('name', opts.name);
    this.o = opts;
    this.setpoint = opts.setpointC ?? 21;
  }

  /** `zigbee2mqtt/<name>`. */
  get topic(): string {
    return `${this.o.baseTopic ?? 'zigbee2mqtt'}/${this.o.name}`;
  }

  get setpointC(): number {
    return this.setpoint;
  }

  /** Messages published so far. */
  get published(): number {
    return this.count;
  }

  /** Someone turns the knob: the valve reports the new setpoint at once. Returns the value kept. */
  setSetpoint(c: number): number | null {
    const v = this.acceptSetpoint(c);
    if (v === null) return null;
    this.changeSetpoint(v, 'local');
    return v;
  }

  /** The payload for a room temperature (0.1 °C resolution). */
  payload(roomTempC: number): Z2mThermostatPayload {
    const p: Z2mThermostatPayload = {
      battery: this.o.battery ?? 87,
      linkquality: this.o.linkquality ?? 120,
      local_temperature: round(roomTempC, 1),
      occupied_heating_setpoint: this.setpoint,
    };
    if (this.o.lastSeen ?? true) p.last_seen = new Date(this.common.clock()).toISOString();
    // Key order as Zigbee2MQTT sorts them.
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(p).sort()) sorted[k] = p[k as keyof Z2mThermostatPayload];
    return sorted as unknown as Z2mThermostatPayload;
  }

  async tick(): Promise<void> {
    const raw = this.o.roomTempC();
    if (!finite(raw)) return;
    const now = this.common.clock();
    const t = round(raw, 1);
    const changeK = this.o.reportChangeK ?? 0.1;
    const due =
      this.dirty ||
      this.lastTemp === undefined ||
      Math.abs(t - this.lastTemp) >= changeK - 1e-9 ||
      now - this.lastAtMs >= (this.o.reportEveryS ?? 60) * 1000;
    if (!due) return;
    this.lastTemp = t;
    this.lastAtMs = now;
    this.dirty = false;
    this.count += 1;
    await this.publish(this.topic, JSON.stringify(this.payload(raw)));
  }

  protected override subscriptions(): string[] {
    return [`${this.topic}/set`, `${this.topic}/set/occupied_heating_setpoint`, `${this.topic}/get`];
  }

  protected override handle(topic: string, payload: Buffer): void {
    const text = payload.toString('utf8');
    if (topic === `${this.topic}/get`) {
      this.dirty = true;
      this.kick();
      return;
    }
    let value: unknown;
    if (topic.endsWith('/set')) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        this.log.warn({ topic, payload: text.slice(0, 80) }, 'set: not JSON');
        return;
      }
      if (body === null || typeof body !== 'object' || !('occupied_heating_setpoint' in body)) {
        this.log.warn({ topic, payload: text.slice(0, 80) }, 'set: no occupied_heating_setpoint');
        return;
      }
      value = (body as Record<string, unknown>).occupied_heating_setpoint;
    } else {
      value = text.trim() === '' ? NaN : Number(text);
    }
    const c = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    const v = this.acceptSetpoint(c);
    if (v === null) {
      this.log.warn({ topic, value }, 'set: occupied_heating_setpoint out of range or not a number');
      return;
    }
    this.changeSetpoint(v, 'mqtt');
  }

  private acceptSetpoint(c: unknown): number | null {
    const min = this.o.minSetpointC ?? 5;
    const max = this.o.maxSetpointC ?? 30;
    if (!finite(c) || c < min || c > max) return null;
    const step = this.o.setpointStepC ?? 0.5;
    return round(Math.round(c / step) * step, 2);
  }

  private changeSetpoint(v: number, source: 'mqtt' | 'local'): void {
    this.setpoint = v;
    this.dirty = true;
    this.o.onSetpoint?.(v, source);
    this.kick();
  }
}

// ---------------------------------------------------------------------------------------------

export interface DemoSmartPlugOptions extends DemoDeviceCommon {
  /** MQTT prefix of the Shelly (its device id by default, e.g. `shellyplusplugs-a8032ab1c0de`). */
  prefix: string;
  /** The load's power now, W (the heater unit's wall power). */
  powerW: () => number;
  /** Mains voltage, V (default 230.4). */
  voltageV?: number;
  /** Longest time between status notifications, simulated s (default 5). */
  reportEveryS?: number;
  /** A power change that is notified at once, W (default 5). */
  reportChangeW?: number;
  /** Energy counter at start, Wh (default 0). */
  energyWh?: number;
  /** The plug's internal temperature with no load, °C (default 24); it rises 0.02 K per W. */
  ambientC?: number;
  /** `source` of the status (default `init`, what a Gen2 reports after boot). */
  source?: string;
}

/** What a Shelly Gen2 publishes on `<prefix>/status/switch:0`. */
export interface ShellySwitchStatus {
  id: number;
  source: string;
  output: boolean;
  apower: number;
  voltage: number;
  current: number;
  aenergy: { total: number; by_minute: [number, number, number]; minute_ts: number };
  temperature: { tC: number; tF: number };
}

export class DemoSmartPlug extends MqttDevice {
  private readonly o: DemoSmartPlugOptions;
  private energyWh: number;
  /** Energy of the minute in progress and of the last three complete ones (mWh, newest first). */
  private minuteMwh = 0;
  private byMinute: [number, number, number] = [0, 0, 0];
  private minuteStartMs: number | undefined;
  private lastAtMs: number | undefined;
  private heldW = 0;
  private lastSentW: number | undefined;
  private lastSentAtMs = Number.NEGATIVE_INFINITY;
  private count = 0;

  constructor(opts: DemoSmartPlugOptions) {
    super(opts, 'demo-smart-plug');
    checkTopic('prefix', opts.prefix);
    this.o = opts;
    this.energyWh = opts.energyWh ?? 0;
  }

  /** `<prefix>/status/switch:0`. */
  get topic(): string {
    return `${this.o.prefix}/status/switch:0`;
  }

  /** Energy counted so far, Wh. */
  get totalWh(): number {
    this.integrate(this.common.clock());
    return this.energyWh;
  }

  get published(): number {
    return this.count;
  }

  /** The status document now (integrates the energy up to now first). */
  status(): ShellySwitchStatus {
    const now = this.common.clock();
    this.integrate(now);
    const w = Math.max(0, this.heldW);
    const voltage = this.o.voltageV ?? 230.4;
    const tC = (this.o.ambientC ?? 24) + 0.02 * w;
    return {
      id: 0,
      source: this.o.source ?? 'init',
      output: true,
      apower: round(w, 1),
      voltage: round(voltage, 1),
      current: round(w / voltage, 3),
      aenergy: {
        total: round(this.energyWh, 3),
        by_minute: [round(this.byMinute[0], 3), round(this.byMinute[1], 3), round(this.byMinute[2], 3)],
        minute_ts: Math.floor(this.minuteStart(now) / 1000),
      },
      temperature: { tC: round(tC, 1), tF: round((tC * 9) / 5 + 32, 1) },
    };
  }

  async tick(): Promise<void> {
    const now = this.common.clock();
    this.integrate(now);
    const w = this.samplePower();
    this.heldW = w;
    const due =
      this.lastSentW === undefined ||
      Math.abs(w - this.lastSentW) >= (this.o.reportChangeW ?? 5) ||
      now - this.lastSentAtMs >= (this.o.reportEveryS ?? 5) * 1000;
    if (!due) return;
    this.lastSentW = w;
    this.lastSentAtMs = now;
    this.count += 1;
    await this.publish(this.topic, JSON.stringify(this.status()));
  }

  protected override willOptions(): Partial<IClientOptions> {
    return { will: { topic: `${this.o.prefix}/online`, payload: Buffer.from('false'), qos: 0, retain: true } };
  }

  protected override async hello(): Promise<void> {
    await this.publish(`${this.o.prefix}/online`, 'true', true);
  }

  protected override async goodbye(): Promise<void> {
    await this.publish(`${this.o.prefix}/online`, 'false', true);
  }

  private samplePower(): number {
    try {
      const w = this.o.powerW();
      if (finite(w) && w >= 0) return w;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'power callback failed');
    }
    return this.heldW;
  }

  private minuteStart(ms: number): number {
    return Math.floor(ms / 60_000) * 60_000;
  }

  /** Integrate the held power up to `now`, splitting it over minute boundaries. */
  private integrate(now: number): void {
    if (this.lastAtMs === undefined) {
      this.lastAtMs = now;
      this.minuteStartMs = this.minuteStart(now);
      this.heldW = this.samplePower();
      return;
    }
    let t = this.lastAtMs;
    if (now <= t) return;
    const w = Math.max(0, this.heldW);
    while (t < now) {
      const minuteEnd = this.minuteStartMs! + 60_000;
      const segEnd = Math.min(now, minuteEnd);
      const wh = (w * (segEnd - t)) / 3.6e6;
      this.energyWh += wh;
      this.minuteMwh += wh * 1000;
      t = segEnd;
      if (t >= minuteEnd) {
        this.byMinute = [this.minuteMwh, this.byMinute[0], this.byMinute[1]];
        this.minuteMwh = 0;
        this.minuteStartMs = minuteEnd;
      }
    }
    this.lastAtMs = now;
  }
}

// ---------------------------------------------------------------------------------------------

export interface DemoOutdoorSensorOptions extends DemoDeviceCommon {
  /** Topic (e.g. `weather/demo/temp_c`). */
  topic: string;
  /** Outdoor temperature now, °C. */
  temperatureC: () => number;
  /** Longest time between reports, simulated s (default 300). */
  reportEveryS?: number;
  /** A change of the reported value published at once, K (default 0.1). */
  reportChangeK?: number;
  /** Retained (default true, as weather bridges do). */
  retain?: boolean;
}

export class DemoOutdoorSensor extends MqttDevice {
  private readonly o: DemoOutdoorSensorOptions;
  private last: number | undefined;
  private lastAtMs = Number.NEGATIVE_INFINITY;
  private count = 0;

  constructor(opts: DemoOutdoorSensorOptions) {
    super(opts, 'demo-outdoor-sensor');
    checkTopic('topic', opts.topic);
    this.o = opts;
  }

  get topic(): string {
    return this.o.topic;
  }

  get published(): number {
    return this.count;
  }

  async tick(): Promise<void> {
    const raw = this.o.temperatureC();
    if (!finite(raw)) return;
    const now = this.common.clock();
    const v = round(raw, 1);
    const due =
      this.last === undefined ||
      Math.abs(v - this.last) >= (this.o.reportChangeK ?? 0.1) - 1e-9 ||
      now - this.lastAtMs >= (this.o.reportEveryS ?? 300) * 1000;
    if (!due) return;
    this.last = v;
    this.lastAtMs = now;
    this.count += 1;
    await this.publish(this.o.topic, v.toFixed(1), this.o.retain ?? true);
  }
}
