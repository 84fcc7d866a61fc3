import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const execFileAsync = promisify(execFile);

export interface MosquittoTlsFiles {
  /** PEM files; copied into the broker's temp dir. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Clients must present a certificate signed by caFile. */
  requireCertificate?: boolean;
  /** The client certificate's CN becomes the user name (needs requireCertificate). */
  useIdentityAsUsername?: boolean;
}

export interface MosquittoOptions {
  /** Users for a password file (made with `mosquitto_passwd -b`); anonymous access is then off. */
  users?: Record<string, string>;
  /** Default: true unless `users` or a TLS client certificate requirement is given. */
  allowAnonymous?: boolean;
  /** Text of an acl_file. */
  acl?: string;
  /** Make the TCP listener a TLS listener with these files. */
  tls?: MosquittoTlsFiles;
  /** Also listen on a Unix socket `<dir>/mosquitto.sock` (use `mqtt+unix://<socketPath>`). */
  unixSocket?: boolean;
  /** Extra config lines appended as they are. */
  extraConfig?: string[];
  /** A fixed port (default: a free loopback port). */
  port?: number;
  /** How long to wait for the broker to accept connections (default 5000 ms). */
  readyTimeoutMs?: number;
}

export interface MosquittoHandle {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>` (or `mqtts://` with tls). */
  readonly url: string;
  /** PID of the broker process running now (changes after restart). */
  readonly pid: number;
  /** Temp dir holding the config and other files (removed by stop()). */
  readonly dir: string;
  /** Path of the Unix socket when `unixSocket` was asked for. */
  readonly socketPath: string | undefined;
  /** What the broker wrote on stderr (log_dest stderr), last 64 KiB. */
  logs(): string;
  /** SIGTERM (SIGKILL after 2 s), then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop the running process (SIGTERM) if any, then start again on the SAME port. */
  restart(): Promise<void>;
  /** SIGKILL, no clean shutdown; the dir stays (restart() works afterwards). */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that dies before stop() must not leave brokers behind; only the PIDs we started.
  process.on('exit', () => {
    for (const child of live) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  });
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

/** uid/gid of the `mosquitto` user when we are root (the broker drops to it), else undefined. */
function mosquittoOwner(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mosquitto:'));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

function canConnect(opts: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(opts);
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(500, () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Start a throwaway Mosquitto on a free loopback port with its own config in a temp dir.
 * Stops by PID only. Needs `mosquitto` (and `mosquitto_passwd` for users) on PATH.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  installExitHook();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'anchiale-mosq-'));
  const owner = mosquittoOwner();
  const confPath = path.join(dir, 'mosquitto.conf');
  const socketPath = opts.unixSocket ? path.join(dir, 'mosquitto.sock') : undefined;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 5000;

  const files: string[] = [];
  const lines: string[] = [];
  const tlsLines: string[] = [];
  if (opts.tls) {
    for (const [key, src] of [
      ['cafile', opts.tls.caFile],
      ['certfile', opts.tls.certFile],
      ['keyfile', opts.tls.keyFile],
    ] as const) {
      const dest = path.join(dir, `${key}.pem`);
      await fs.copyFile(src, dest);
      files.push(dest);
      tlsLines.push(`${key} ${dest}`);
    }
    if (opts.tls.requireCertificate) tlsLines.push('require_certificate true');
    if (opts.tls.useIdentityAsUsername) tlsLines.push('use_identity_as_username true');
  }
  const allowAnonymous = opts.allowAnonymous ?? !(opts.users || opts.tls?.requireCertificate);
  lines.push('persistence false', 'log_dest stderr', 'log_type all', `allow_anonymous ${allowAnonymous}`);
  if (opts.users) {
    const pwFile = path.join(dir, 'passwd');
    let first = true;
    for (const [user, pw] of Object.entries(opts.users)) {
      await execFileAsync('mosquitto_passwd', [...(first ? ['-c'] : []), '-b', pwFile, user, pw]);
      first = false;
    }
    files.push(pwFile);
    lines.push(`password_file ${pwFile}`);
  }
  if (opts.acl !== undefined) {
    const aclFile = path.join(dir, 'acl');
    await fs.writeFile(aclFile, opts.acl);
    files.push(aclFile);
    lines.push(`acl_file ${aclFile}`);
  }
  lines.push(...(opts.extraConfig ?? []));

  // Started as root, mosquitto drops to user `mosquitto`: it must read its files and (for the
  // Unix socket) write in the dir.
  await fs.chmod(dir, 0o755);
  for (const f of files) await fs.chmod(f, 0o644);
  if (owner) await fs.chown(dir, owner.uid, owner.gid);

  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let stderr = '';
  let removed = false;

  const writeConfig = async () => {
    const listener = [`listener ${port} 127.0.0.1`, ...tlsLines];
    const unix = socketPath ? [`listener 0 ${socketPath}`] : [];
    await fs.writeFile(confPath, [...lines, ...listener, ...unix, ''].join('\n'));
    await fs.chmod(confPath, 0o644);
  };

  const spawnOnce = async (): Promise<void> => {
    if (socketPath) await fs.rm(socketPath, { force: true });
    const c = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    live.add(c);
    c.on('exit', () => live.delete(c));
    c.on('error', (err) => {
      stderr += `\nspawn error: ${err.message}`;
    });
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-65536);
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`mosquitto exited (${c.exitCode ?? c.signalCode}) on port ${port}:\n${stderr}`);
      }
      const tcpOk = await canConnect({ host: '127.0.0.1', port });
      const unixOk = socketPath ? await canConnect({ path: socketPath }) : true;
      if (tcpOk && unixOk) return;
      if (Date.now() > deadline) {
        await terminate('SIGKILL');
        throw new Error(`mosquitto did not accept connections on port ${port} within ${readyTimeoutMs} ms:\n${stderr}`);
      }
      await sleep(30);
    }
  };

  const terminate = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const c = child;
    if (!c || c.pid === undefined) return;
    if (c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    if (!(await waitExit(c, 2000))) {
      c.kill('SIGKILL');
      await waitExit(c, 2000);
    }
  };

  // The chosen port may be taken between freePort() and bind: try a few ports (not on restart).
  for (let tries = 0; ; tries++) {
    await writeConfig();
    try {
      await spawnOnce();
      break;
    } catch (err) {
      if (opts.port !== undefined || tries >= 2 || !/Address already in use/i.test(stderr)) {
        await fs.rm(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
      stderr = '';
    }
  }

  const scheme = opts.tls ? 'mqtts' : 'mqtt';
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    socketPath,
    logs: () => stderr,
    async stop() {
      await terminate('SIGTERM');
      if (!removed) {
        removed = true;
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
    async restart() {
      if (removed) throw new Error('mosquitto: restart() after stop()');
      await terminate('SIGTERM');
      await spawnOnce();
    },
    async kill() {
      await terminate('SIGKILL');
    },
  };
}
