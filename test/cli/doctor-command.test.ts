import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { defaultDoctorContext, runDoctor } from '../../agent/cli/doctor-command.js';
import { writeTinyLlamaGguf } from '../../agent/adapters/llm/gguf-writer.js';
import type { CheckResult, CheckStatus, DoctorContext } from '../../agent/ops/doctor-checks.js';
import { CARDS, FakeNvidiaSmi, type FakeCardSettings } from '../fakes/fake-nvidia-smi.js';
import { freePort, startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { connectProbe } from '../helpers/mqtt-probe.js';
import { uniqueBase } from '../runtime/agent-harness.js';

const BROKER = 'mqtt://127.0.0.1:1883';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'anchiale-doctor-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  out: string;
  checks: CheckResult[];
  status: (name: string) => CheckStatus | undefined;
  line: (name: string) => CheckResult;
}

/** A config file in its own directory (state and models dirs made), merged over a sim-heater base. */
async function writeConfig(over: Record<string, unknown> = {}, extra: { password?: string } = {}): Promise<{ file: string; base: string; home: string }> {
  const home = path.join(dir, `case-${++n}`);
  await mkdir(path.join(home, 'state'), { recursive: true });
  await mkdir(path.join(home, 'models'), { recursive: true });
  const base = uniqueBase();
  const doc = merge(
    {
      version: 1,
      node: { id: 'h1' },
      mqtt: { url: BROKER, base_topic: base, discovery: { enabled: false } },
      inputs: { room_temperature: { preset: 'z2m', device: 'room' } },
      heater: { backend: 'sim' },
      jobs: { enabled: false },
      state: { dir: path.join(home, 'state') },
      llm: { models_dir: path.join(home, 'models') },
    },
    over,
  );
  if (extra.password !== undefined) {
    await writeFile(path.join(home, 'mqtt_password'), `${extra.password}\n`);
    (doc.mqtt as Record<string, unknown>).password_file = path.join(home, 'mqtt_password');
  }
  const file = path.join(home, 'agent.yaml');
  await writeFile(file, YAML.stringify(doc));
  return { file, base, home };
}

async function doctor(file: string, ctx: Partial<DoctorContext> = {}, json = false): Promise<Run> {
  let out = '';
  const env = { ...process.env, ...(ctx.env ?? {}) };
  delete env.ANCHIALE_MQTT_PASSWORD;
  const code = await runDoctor(
    { json },
    { ...defaultDoctorContext(file, env), hostname: 'doctor-host', detectLlamaBackend: async () => ({ backend: 'cpu' }), brokerTimeoutMs: 2000, ...ctx, env },
    { stdout: (t) => (out += t), stderr: (t) => (out += t) },
  );
  const checks: CheckResult[] = json ? (JSON.parse(out) as { checks: CheckResult[] }).checks : parseTable(out);
  const find = (name: string) => checks.find((c) => c.name === name);
  return {
    code,
    out,
    checks,
    status: (name) => find(name)?.status,
    line: (name) => {
      const c = find(name);
      assert.ok(c, `no line ${name} in:\n${out}`);
      return c;
    },
  };
}

