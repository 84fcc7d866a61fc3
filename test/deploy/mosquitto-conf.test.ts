/**
 * The shipped deploy/mosquitto/mosquitto.conf, started for real: only the ports (free loopback
 * ports), the file paths (a temp dir) and the log destination are rewritten. Checks the two
 * listeners with their per-listener settings, TLS with client certificates (and the
 * use_identity_as_username variant), and that retained messages survive a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions } from 'mqtt';
import { freePort } from '../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';

const execFileAsync = promisify(execFile);
const deployDir = fileURLToPath(new URL('../../deploy/mosquitto/', import.meta.url));
const SHIPPED_CONF = readFileSync(path.join(deployDir, 'mosquitto.conf'), 'utf8');
const PW = 'pw-for-tests';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
});

function mosquittoOwner(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('mosquitto:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const openssl = (args: string[], cwd: string) => execFileAsync('openssl', args, { cwd });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

async function makeCert(dir: string, ca: string, name: string, cn: string, ext?: string): Promise<void> {
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  const extArgs: string[] = [];
  if (ext) {
    await fs.writeFile(path.join(dir, `${name}.ext`), `${ext}\n`);
    extArgs.push('-extfile', `${name}.ext`);
  }
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...extArgs], dir);
}

/** The shipped config with ports, paths and logging made local; `identity` enables the TLS variant. */
function localConf(dir: string, plainPort: number, tlsPort: number, identity: boolean): string {
  let text = SHIPPED_CONF.replaceAll('/etc/mosquitto/anchiale/', `${dir}/`)
    .replace('persistence_location /var/lib/mosquitto/', `persistence_location ${dir}/data/`)
    .replace(/^pid_file .*$/m, `pid_file ${dir}/data/mosquitto.pid`)
    .replace(/^log_dest .*$/m, 'log_dest stderr')
    .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${plainPort} 127.0.0.1`)
    .replace(/^listener 8883$/m, `listener ${tlsPort} 127.0.0.1`);
  if (identity) text = text.replace(/^#use_identity_as_username true$/m, 'use_identity_as_username true');
  return text;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

interface Broker {
  plainUrl: string;
  tlsUrl: string;
  logs(): string;
  stop(): Promise<void>;
}

async function startBroker(dir: string, identity: boolean): Promise<Broker> {
  const plainPort = await freePort();
  const tlsPort = await freePort();
  const confPath = path.join(dir, identity ? 'identity.conf' : 'mosquitto.conf');
  await fs.writeFile(confPath, localConf(dir, plainPort, tlsPort, identity));
  await fs.chmod(confPath, 0o644);
  const child = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-65536);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    live.delete(child);
  };
  const deadline = Date.now() + 5000;
  while (!((await canConnect(plainPort)) && (await canConnect(tlsPort)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`mosquitto with the shipped config did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return { plainUrl: `mqtt://127.0.0.1:${plainPort}`, tlsUrl: `mqtts://127.0.0.1:${tlsPort}`, logs: () => stderr, stop };
}

