/**
 * The agent's Prometheus metrics: the heater (the last state snapshot, so the figures match the
 * retained `state`), the counters, jobs and tokens, the MQTT connection and the events emitted.
 * Unknown values (null in the state) have no sample. Names are `anchiale_*`; what the state
 * carries as labels (phase, mode, preset, action) is a set of 0/1 gauges with one label.
 */
import type { Action, Mode, Phase, Preset } from '../core/types.js';
import type { EnergyCounters } from '../core/energy.js';
import type { MqttBusStats } from '../adapters/mqtt/mqtt-bus.js';
import { renderPrometheusText, type MetricFamily, type MetricSample, type MetricType } from '../ops/prometheus-text.js';
import type { StateSnapshot } from './state-snapshot.js';
import type { MqttHealthStatus } from './mqtt-health.js';
import type { HaPublisherStats } from './ha-publisher.js';

const PHASES: readonly Phase[] = ['off', 'idle', 'warming_up', 'heating', 'draining', 'safe', 'fault'];
const MODES: readonly Mode[] = ['off', 'heat', 'auto'];
const PRESETS: readonly Preset[] = ['none', 'frost', 'eco', 'comfort', 'boost'];
const ACTIONS: readonly Action[] = ['off', 'idle', 'heating'];

export interface AgentMetricsSource {
  nodeId: string;
  version: string;
  snapshot: () => StateSnapshot | null;
  counters: () => EnergyCounters;
  busConnected: () => boolean;
  /** The MQTT bus's own counters, when it keeps them. */
  busStats: () => MqttBusStats | null;
  health: () => MqttHealthStatus;
  /** Home Assistant discovery, when enabled. */
  discovery?: () => HaPublisherStats | null;
}

export class AgentMetrics {
  private readonly events = new Map<string, { type: string; severity: string; count: number }>();

  constructor(private readonly src: AgentMetricsSource) {}

  /** Every event emitted (published, or held back by the per-type rate limit). */
  countEvent(type: string, severity: string): void {
    const key = `${type}\u0000${severity}`;
    const e = this.events.get(key) ?? { type, severity, count: 0 };
    e.count++;
    this.events.set(key, e);
  }

  render(): string {
    return renderPrometheusText(this.families());
  }

