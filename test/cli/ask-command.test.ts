import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAskRequest, runAsk, type AskOptions } from '../../agent/cli/ask-command.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { FakeHeater, type FakeHeaterOptions } from '../fakes/fake-heater.js';

let seq = 0;

describe('anchiale ask', () => {
  let broker: MosquittoHandle;
  let dir: string;
  const heaters: FakeHeater[] = [];
  before(async () => {
    broker = await startMosquitto();
    dir = await mkdtemp(join(tmpdir(), 'anchiale-ask-'));
  });
  after(async () => {
    for (const h of heaters) await h.stop().catch(() => undefined);
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function fleet(hs: Omit<FakeHeaterOptions, 'url' | 'base'>[]): Promise<{ base: string; hs: FakeHeater[] }> {
    const base = `ask-test/${process.pid}-${seq++}`;
    const out: FakeHeater[] = [];
    for (const o of hs) {
      const h = new FakeHeater({ url: broker.url, base, ...o });
      await h.start();
      heaters.push(h);
      out.push(h);
    }
    return { base, hs: out };
  }

  async function ask(args: string[], o: AskOptions, env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await runAsk(args, { acceptTimeout: '0.4', ...o }, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env,
      defaultConfigPath: join(dir, 'none.yaml'),
    });
    return { code, stdout, stderr };
  }

  it('streams the answer to stdout only; the heater, queue position and speed go to stderr (exit 0)', async () => {
    const { base } = await fleet([{ node: 'h1', behavior: FakeHeater.serve('the answer', { chunks: 3, queuePosition: 2 }) }]);
    const r = await ask(['what', 'is', 'it?'], { mqttUrl: broker.url, baseTopic: base });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'the answer\n');
    assert.match(r.stderr, /h1 took the job \(direct, queued at position 2\)/);
    assert.match(r.stderr, /done by h1 · 10 tokens · 526\.3 tok\/s · first token \d+ ms · 3 J · stop/);
  });

  it('--json prints the final result object and no streamed text', async () => {
    const { base, hs } = await fleet([{ node: 'h1', behavior: FakeHeater.serve('json answer') }]);
    const r = await ask(['q'], { mqttUrl: broker.url, baseTopic: base, json: true, maxTokens: '12', temperature: '0.2', seed: '7', model: 'tiny' });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.text, 'json answer');
    assert.equal(out.node, 'h1');
    assert.equal(out.finishReason, 'stop');
    assert.deepEqual(Object.keys(out).sort(), ['attempts', 'chunkGaps', 'client', 'energyJ', 'finishReason', 'jobId', 'node', 'queuePosition', 'text', 'timing', 'usage', 'via']);
    const body = hs[0]!.jobs[0]!.body;
    assert.deepEqual([body.max_tokens, body.temperature, body.seed, body.model, body.prompt], [12, 0.2, 7, 'tiny', 'q']);
  });

  it('takes the broker from ANCHIALE_MQTT__URL, and from the config file', async () => {
    const { base } = await fleet([{ node: 'h1' }]);
    const viaEnv = await ask(['q'], {}, { ANCHIALE_MQTT__URL: broker.url, ANCHIALE_MQTT__BASE_TOPIC: base });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const file = join(dir, 'agent.yaml');
    await writeFile(file, `version: 1\nmqtt:\n  url: ${broker.url}\n  base_topic: ${base}\ninputs:\n  room_temperature:\n    topic: room/t\n`);
    const viaFile = await ask(['q'], { config: file });
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(viaFile.stdout, 'hello world\n');
  });

  const failures: { name: string; heater: Omit<FakeHeaterOptions, 'url' | 'base'>; code: number; stderr: RegExp }[] = [
    {
      name: 'no heater wants heat → 3, saying why',
      heater: { node: 'warm', state: { demand: 0, accepting: false, phase: 'idle', reasons: ['at_setpoint'] } },
      code: 3,
      stderr: /no heater wants heat: 1 heater seen, 0 usable; skipped warm: no_heat_demand/,
    },
    {
      name: 'the heater answers no_heat_demand (its retained state lagged) → 3',
      heater: { node: 'h1', state: { demand: 0.1 }, behavior: FakeHeater.reject('no_heat_demand', 'the room does not ask for heat') },
      code: 3,
      stderr: /rejected by h1: no_heat_demand/,
    },
    { name: 'rejected → 4', heater: { node: 'h1', behavior: FakeHeater.reject('busy', 'queue full') }, code: 4, stderr: /h1 said no: busy \(queue full\)[\s\S]*rejected by h1: busy/ },
    { name: 'no answer → 4 (timeout)', heater: { node: 'h1', behavior: FakeHeater.silent() }, code: 4, stderr: /no heater accepted job .*h1: timeout/ },
    {
      name: 'job error → 5',
      heater: {
        node: 'h1',
        behavior: async (job, h) => {
          await h.reply(job, { type: 'accepted', queue_position: 0 });
          await h.reply(job, { type: 'error', code: 'worker_crashed', message: 'the LLM worker died' });
        },
      },
      code: 5,
      stderr: /failed on h1: worker_crashed: the LLM worker died/,
    },
  ];
  for (const f of failures) {
    it(f.name, async () => {
      const { base } = await fleet([f.heater]);
      const r = await ask(['q'], { mqttUrl: broker.url, baseTopic: base });
      assert.equal(r.code, f.code, r.stderr);
      assert.match(r.stderr, f.stderr);
      assert.equal(r.stdout, '');
    });
  }

  it('usage errors → 2', async () => {
    for (const [args, o, msg] of [
      [[], { mqttUrl: broker.url }, /a prompt is required/],
      [['q'], { mqttUrl: broker.url, maxTokens: 'ten' }, /--max-tokens "ten": an integer/],
      [['q'], { mqttUrl: broker.url, temperature: '3' }, /--temperature "3": a number from 0 to 2/],
      [['q'], { mqttUrl: broker.url, node: 'H 1' }, /--node/],
      [['q'], {}, /no broker: give --mqtt-url/],
    ] as const) {
      const r = await ask([...args], o);
      assert.equal(r.code, 2, `${JSON.stringify(args)} ${JSON.stringify(o)}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /usage: anchiale ask/);
    }
    assert.equal(typeof parseAskRequest('hi', { seed: '1' }), 'object');
  });

  it('is registered in the CLI: a real process answers with exit 0, and exit 2 for an unknown option', async () => {
    const { base } = await fleet([{ node: 'h1', behavior: FakeHeater.serve('from a process') }]);
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'ask', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const [ok, bad] = await Promise.all([run(['--mqtt-url', broker.url, '--base-topic', base, 'hello?']), run(['--frobnicate', 'x'])]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, 'from a process\n');
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /unknown option '--frobnicate'/);
  });
});