/** Reads the printed table back: `STATUS  name  detail` and `→ hint` lines. */
function parseTable(out: string): CheckResult[] {
  const checks: CheckResult[] = [];
  for (const l of out.split('\n')) {
    const m = /^(PASS|WARN|FAIL) {2}(\S+)\s+(.*)$/.exec(l);
    if (m) checks.push({ name: m[2]!, status: m[1]!.toLowerCase() as CheckStatus, detail: m[3]!, hint: null });
    const h = /^\s+→ (.*)$/.exec(l);
    if (h && checks.length > 0) checks[checks.length - 1]!.hint = h[1]!;
  }
  return checks;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? merge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const ORDER = ['node', 'config', 'broker', 'broker_auth', 'broker_topics', 'node_id', 'gpu', 'driver', 'power_management', 'power_limits', 'persistence_mode', 'llm_backend', 'model', 'directories', 'power_limit_helper', 'clock_sync'];

describe('anchiale doctor', () => {
  it('a good set-up (sim heater, the site broker): every line, no failure, exit 0 — with the real node-llama-cpp probe', async () => {
    const { file } = await writeConfig();
    const r = await doctor(file, { detectLlamaBackend: defaultDoctorContext(file).detectLlamaBackend });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.checks.map((c) => c.name), ORDER);
    for (const name of ['config', 'broker', 'broker_auth', 'broker_topics', 'node_id', 'gpu', 'power_management', 'llm_backend', 'model', 'directories', 'power_limit_helper']) {
      assert.equal(r.status(name), 'pass', `${name}: ${r.line(name).detail}`);
    }
    assert.match(r.line('broker_auth').detail, /anonymous/);
    assert.match(r.line('llm_backend').detail, /node-llama-cpp would use (cpu|vulkan|cuda)/);
    assert.ok(['pass', 'warn'].includes(r.status('clock_sync')!));
    assert.match(r.out, /\d+ passed, \d+ warnings?, 0 failed/);
  });

  it('--json: the same checks as data, ok true', async () => {
    const { file } = await writeConfig();
    const r = await doctor(file, {}, true);
    const doc = JSON.parse(r.out) as { ok: boolean; summary: { fail: number }; checks: CheckResult[] };
    assert.equal(doc.ok, true);
    assert.equal(doc.summary.fail, 0);
    for (const c of doc.checks) assert.deepEqual(Object.keys(c).sort(), ['detail', 'hint', 'name', 'status']);
  });

  it('a bad config: config fails with its issues and a hint, what needs it is skipped, exit 1', async () => {
    const home = path.join(dir, 'bad');
    await mkdir(home, { recursive: true });
    const file = path.join(home, 'agent.yaml');
    await writeFile(file, 'version: 1\nthermostat: {min_on_s: -5}\nheater: {backend: gas}\n');
    const r = await doctor(file);
    assert.equal(r.code, 1);
    const c = r.line('config');
    assert.equal(c.status, 'fail');
    assert.match(c.detail, /heater\.backend/);
    assert.match(c.hint ?? '', /anchiale config check --config/);
    assert.match(r.line('broker').detail, /not checked: configuration invalid/);
    assert.equal(r.status('broker'), 'warn');
  });

  it('an unreachable broker: broker fails with a hint, the rest of MQTT is skipped, exit 1', async () => {
    const port = await freePort();
    const { file } = await writeConfig({ mqtt: { url: `mqtt://127.0.0.1:${port}` } });
    const r = await doctor(file);
    assert.equal(r.code, 1);
    assert.equal(r.status('broker'), 'fail');
    assert.match(r.line('broker').detail, /unreachable: .*ECONNREFUSED/);
    assert.match(r.line('broker').hint ?? '', /broker running/);
    assert.equal(r.status('broker_auth'), 'warn');
    assert.equal(r.status('gpu'), 'pass', 'the other checks still run');
  });

  it('another heater online with the same node id → node_id fails; the agent of this host is fine', async () => {
    const { file, base } = await writeConfig();
    const probe = await connectProbe(BROKER);
    try {
      await probe.publish(`${base}/h1/status`, 'online', { retain: true });
      await probe.publish(`${base}/h1/info`, JSON.stringify({ node_id: 'h1', hostname: 'heater-204b', instance_id: 'c0ffee' }), { retain: true });
      const r = await doctor(file);
      assert.equal(r.code, 1);
      assert.equal(r.status('node_id'), 'fail');
      assert.match(r.line('node_id').detail, /another heater is online with node id h1 \(host heater-204b, instance c0ffee\)/);
      await probe.publish(`${base}/h1/info`, JSON.stringify({ node_id: 'h1', hostname: 'doctor-host', instance_id: 'me' }), { retain: true });
      const mine = await doctor(file);
      assert.equal(mine.status('node_id'), 'pass', mine.line('node_id').detail);
      assert.match(mine.line('node_id').detail, /the agent on this host/);
    } finally {
      for (const t of ['status', 'info']) await probe.publish(`${base}/h1/${t}`, '', { retain: true });
      await probe.end();
    }
  });

  describe('with its own mosquitto (users and an ACL)', () => {
    let broker: MosquittoHandle;
    before(async () => {
      broker = await startMosquitto({ users: { h1: 'right-pw', h2: 'other-pw' }, acl: 'pattern readwrite anchiale/v1/%u/#\n' });
    });
    after(async () => {
      await broker.stop();
    });
    const mqttOf = (user: string) => ({ mqtt: { url: broker.url, base_topic: 'anchiale/v1', username: user } });

    it('the right password and ACL: authenticated, round trip on its own topics', async () => {
      const { file } = await writeConfig(mqttOf('h1'), { password: 'right-pw' });
      const r = await doctor(file);
      assert.equal(r.status('broker_auth'), 'pass');
      assert.match(r.line('broker_auth').detail, /user h1/);
      assert.equal(r.status('broker_topics'), 'pass', r.line('broker_topics').detail);
      assert.equal(r.code, 0, r.out);
    });

    it('a wrong password → broker_auth fails (refused login), exit 1', async () => {
      const { file } = await writeConfig(mqttOf('h1'), { password: 'wrong-pw' });
      const r = await doctor(file);
      assert.equal(r.code, 1);
      assert.equal(r.status('broker'), 'pass', 'the broker answered');
      assert.equal(r.status('broker_auth'), 'fail');
      // Mosquitto 2.0 answers a wrong password with 135 (not authorized) on MQTT 5.
      assert.match(r.line('broker_auth').detail, /refused as user h1: (bad user name or password \(134\)|not authorized \(135\))/);
      assert.match(r.line('broker_auth').hint ?? '', /password_file/);
      assert.ok(!r.out.includes('wrong-pw'), 'the password never printed');
    });

    it('an ACL that does not cover the node\'s topics → broker_topics fails with the ACL hint', async () => {
      // User h2 logs in but node id h1 lies outside anchiale/v1/h2/#.
      const { file } = await writeConfig(mqttOf('h2'), { password: 'other-pw' });
      const r = await doctor(file);
      assert.equal(r.code, 1);
      assert.equal(r.status('broker_auth'), 'pass');
      assert.equal(r.status('broker_topics'), 'fail');
      assert.match(r.line('broker_topics').detail, /publish to anchiale\/v1\/h1\/doctor\/\w+ refused/);
      assert.match(r.line('broker_topics').hint ?? '', /pattern readwrite anchiale\/v1\/%u\/#/);
    });
  });

  describe('nvidia heater on the fake nvidia-smi', () => {
    async function nvidia(card: Partial<FakeCardSettings>, heater: Record<string, unknown>, ctx: Partial<DoctorContext> = {}, over: Record<string, unknown> = {}) {
      const fake = await FakeNvidiaSmi.create({ ...CARDS.rtx3090, ...card });
      try {
        const { file } = await writeConfig({ heater: { backend: 'nvidia', max_power_w: 300, ...heater }, ...over });
        return await doctor(file, { nvidiaSmi: fake.binary, env: fake.env(), detectLlamaBackend: async () => ({ backend: 'cuda' }), ...ctx });
      } finally {
        await fake.cleanup();
      }
    }

    it('a card with power management, method direct as root: GPU, driver, range, limits, persistence pass', async () => {
      const r = await nvidia({ persistence: 'Disabled' }, { power_limit_method: 'direct' }, { uid: 0 });
      assert.match(r.line('gpu').detail, /NVIDIA GeForce RTX 3090 \(GPU-3d5e1c2a-[0-9a-f-]+\), 24576 MiB VRAM/);
      assert.equal(r.status('driver'), 'pass');
      assert.match(r.line('power_management').detail, /supported, 100–400 W, set through the direct method/);
      assert.match(r.line('power_limits').detail, /card 100–400 W \(default 350 W, now 350 W\); heater.max_power_w 300 W/);
      assert.equal(r.status('persistence_mode'), 'warn');
      assert.match(r.line('persistence_mode').hint ?? '', /nvidia-persistenced/);
      assert.equal(r.status('power_limit_helper'), 'pass');
      assert.equal(r.code, 0, r.out);
    });

    it('a card without power management: warned (on/off cycling), the unknown ceiling warned, exit 0', async () => {
      const r = await nvidia({ supported: false }, { power_limit_method: 'none' });
      assert.equal(r.status('gpu'), 'pass');
      assert.equal(r.status('power_management'), 'warn');
      assert.match(r.line('power_management').detail, /power_management_unsupported: .*cycles it on and off/);
      assert.equal(r.status('power_limits'), 'warn');
      assert.match(r.line('power_limits').detail, /reports no power limit: heater.max_power_w \(300 W\) cannot be enforced/);
      assert.equal(r.code, 0, r.out);
    });

    it('method none on a card whose limit is above the site ceiling → power_limits fails', async () => {
      const r = await nvidia({}, { power_limit_method: 'none' });
      assert.equal(r.status('power_limits'), 'fail');
      assert.match(r.line('power_limits').detail, /may draw up to 350 W, above heater.max_power_w \(300 W\)/);
      assert.equal(r.code, 1);
    });

    it('method helper without the helper installed → power_limit_helper fails with the install hint', async () => {
      const r = await nvidia({}, { power_limit_method: 'helper' }, { powerLimitDir: path.join(dir, 'no-such-power-limit') });
      assert.equal(r.status('power_limit_helper'), 'fail');
      assert.match(r.line('power_limit_helper').hint ?? '', /tmpfiles/);
    });

    it('method helper installed but its path unit inactive → fails; active → passes', async () => {
      const pl = path.join(dir, 'pl-dir');
      await mkdir(pl, { recursive: true });
      await writeFile(path.join(pl, 'result'), JSON.stringify({ ok: true, requested_w: 250, applied_w: 250, ts: '2025-11-26T08:31:02.123Z' }));
      const bin = path.join(dir, 'systemctl-bin');
      await mkdir(bin, { recursive: true });
      const state = path.join(bin, 'active');
      await writeFile(path.join(bin, 'systemctl'), `#!/bin/sh\ncase $1 in is-enabled) echo enabled ;; is-active) cat '${state}' ;; esac\n`);
      await chmod(path.join(bin, 'systemctl'), 0o755);
      const PATH = `${bin}:${process.env.PATH ?? ''}`;
      await writeFile(state, 'inactive\n');
      const off = await nvidia({}, { power_limit_method: 'helper' }, { powerLimitDir: pl, env: { PATH } });
      assert.equal(off.status('power_limit_helper'), 'fail', off.line('power_limit_helper').detail);
      assert.match(off.line('power_limit_helper').hint ?? '', /systemctl enable --now anchiale-power-limit.path/);
      await writeFile(state, 'active\n');
      const on = await nvidia({}, { power_limit_method: 'helper' }, { powerLimitDir: pl, env: { PATH } });
      assert.equal(on.status('power_limit_helper'), 'pass');
      assert.match(on.line('power_limit_helper').detail, /last result ok \(250 W at 2025-11-26T08:31:02.123Z\); anchiale-power-limit.path enabled, active/);
    });

    it('node-llama-cpp on the CPU on a GPU heater → llm_backend fails', async () => {
      const r = await nvidia({}, { power_limit_method: 'direct' }, { uid: 0, detectLlamaBackend: async () => ({ backend: 'cpu' }) });
      assert.equal(r.status('llm_backend'), 'fail');
      assert.match(r.line('llm_backend').hint ?? '', /CUDA 12\/13 runtime/);
      assert.equal(r.code, 1);
    });

    it('no nvidia-smi → gpu fails with the install hint, the GPU lines are skipped', async () => {
      const r = await nvidia({}, { power_limit_method: 'direct' }, { nvidiaSmi: path.join(dir, 'no-nvidia-smi'), uid: 0 });
      assert.equal(r.status('gpu'), 'fail');
      assert.match(r.line('gpu').detail, /nvidia_smi_missing/);
      assert.match(r.line('gpu').hint ?? '', /install the NVIDIA driver/);
      assert.equal(r.status('power_management'), 'warn');
      assert.match(r.line('power_management').detail, /not checked: no GPU/);
    });

    it('a GPU fallen off the bus → gpu fails (gpu_lost)', async () => {
      const r = await nvidia({ queryFail: 'lost' }, { power_limit_method: 'direct' }, { uid: 0 });
      assert.equal(r.status('gpu'), 'fail');
      assert.match(r.line('gpu').detail, /gpu_lost: Unable to determine the device handle/);
    });

    it('the model against the VRAM: fits on a 24 GiB card, not on a 512 MiB one', async () => {
      const models = path.join(dir, 'models-vram');
      await mkdir(models, { recursive: true });
      await writeTinyLlamaGguf(path.join(models, 'tiny.gguf'), {});
      const over = { llm: { models_dir: models, default_model: 'tiny.gguf', context_size: 1024, max_parallel: 2 }, jobs: { enabled: true } };
      const big = await nvidia({}, { power_limit_method: 'direct' }, { uid: 0 }, over);
      assert.equal(big.status('model'), 'pass', big.line('model').detail);
      assert.match(big.line('model').detail, /tiny.gguf: ~\d+ MiB \(weights \d+, KV cache \d+ for 2 × 1024 tokens\) of 24576 MiB: fits/);
      const small = await nvidia({ vramMib: 512 }, { power_limit_method: 'direct' }, { uid: 0 }, over);
      assert.equal(small.status('model'), 'fail');
      assert.match(small.line('model').detail, /does not fit/);
      const missing = await nvidia({}, { power_limit_method: 'direct' }, { uid: 0 }, { ...over, llm: { ...over.llm, default_model: 'nope.gguf' } });
      assert.equal(missing.status('model'), 'fail');
      assert.match(missing.line('model').detail, /nope.gguf not found/);
    });
  });
});
