/**
 * sd_notify for the daemon (Type=notify, WatchdogSec=) without a native addon: Node has no unix
 * datagram sockets, so each message is sent by `systemd-notify` (systemd 252 flags: --ready,
 * --status=TEXT, VARIABLE=VALUE…, --no-block), run asynchronously with a timeout, one at a time.
 *
 * --no-block is deliberately NOT used: after the message systemd-notify sends BARRIER=1 and waits
 * (≤ 5 s) until the manager has processed it. Without that wait, systemd-notify may exit before
 * the manager reads the datagram, the manager can then no longer tie the sender's PID to our unit,
 * and drops the message (the unit needs NotifyAccess=all, since the sender is a child).
 *
 * Without NOTIFY_SOCKET (not under systemd) every call is a no-op.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import type { Logger } from '../../log.js';

export interface SdNotifierOptions {
  log: Logger;
  /** NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, PATH (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Default `systemd-notify` (on PATH). */
  binary?: string;
  /** A send is killed after this long (default 10 s; the barrier itself gives up after 5 s). */
  timeoutMs?: number;
  /** This process (for WATCHDOG_PID). */
  pid?: number;
  spawn?: typeof nodeSpawn;
}

/** The control loop is healthy when a tick ran within 2 × the tick period. */
export function loopHealthy(lastTickMonoS: number | null, nowMonoS: number, tickS: number): boolean {
  return lastTickMonoS !== null && nowMonoS - lastTickMonoS <= 2 * tickS;
}

/** STATUS= text: one line, bounded. */
export function statusText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

const MAX_PENDING = 8;

export class SdNotifier {
  private readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly binary: string;
  private readonly timeoutMs: number;
  private readonly spawnFn: typeof nodeSpawn;
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private failures = 0;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private unhealthySince: number | null = null;
  /** Messages sent successfully (tests, doctor). */
  sent = 0;

  constructor(private readonly opts: SdNotifierOptions) {
    this.log = opts.log.child({ component: 'sd-notify' });
    this.env = opts.env ?? process.env;
    this.binary = opts.binary ?? 'systemd-notify';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.spawnFn = opts.spawn ?? nodeSpawn;
  }

  /** True under systemd with Type=notify (NOTIFY_SOCKET set). */
  get enabled(): boolean {
    return Boolean(this.env.NOTIFY_SOCKET);
  }

  /**
   * How often to send WATCHDOG=1 (half of WatchdogSec=), or null when the watchdog is off or is
   * meant for another process (WATCHDOG_PID).
   */
  watchdogIntervalMs(): number | null {
    if (!this.enabled) return null;
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    const pidText = this.env.WATCHDOG_PID;
    if (pidText !== undefined && pidText !== '' && Number(pidText) !== (this.opts.pid ?? process.pid)) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  ready(status?: string): Promise<boolean> {
    return this.send(['--ready', ...(status !== undefined ? [`--status=${statusText(status)}`] : [])]);
  }

  status(text: string): Promise<boolean> {
    return this.send([`--status=${statusText(text)}`]);
  }

  watchdog(): Promise<boolean> {
    // A stuck systemd-notify must not pile up watchdog pings behind it.
    if (this.pending >= MAX_PENDING) return Promise.resolve(false);
    return this.send(['WATCHDOG=1']);
  }

  stopping(status?: string): Promise<boolean> {
    return this.send(['STOPPING=1', ...(status !== undefined ? [`--status=${statusText(status)}`] : [])]);
  }

  /** Resolves once every send asked so far has ended (each is bounded by the send timeout). */
  flush(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  /**
   * Sends WATCHDOG=1 every watchdogIntervalMs() while `isHealthy()` says so; a stalled loop gets no
   * ping, and systemd kills and restarts the unit. Returns the function that stops the timer.
   */
  startWatchdog(isHealthy: () => boolean): () => void {
    const every = this.watchdogIntervalMs();
    if (every === null) return () => undefined;
    this.stopWatchdog();
    this.watchdogTimer = setInterval(() => {
      if (isHealthy()) {
        if (this.unhealthySince !== null) this.log.info('control loop healthy again: watchdog pings resume');
        this.unhealthySince = null;
        void this.watchdog();
      } else if (this.unhealthySince === null) {
        this.unhealthySince = Date.now();
        this.log.error('control loop stalled: no watchdog ping (systemd restarts the unit if it lasts)');
      }
    }, every);
    this.watchdogTimer.unref();
    return () => this.stopWatchdog();
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
  }

  /** Runs `systemd-notify ARGS…` after the previous send; resolves true when it exited 0. */
  send(args: string[]): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    this.pending += 1;
    const run = this.chain.then(() => this.runOnce(args));
    this.chain = run.catch(() => undefined);
    return run.finally(() => {
      this.pending -= 1;
    });
  }

  private runOnce(args: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      let stderr = '';
      let settled = false;
      const done = (ok: boolean, why?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ok) {
          this.sent += 1;
          this.failures = 0;
        } else {
          this.failures += 1;
          // Logged once per failure streak: a missing manager must not flood the log.
          if (this.failures === 1) this.log.warn({ args, why, stderr: stderr.trim().slice(0, 300) }, 'systemd-notify failed');
        }
        resolve(ok);
      };
      let child: ReturnType<typeof nodeSpawn>;
      try {
        child = this.spawnFn(this.binary, args, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        done(false, String(err));
        return;
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done(false, `no answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderr = (stderr + d).slice(-2048);
      });
      child.on('error', (err) => done(false, err.message));
      child.on('close', (code, signal) => done(code === 0, code === 0 ? undefined : `exit ${code ?? signal ?? '?'}`));
    });
  }
}