describe('deploy/mosquitto/mosquitto.conf', () => {
  let dir: string;
  const probes: Probe[] = [];
  const tls = (name: string, ca = 'ca'): IClientOptions => ({
    ca: readFileSync(path.join(dir, `${ca}.crt`)),
    cert: readFileSync(path.join(dir, `${name}.crt`)),
    key: readFileSync(path.join(dir, `${name}.key`)),
    rejectUnauthorized: true,
  });
  const probe = async (url: string, opts: IClientOptions): Promise<Probe> => {
    const p = await connectProbe(url, { reconnectPeriod: 0, ...opts });
    probes.push(p);
    return p;
  };
  const endProbes = async () => {
    for (const p of probes.splice(0)) await p.end().catch(() => {});
  };
  const refusedConnect = (url: string, opts: IClientOptions) =>
    mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000, ...opts }, false);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'anchiale-site-broker-'));
    await makeCa(dir, 'ca');
    await makeCa(dir, 'rogue-ca');
    await makeCert(dir, 'ca', 'server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
    await makeCert(dir, 'ca', 'h1', 'h1');
    await makeCert(dir, 'rogue-ca', 'rogue-h1', 'h1');
    await execFileAsync('mosquitto_passwd', ['-c', '-b', path.join(dir, 'passwd'), 'h1', PW]);
    await execFileAsync('mosquitto_passwd', ['-b', path.join(dir, 'passwd'), 'operator', PW]);
    await fs.copyFile(path.join(deployDir, 'acl'), path.join(dir, 'acl'));
    await fs.mkdir(path.join(dir, 'data'));
    // Started as root, mosquitto drops to user `mosquitto`: it must read its files and write its data dir.
    for (const f of await fs.readdir(dir)) await fs.chmod(path.join(dir, f), f === 'data' ? 0o755 : 0o644);
    await fs.chmod(dir, 0o755);
    const owner = mosquittoOwner();
    if (owner) await fs.chown(path.join(dir, 'data'), owner.uid, owner.gid);
  });

  after(async () => {
    await endProbes();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  describe('as shipped (TLS client certificate + password)', () => {
    let broker: Broker;
    before(async () => {
      broker = await startBroker(dir, false);
    });
    after(async () => {
      await endProbes();
      await broker?.stop();
    });

    it('a heater on the TLS listener publishes its state; an operator on the loopback listener reads it', async () => {
      const op = await probe(broker.plainUrl, { username: 'operator', password: PW });
      await op.subscribe('anchiale/v1/+/state');
      const h1 = await probe(broker.tlsUrl, { username: 'h1', password: PW, ...tls('h1') });
      await h1.publish('anchiale/v1/h1/state', '{"phase":"heating"}');
      assert.equal((await op.next('anchiale/v1/h1/state')).text, '{"phase":"heating"}');
      await assert.rejects(h1.publish('anchiale/v1/h2/state', '{}'), (err: { code?: number }) => err.code === 0x87);
    });

    it('a heater with a password on the loopback listener is served too', async () => {
      const h1 = await probe(broker.plainUrl, { username: 'h1', password: PW });
      await h1.publish('anchiale/v1/h1/status', 'online');
    });

    const refused: Array<[string, () => IClientOptions, (err: unknown) => boolean]> = [
      ['no client certificate', () => ({ username: 'h1', password: PW, ca: tls('h1').ca }), () => true],
      ['a certificate from another CA', () => ({ username: 'h1', password: PW, ...tls('rogue-h1'), ca: tls('h1').ca }), () => true],
      ['a good certificate but no password', () => ({ username: 'h1', ...tls('h1') }), (err) => (err as { code?: number }).code === 135],
      ['a good certificate and a wrong password', () => ({ username: 'h1', password: 'nope', ...tls('h1') }), (err) => (err as { code?: number }).code === 135],
    ];
    for (const [name, opts, check] of refused) {
      it(`TLS listener refuses ${name}`, async () => {
        await assert.rejects(refusedConnect(broker.tlsUrl, opts()), check);
      });
    }

    it('the loopback listener refuses anonymous clients (CONNACK 135)', async () => {
      await assert.rejects(refusedConnect(broker.plainUrl, {}), (err: { code?: number }) => err.code === 135);
    });

    it('keeps retained messages across a restart (persistence)', async () => {
      const h1 = await probe(broker.plainUrl, { username: 'h1', password: PW });
      await h1.publish('anchiale/v1/h1/info', '{"node_id":"h1"}', { retain: true });
      await endProbes();
      await broker.stop();
      broker = await startBroker(dir, false);
      const op = await probe(broker.plainUrl, { username: 'operator', password: PW });
      await op.subscribe('anchiale/v1/h1/info');
      const m = await op.next('anchiale/v1/h1/info');
      assert.equal(m.text, '{"node_id":"h1"}');
      assert.equal(m.retain, true);
    });
  });

  describe('TLS variant: use_identity_as_username (certificate CN = node id)', () => {
    let broker: Broker;
    before(async () => {
      broker = await startBroker(dir, true);
    });
    after(async () => {
      await endProbes();
      await broker?.stop();
    });

    it('the CN is the user name: no password needed, a claimed user name is ignored', async () => {
      const op = await probe(broker.plainUrl, { username: 'operator', password: PW });
      await op.subscribe('anchiale/v1/+/state');
      const h1 = await probe(broker.tlsUrl, { username: 'h2', ...tls('h1') });
      await h1.publish('anchiale/v1/h1/state', '{"cn":"h1"}');
      assert.equal((await op.next('anchiale/v1/h1/state')).text, '{"cn":"h1"}');
      await assert.rejects(h1.publish('anchiale/v1/h2/state', '{}'), (err: { code?: number }) => err.code === 0x87);
    });

    it('still refuses a certificate from another CA', async () => {
      await assert.rejects(refusedConnect(broker.tlsUrl, { ...tls('rogue-h1'), ca: tls('h1').ca }));
    });
  });
});