  families(): MetricFamily[] {
    const s = this.src.snapshot();
    const c = this.src.counters();
    const h = this.src.health();
    const b = this.src.busStats();
    const d = this.src.discovery?.() ?? null;
    const out: MetricFamily[] = [];
    const fam = (name: string, type: MetricType, help: string, samples: MetricSample[]) => out.push({ name, type, help, samples });
    const one = (v: number | null | undefined): MetricSample[] => (v === null || v === undefined || !Number.isFinite(v) ? [] : [{ value: v }]);
    const flag = (v: boolean | null | undefined): MetricSample[] => (v === null || v === undefined ? [] : [{ value: v ? 1 : 0 }]);
    const stateSet = (label: string, values: readonly string[], current: string | undefined): MetricSample[] =>
      current === undefined ? [] : [...new Set([...values, current])].map((v) => ({ labels: { [label]: v }, value: v === current ? 1 : 0 }));

    fam('anchiale_info', 'gauge', 'Agent version and node id (always 1)', [{ labels: { node: this.src.nodeId, version: this.src.version }, value: 1 }]);

    // The heater, as in the last state snapshot.
    fam('anchiale_room_temperature_celsius', 'gauge', 'Room temperature the decision used (°C)', one(s?.room_temp_c));
    fam('anchiale_setpoint_celsius', 'gauge', 'Effective setpoint (°C)', one(s?.setpoint_c));
    fam('anchiale_outdoor_temperature_celsius', 'gauge', 'Outdoor temperature (°C)', one(s?.outdoor_temp_c));
    fam('anchiale_demand_ratio', 'gauge', 'Heat demand of the controller, 0..1', one(s?.demand));
    fam('anchiale_power_limit_watts', 'gauge', 'GPU power limit in force (W)', one(s?.power_limit_w));
    fam('anchiale_gpu_power_watts', 'gauge', 'GPU power draw (W)', one(s?.gpu.power_w));
    fam('anchiale_gpu_temperature_celsius', 'gauge', 'GPU temperature (°C)', one(s?.gpu.temp_c));
    fam('anchiale_gpu_utilization_ratio', 'gauge', 'GPU utilisation, 0..1', one(s && s.gpu.util_pct !== null ? s.gpu.util_pct / 100 : null));
    fam('anchiale_wall_power_watts', 'gauge', 'Wall power of the unit from the plug input (W)', one(s?.wall_power_w));
    fam('anchiale_heat_watts', 'gauge', 'Best estimate of the heat delivered now (W)', one(s?.heat_w));
    fam('anchiale_energy_kwh_total', 'counter', 'Energy of the unit since install (kWh, never decreases)', one(s?.energy_kwh ?? c.energyKwh));
    fam('anchiale_useful_energy_kwh_total', 'counter', 'Energy while at least one sequence was busy (kWh)', one(c.usefulKwh));
    fam('anchiale_safe_mode', 'gauge', '1 while in safe mode', flag(s?.safe_mode));
    fam('anchiale_inputs_stale', 'gauge', 'Configured inputs that are stale or never received', one(s?.inputs_stale.length));
    fam('anchiale_phase', 'gauge', 'Current phase (1 for the phase in force)', stateSet('phase', PHASES, s?.phase));
    fam('anchiale_mode', 'gauge', 'Operating mode (1 for the mode in force)', stateSet('mode', MODES, s?.mode));
    fam('anchiale_preset', 'gauge', 'Preset (1 for the preset in force)', stateSet('preset', PRESETS, s?.preset));
    fam('anchiale_action', 'gauge', 'Climate action (1 for the action now)', stateSet('action', ACTIONS, s?.action));

    // Jobs and tokens.
    fam('anchiale_jobs_done_total', 'counter', 'Jobs answered done', one(s?.llm.jobs_done ?? c.jobsDone));
    fam('anchiale_jobs_active', 'gauge', 'Jobs running or queued', one(s?.llm.jobs_active));
    fam('anchiale_jobs_queued', 'gauge', 'Jobs waiting (of the active ones)', one(s?.llm.queued));
    fam('anchiale_llm_slots_free', 'gauge', 'Free inference sequences', one(s?.llm.slots));
    fam('anchiale_llm_slots_max', 'gauge', 'Inference sequences at most', one(s?.llm.max_slots));
    fam('anchiale_llm_model_loaded', 'gauge', '1 while the model is loaded', flag(s?.llm.loaded));
    fam('anchiale_llm_accepting', 'gauge', '1 while jobs are accepted', flag(s?.llm.accepting));
    fam('anchiale_tokens_total', 'counter', 'Tokens generated since install', one(c.tokens));
    fam('anchiale_tokens_per_second', 'gauge', 'Generation rate now (tokens/s)', one(s?.llm.tokens_per_s));

    // MQTT.
    fam('anchiale_mqtt_connected', 'gauge', '1 while connected to the broker', flag(this.src.busConnected()));
    fam('anchiale_mqtt_connection_attempts_total', 'counter', 'Connection attempts, the first included', one(b?.attempts));
    fam('anchiale_mqtt_connects_total', 'counter', 'Successful connections', one(h.connects));
    fam('anchiale_mqtt_reconnects_total', 'counter', 'Successful connections after the first', one(h.reconnects));
    fam('anchiale_mqtt_disconnects_total', 'counter', 'Established connections that were lost', one(h.disconnects));
    fam('anchiale_mqtt_refusals_total', 'counter', 'Connections refused by the broker (CONNACK)', one(h.refusals));
    fam('anchiale_mqtt_auth_refusals_total', 'counter', 'Logins refused by the broker (bad credentials, not authorized)', one(h.authRefusals));
    fam('anchiale_mqtt_login_refused', 'gauge', '1 while the broker refuses our login', flag(h.refusedStreak > 0 && h.lastRefusal?.auth === true));
    fam('anchiale_mqtt_reconnect_delay_seconds', 'gauge', 'Delay before the next reconnect attempt (s)', one(b ? b.reconnectDelayMs / 1000 : null));
    fam('anchiale_mqtt_dropped_oversize_total', 'counter', 'Incoming messages dropped for their size', one(b?.droppedOversize));
    if (d) fam('anchiale_ha_discovery_published_total', 'counter', 'Home Assistant discovery documents published', one(d.published));

    fam(
      'anchiale_events_total',
      'counter',
      'Events emitted by type and severity (published, or held back by the rate limit)',
      [...this.events.values()].sort((x, y) => (x.type === y.type ? x.severity.localeCompare(y.severity) : x.type.localeCompare(y.type))).map((e) => ({ labels: { type: e.type, severity: e.severity }, value: e.count })),
    );
    return out;
  }
}
