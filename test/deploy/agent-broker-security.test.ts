/**
 * The agent against a secured Mosquitto, for real: password authentication with the site ACL
 * (deploy/mosquitto/acl), and a TLS listener that requires client certificates (CN = node id,
 * generated with openssl here). The agent is built from a config file through the real loader
 * (password_file, ANCHIALE_MQTT__PASSWORD, $CREDENTIALS_DIRECTORY; tls ca/cert/key files).
 * Checks: each way of logging in works; a heater cannot act as another; an unauthenticated client
 * gets nothing; a refused login is reported (start() error, log, status, metrics, event once back)
 * and retried with backoff, not hammered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions } from 'mqtt';
import { loadConfig } from '../../agent/config/load.js';
import { buildAgent } from '../../agent/main.js';
import { silentLogger, type Logger } from '../../agent/log.js';
import { MqttBus } from '../../agent/adapters/mqtt/mqtt-bus.js';
import { agentServices } from '../../agent/runtime/agent-services.js';
import type { AgentRuntime } from '../../agent/runtime/agent-runtime.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { connectProbe, type Probe } from '../helpers/mqtt-probe.js';
import { waitFor } from '../helpers/wait.js';
import { captureLogger } from '../helpers/capture-logger.js';

const execFileAsync = promisify(execFile);
const ACL = readFileSync(fileURLToPath(new URL('../../deploy/mosquitto/acl', import.meta.url)), 'utf8');
const PW = { h1: 'h1-secret', h2: 'h2-secret', operator: 'op-secret', homeassistant: 'ha-secret' };
const NOT_AUTHORIZED = 0x87;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const reasonCode = (err: unknown): unknown => (typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined);

/** CA, broker certificate for 127.0.0.1, client certificates (CN = node id or user), and a rogue CA's h1. */
async function makePki(dir: string) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ssl = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  for (const ca of ['ca', 'rogue-ca']) await ssl(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`]);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const issue = async (name: string, cn: string, ca: string, ext: string[] = []) => {
    await ssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    await ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', ...ext]);
  };
  await issue('server', '127.0.0.1', 'ca', ['-extfile', 'server.ext']);
  for (const cn of ['h1', 'operator', 'homeassistant']) await issue(cn, cn, 'ca');
  await issue('rogue-h1', 'h1', 'rogue-ca');
  const p = (f: string) => join(dir, f);
  return { ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), cert: (n: string) => p(`${n}.crt`), key: (n: string) => p(`${n}.key`) };
}

describe('the agent on a secured Mosquitto (site ACL, passwords, client certificates)', () => {
  let dir: string;
  let pki: Awaited<ReturnType<typeof makePki>>;
  let pwBroker: MosquittoHandle;
  let tlsBroker: MosquittoHandle;
  const cleanups: Array<() => Promise<unknown>> = [];
  let seq = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchiale-sec-'));
    pki = await makePki(dir);
    pwBroker = await startMosquitto({ users: PW, acl: ACL });
    tlsBroker = await startMosquitto({
      acl: ACL,
      tls: { caFile: pki.ca, certFile: pki.serverCert, keyFile: pki.serverKey, requireCertificate: true, useIdentityAsUsername: true },
    });
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await pwBroker?.stop();
    await tlsBroker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const probe = async (url: string, opts: IClientOptions): Promise<Probe> => {
    const p = await connectProbe(url, { reconnectPeriod: 0, ...opts });
    cleanups.push(() => p.end());
    return p;
  };
  const tlsOpts = (name: string): IClientOptions => ({ ca: readFileSync(pki.ca), cert: readFileSync(pki.cert(name)), key: readFileSync(pki.key(name)) });

  /** Writes a config file (JSON is YAML) for node `id` in its own dir and loads it like `anchiale run`. */
  async function agentConfig(id: string, mqttSection: Record<string, unknown>, env: Record<string, string> = {}, files: Record<string, string> = {}) {
    const cdir = join(dir, `agent-${++seq}`);
    await mkdir(cdir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(cdir, name), text, { mode: 0o600 });
    const doc = {
      version: 1,
      node: { id },
      mqtt: { base_topic: 'anchiale/v1', reconnect: { min_s: 0.05, max_s: 2 }, ...mqttSection },
      inputs: { room_temperature: { preset: 'z2m', device: `room-${id}` } },
      heater: { backend: 'sim', sim: { load_s: 0.1 } },
      jobs: { enabled: false },
      state: { dir: join(cdir, 'state') },
      log: { level: 'silent' },
    };
    const path = join(cdir, 'agent.yaml');
    await writeFile(path, JSON.stringify(doc));
    return { config: await loadConfig({ path, env, requireMqttUrl: true }), cdir };
  }

  async function runAgent(config: Awaited<ReturnType<typeof agentConfig>>['config'], log: Logger = silentLogger()): Promise<AgentRuntime> {
    const agent = buildAgent(config, log, { tickS: 0.2 });
    cleanups.push(() => agent.stop());
    await agent.start();
    return agent;
  }

  it('logs in with a password from password_file, from ANCHIALE_MQTT__PASSWORD and from $CREDENTIALS_DIRECTORY (LoadCredential)', async () => {
    const operator = await probe(pwBroker.url, { username: 'operator', password: PW.operator });
    await operator.subscribe('anchiale/v1/h1/status');
    const creds = join(dir, 'credentials');
    await mkdir(creds, { recursive: true });
    await writeFile(join(creds, 'mqtt-password'), `${PW.h1}\n`, { mode: 0o600 });

    const variants: Array<[string, () => ReturnType<typeof agentConfig>]> = [
      ['password_file next to the config', () => agentConfig('h1', { url: pwBroker.url, username: 'h1', password_file: 'mqtt-password' }, {}, { 'mqtt-password': `${PW.h1}\n` })],
      ['ANCHIALE_MQTT__PASSWORD', () => agentConfig('h1', { url: pwBroker.url, username: 'h1' }, { ANCHIALE_MQTT__PASSWORD: PW.h1 })],
      ['$CREDENTIALS_DIRECTORY', () => agentConfig('h1', { url: pwBroker.url, username: 'h1', password_file: 'mqtt-password' }, { CREDENTIALS_DIRECTORY: creds })],
    ];
    for (const [what, make] of variants) {
      const { config } = await make();
      assert.equal(config.mqtt.password, PW.h1, what);
      if (what === '$CREDENTIALS_DIRECTORY') assert.equal(config.mqtt.password_file, join(creds, 'mqtt-password'));
      const agent = await runAgent(config);
      await agent.whenConnected();
      await operator.next('anchiale/v1/h1/status', (m) => m.text === 'online');
      await agent.stop();
      await operator.next('anchiale/v1/h1/status', (m) => m.text === 'offline');
    }
  });

  it('under the site ACL the heater publishes its state and its Home Assistant device, and hears Home Assistant\'s birth', async () => {
    const operator = await probe(pwBroker.url, { username: 'operator', password: PW.operator });
    const ha = await probe(pwBroker.url, { username: 'homeassistant', password: PW.homeassistant });
    await operator.subscribe('anchiale/v1/h1/state');
    await ha.subscribe('homeassistant/device/#');
    const { config } = await agentConfig('h1', { url: pwBroker.url, username: 'h1' }, { ANCHIALE_MQTT__PASSWORD: PW.h1 });
    const agent = await runAgent(config);
    await agent.whenConnected();
    await operator.next('anchiale/v1/h1/state');
    const doc = JSON.parse((await ha.next('homeassistant/device/anchiale_h1/config')).text) as { cmps: Record<string, unknown> };
    assert.ok(doc.cmps['climate']);
    await ha.publish('homeassistant/status', 'online');
    await ha.next('homeassistant/device/anchiale_h1/config', (m) => !m.retain && m.text.length > 0);
    // Home Assistant drives the heater through the set topics it was given.
    await ha.publish('anchiale/v1/h1/set/mode', 'off');
    await waitFor(() => agent.operatorState.mode === 'off', { what: 'mode off from Home Assistant' });
    await agent.stop();
    await ha.publish('homeassistant/device/anchiale_h1/config', '', { retain: true });
  });

  it('a heater cannot act as another: publishing its topics is refused (PUBACK 0x87), its requests and sets are not delivered', async () => {
    const h1 = await probe(pwBroker.url, { username: 'h1', password: PW.h1 });
    const h2 = await probe(pwBroker.url, { username: 'h2', password: PW.h2 });
    const operator = await probe(pwBroker.url, { username: 'operator', password: PW.operator });
    const ha = await probe(pwBroker.url, { username: 'homeassistant', password: PW.homeassistant });
    await operator.subscribe('anchiale/v1/#');
    await ha.subscribe('homeassistant/#');
    await h2.subscribe('anchiale/v1/h2/#');
    for (const topic of ['anchiale/v1/h2/state', 'anchiale/v1/h2/status', 'anchiale/v1/h2/event', 'anchiale/v1/h2/set/mode', 'anchiale/v1/h2/request/status', 'homeassistant/device/anchiale_h2/config', 'anchiale/v1/h1/set/mode']) {
      await assert.rejects(h1.publish(topic, 'forged'), (err: unknown) => {
        assert.equal(reasonCode(err), NOT_AUTHORIZED, topic);
        return true;
      });
    }
    // h1 reads nothing addressed to h2, even subscribed to it.
    await h1.subscribe('anchiale/v1/h2/#');
    await h1.subscribe('anchiale/v1/h1/#');
    await operator.publish('anchiale/v1/h2/request/status', '{"transaction":1}');
    await operator.publish('anchiale/v1/h2/set/mode', 'heat');
    await h2.next('anchiale/v1/h2/request/status');
    await h2.next('anchiale/v1/h2/set/mode');
    await operator.publish('anchiale/v1/h1/request/status', 'marker');
    await h1.next('anchiale/v1/h1/request/status', (m) => m.text === 'marker');
    assert.deepEqual(h1.received('anchiale/v1/h2/#').map((m) => m.topic), []);

    // An agent configured as h2 but logged in as h1: nothing it sends reaches h2's topics.
    await h2.publish('anchiale/v1/h2/event', 'before');
    await operator.next('anchiale/v1/h2/event', (m) => m.text === 'before');
    const { config } = await agentConfig('h2', { url: pwBroker.url, username: 'h1' }, { ANCHIALE_MQTT__PASSWORD: PW.h1 });
    const impostor = await runAgent(config);
    await impostor.whenConnected();
    await sleep(500);
    await impostor.stop();
    await h2.publish('anchiale/v1/h2/event', 'after');
    await operator.next('anchiale/v1/h2/event', (m) => m.text === 'after');
    const forged = operator.received('anchiale/v1/h2/#').filter((m) => !['before', 'after'].includes(m.text) && !m.topic.includes('/request/') && !m.topic.includes('/set/'));
    assert.deepEqual(forged.map((m) => m.topic), [], 'no status, state, info or event of the impostor');
    assert.deepEqual(ha.received('homeassistant/device/anchiale_h2/config'), []);
  });

  it('an unauthenticated client gets nothing: anonymous and wrong passwords are refused at CONNACK, no certificate or a foreign one fails the TLS handshake', async () => {
    const refusedLogins: Array<[string, IClientOptions, number[]]> = [
      ['anonymous', {}, [135]],
      ['wrong password', { username: 'h1', password: 'nope' }, [134, 135]],
      ['unknown user', { username: 'mallory', password: 'x' }, [134, 135]],
    ];
    for (const [what, opts, codes] of refusedLogins) {
      await assert.rejects(mqtt.connectAsync(pwBroker.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000, ...opts }), (err: unknown) => {
        assert.ok(codes.includes(reasonCode(err) as number), `${what}: CONNACK ${String(reasonCode(err))}`);
        return true;
      });
    }
    const badTls: Array<[string, IClientOptions]> = [
      ['no client certificate', { ca: readFileSync(pki.ca) }],
      ['certificate of another CA', { ca: readFileSync(pki.ca), cert: readFileSync(pki.cert('rogue-h1')), key: readFileSync(pki.key('rogue-h1')) }],
    ];
    for (const [what, opts] of badTls) {
      const client = mqtt.connect(tlsBroker.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 3000, ...opts });
      let got = 0;
      client.on('message', () => got++);
      const outcome = await new Promise<string>((resolve) => {
        client.once('connect', () => resolve('connected'));
        client.once('error', (e) => resolve(`error: ${e.message}`));
        client.once('close', () => resolve('closed'));
      });
      client.end(true);
      assert.notEqual(outcome, 'connected', what);
      assert.equal(got, 0, what);
    }
  });

  it('TLS with client certificates: the agent logs in as its certificate\'s CN, and that CN is all it can be', async () => {
    const operator = await probe(tlsBroker.url, tlsOpts('operator'));
    const ha = await probe(tlsBroker.url, tlsOpts('homeassistant'));
    await operator.subscribe('anchiale/v1/#');
    await ha.subscribe('homeassistant/device/#');
    const tls = { ca_file: pki.ca, cert_file: pki.cert('h1'), key_file: pki.key('h1') };
    const { config } = await agentConfig('h1', { url: tlsBroker.url, tls });
    assert.equal(config.mqtt.username, null, 'no user name, no password: the certificate is the identity');
    const agent = await runAgent(config);
    await agent.whenConnected();
    await operator.next('anchiale/v1/h1/status', (m) => m.text === 'online');
    await operator.next('anchiale/v1/h1/state');
    await ha.next('homeassistant/device/anchiale_h1/config', (m) => m.text.length > 0);
    await agent.stop();
    await ha.publish('homeassistant/device/anchiale_h1/config', '', { retain: true });

    // The same certificate configured as h2: refused on every h2 topic.
    const { config: as2 } = await agentConfig('h2', { url: tlsBroker.url, tls });
    const impostor = await runAgent(as2);
    await impostor.whenConnected();
    await sleep(500);
    await impostor.stop();
    const marker = `m-${Date.now()}`;
    const h1 = await probe(tlsBroker.url, tlsOpts('h1'));
    await h1.publish('anchiale/v1/h1/event', marker);
    await operator.next('anchiale/v1/h1/event', (m) => m.text === marker);
    assert.deepEqual(operator.received('anchiale/v1/h2/#').map((m) => m.topic), []);
    await h1.publish('anchiale/v1/h1/status', '', { retain: true });
    await h1.publish('anchiale/v1/h1/state', '', { retain: true });
    await h1.publish('anchiale/v1/h1/info', '', { retain: true });
  });

  it('a refused login: start() fails with mqtt_auth_refused; the daemon logs it once, shows it in status and metrics, backs off, and reports it once back', async () => {
    const { config } = await agentConfig('late', { url: pwBroker.url, username: 'late' }, { ANCHIALE_MQTT__PASSWORD: 'late-pw' });
    // The bus alone, waiting for its first connection (what `start()` callers get).
    const m = config.mqtt;
    const bus = new MqttBus(
      { url: m.url ?? '', clientId: 'anchiale-late-probe', statusTopic: 'anchiale/v1/late/status', username: m.username, password: m.password, reconnect: { minS: 0.05, maxS: 2 } },
      silentLogger(),
      Math.random,
    );
    await assert.rejects(bus.start(), { code: 'mqtt_auth_refused' });
    await bus.stop();

    // The daemon keeps trying, slowly.
    const operator = await probe(pwBroker.url, { username: 'operator', password: PW.operator });
    await operator.subscribe('anchiale/v1/late/event');
    const { log, lines } = captureLogger();
    const agent = await runAgent(config, log);
    const services = agentServices(agent);
    assert.ok(services);
    await sleep(3000);
    const stats = agent.busStats();
    assert.ok(stats && stats.attempts >= 2 && stats.attempts <= 4, `${stats?.attempts} attempts in 3 s (no backoff from 50 ms would make > 10)`);
    assert.equal(stats.connects, 0);
    const health = services.health.status();
    assert.ok(health.authRefusals >= 2, `${health.authRefusals} refusals seen`);
    assert.match(services.health.statusText() ?? '', /^MQTT login refused \((not authorized|bad user name or password), CONNACK 13[45]\)/);
    const once = lines.filter((l) => l.level === 'error' && l.component === 'mqtt-health');
    assert.equal(once.length, 1, 'one error line per streak');
    assert.match(once[0]?.msg ?? '', /refuses our login/);
    assert.ok(!JSON.stringify(lines).includes('late-pw'), 'the password never reaches the log');
    const metrics = services.metrics.render();
    assert.match(metrics, /^anchiale_mqtt_login_refused 1$/m);
    assert.match(metrics, /^anchiale_mqtt_connected 0$/m);

    // The site adds the user: the next attempt (≤ max_s) logs in and the streak becomes an event.
    await execFileAsync('mosquitto_passwd', ['-b', join(pwBroker.dir, 'passwd'), 'late', 'late-pw']);
    await chmod(join(pwBroker.dir, 'passwd'), 0o644);
    process.kill(pwBroker.pid, 'SIGHUP');
    await waitFor(() => agent.busStats()?.connects === 1, { timeoutMs: 5000, what: 'login accepted after the broker reload' });
    const event = JSON.parse((await operator.next('anchiale/v1/late/event', (e) => e.text.includes('mqtt_auth_refused'))).text) as Record<string, unknown>;
    assert.equal(event['type'], 'mqtt_auth_refused');
    assert.ok((event['refusals'] as number) >= 2);
    assert.equal(event['username'], 'late');
    assert.equal(services.health.statusText(), null);
    assert.match(services.metrics.render(), /^anchiale_mqtt_login_refused 0$/m);
    await agent.stop();
    const retained = await probe(pwBroker.url, { username: 'late', password: 'late-pw' });
    for (const t of ['status', 'state', 'info']) await retained.publish(`anchiale/v1/late/${t}`, '', { retain: true });
  });
});
