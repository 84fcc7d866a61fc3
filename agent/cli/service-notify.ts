/**
 * The daemon's dialogue with systemd (Type=notify, WatchdogSec=): READY once the agent has
 * started, STATUS= when what it does changes, WATCHDOG=1 only while the control loop is healthy
 * (a tick within 2 × the tick period; while stopping, the stop's own 20 s limit bounds it),
 * STOPPING=1 on the way out. A no-op outside systemd.
 */
import type { HeatDecision } from '../core/types.js';
import { loopHealthy, type SdNotifier } from '../adapters/system/sd-notify.js';

/** What the notifier reads from the agent (the runtime has both; other agents may have neither). */
export interface NotifiableAgent {
  start(): Promise<void>;
  readonly lastTickMonoS?: number | null;
  readonly decision?: HeatDecision | null;
}

export interface ServiceNotify {
  /** STOPPING=1 (watchdog pings go on until stopped()). */
  stopping(reason: string): void;
  /** No more pings; resolves once what was already asked (STOPPING=1 included) has been sent. */
  stopped(): Promise<void>;
}

/** One line for `systemctl status`. */
export function describeDecision(d: HeatDecision | null | undefined): string {
  if (!d) return 'running: no decision yet';
  const room = d.roomTempC === null ? 'room ?' : `room ${d.roomTempC.toFixed(1)} °C`;
  const sp = d.setpointC === null ? '' : ` → ${d.setpointC.toFixed(1)} °C`;
  const why = d.reasons.filter((r) => r !== 'below_setpoint' && r !== 'at_setpoint').slice(0, 3);
  return `${d.phase}, ${room}${sp}, limit ${d.targetLimitW} W, demand ${Math.round(d.demand * 100)} %${why.length ? ` (${why.join(', ')})` : ''}`;
}

export function startServiceNotify(
  agent: NotifiableAgent,
  notifier: SdNotifier,
  opts: { tickS: number; monoS: () => number; statusEveryMs?: number },
): ServiceNotify {
  if (!notifier.enabled) return { stopping: () => undefined, stopped: async () => undefined };
  let stopping = false;
  let lastStatus = describeDecision(agent.decision);
  void notifier.ready(lastStatus);
  const stopWatchdog = notifier.startWatchdog(
    () => stopping || agent.lastTickMonoS === undefined || loopHealthy(agent.lastTickMonoS, opts.monoS(), opts.tickS),
  );
  const statusTimer = setInterval(() => {
    if (stopping) return;
    const healthy = agent.lastTickMonoS === undefined || loopHealthy(agent.lastTickMonoS, opts.monoS(), opts.tickS);
    const text = healthy ? describeDecision(agent.decision) : 'control loop stalled';
    if (text !== lastStatus) {
      lastStatus = text;
      void notifier.status(text);
    }
  }, opts.statusEveryMs ?? 10_000);
  statusTimer.unref();
  return {
    stopping(reason) {
      if (stopping) return;
      stopping = true;
      void notifier.stopping(`stopping (${reason})`);
    },
    stopped() {
      stopping = true;
      clearInterval(statusTimer);
      stopWatchdog();
      return notifier.flush();
    },
  };
}
