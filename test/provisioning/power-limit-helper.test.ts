import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROVISIONING_DIR, RUNNER, Stubs, removeDir, runBash, tempDir, type FakeGpu } from './fixture.js';

const HELPER = path.join(PROVISIONING_DIR, 'power-limit-helper.sh');

interface HelperResult {
  ok: boolean;
  requested_w: number | null;
  applied_w: number | null;
  error?: string;
  message?: string;
  ts: string;
  limits?: { card_min_w: number; card_max_w: number; site_max_w?: number };
}

interface Setup {
  /** Content of the request file; null: no request file. */
  request?: string | null;
  siteMax?: string | null;
  siteMode?: number;
  gpu?: Partial<FakeGpu>;
  gpuIndex?: string;
  env?: NodeJS.ProcessEnv;
}

let base: string;
let n = 0;
before(async () => {
  base = await tempDir('anchiale-helper-');
});
after(async () => {
  await removeDir(base);
});

/** A fresh root (run/anchiale/power-limit, etc/anchiale) and fakes for one case. */
async function setUp(s: Setup) {
  const dir = path.join(base, `case-${++n}`);
  const root = path.join(dir, 'root');
  const plDir = path.join(root, 'run', 'anchiale', 'power-limit');
  await mkdir(plDir, { recursive: true });
  await chmod(plDir, 0o3770);
  await mkdir(path.join(root, 'etc', 'anchiale'), { recursive: true });
  const stubs = await Stubs.create(path.join(dir, 'stubs'), { limit: 300, ...s.gpu });
  const siteFile = path.join(root, 'etc', 'anchiale', 'site-max-power-w');
  if (s.siteMax !== null) {
    await writeFile(siteFile, `${s.siteMax ?? '350'}\n`);
    await chmod(siteFile, s.siteMode ?? 0o644);
  }
  if (s.gpuIndex !== undefined) await writeFile(path.join(root, 'etc', 'anchiale', 'gpu-index'), s.gpuIndex);
  if (s.request !== null && s.request !== undefined) await writeFile(path.join(plDir, 'request'), s.request);
  const env = stubs.env({
    ANCHIALE_HELPER_ROOT: root,
    ANCHIALE_TRUSTED_UID: String(RUNNER.uid),
    ANCHIALE_AGENT_UID: String(RUNNER.uid),
    ...s.env,
  });
  const run = (arg: '--apply' | '--restore') => runBash(HELPER, [arg], { env });
  const result = async (): Promise<HelperResult> => JSON.parse(await readFile(path.join(plDir, 'result'), 'utf8')) as HelperResult;
  return { root, plDir, stubs, run, result, siteFile };
}

describe('power-limit-helper.sh --apply', () => {
  it('applies a plain integer request within range and reports it', async () => {
    const t = await setUp({ request: '250\n' });
    const r = await t.run('--apply');
    assert.equal(r.code, 0, r.stderr);
    const res = await t.result();
    assert.equal(res.ok, true);
    assert.equal(res.requested_w, 250);
    assert.equal(res.applied_w, 250);
    assert.deepEqual(res.limits, { card_min_w: 100, card_max_w: 450, site_max_w: 350 });
    assert.match(res.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(await t.stubs.gpuLimit(), 250);
    assert.ok((await t.stubs.calls()).includes('nvidia-smi -i 0 -pl 250'));
  });

  const invalid: Array<[string, string]> = [
    ['a word', 'abc'],
    ['a decimal', '250.5'],
    ['a negative number', '-5'],
    ['a leading space', ' 250'],
    ['a unit', '250W'],
    ['an exponent', '1e3'],
    ['hex', '0x10'],
    ['a leading zero', '0250'],
    ['a carriage return', '250\r\n'],
    ['an empty file', ''],
    ['a command substitution', '$(reboot)'],
    ['two numbers', '250\n300\n'],
    ['too many digits', '123456'],
    ['a long file', '2'.repeat(40)],
  ];
  for (const [what, content] of invalid) {
    it(`refuses ${what} and leaves the limit alone`, async () => {
      const t = await setUp({ request: content });
      const r = await t.run('--apply');
      assert.equal(r.code, 1);
      const res = await t.result();
      assert.equal(res.ok, false);
      assert.equal(res.error, 'invalid_request');
      assert.equal(res.requested_w, null);
      assert.equal(res.applied_w, null);
      assert.equal(await t.stubs.gpuLimit(), 300);
      assert.ok(!JSON.stringify(res).includes('reboot'), 'the request content is never echoed');
      assert.ok(!(await t.stubs.calls()).some((c) => c.includes('-pl')));
    });
  }

  const clamps: Array<[string, Setup, number]> = [
    ['below the card minimum → the minimum', { request: '50', siteMax: '400' }, 100],
    ['zero → the card minimum', { request: '0', siteMax: '400' }, 100],
    ['above the card maximum → the maximum', { request: '999', siteMax: '2000', gpu: { max: 450.5 } }, 450],
    ['above the site ceiling → the ceiling', { request: '400', siteMax: '280' }, 280],
    ['site ceiling below the card minimum → the card minimum', { request: '300', siteMax: '80' }, 100],
    ['a fractional card minimum is rounded up', { request: '10', siteMax: '400', gpu: { min: 100.4 } }, 101],
  ];
  for (const [what, setup, expected] of clamps) {
    it(`clamps: ${what}`, async () => {
      const t = await setUp(setup);
      const r = await t.run('--apply');
      assert.equal(r.code, 0, r.stderr);
      const res = await t.result();
      assert.equal(res.ok, true);
      assert.equal(res.requested_w, Number(setup.request));
      assert.equal(res.applied_w, expected);
      assert.equal(await t.stubs.gpuLimit(), expected);
    });
  }

  const untrusted: Array<[string, Setup, string]> = [
    ['writable by others', { request: '250', siteMode: 0o666 }, 'site_ceiling_untrusted'],
    ['writable by its group', { request: '250', siteMode: 0o664 }, 'site_ceiling_untrusted'],
    ['not owned by root', { request: '250', env: { ANCHIALE_TRUSTED_UID: String(RUNNER.uid + 1) } }, 'site_ceiling_untrusted'],
    ['missing', { request: '250', siteMax: null }, 'site_ceiling_missing'],
    ['not a number', { request: '250', siteMax: '300 W' }, 'site_ceiling_invalid'],
  ];
  for (const [what, setup, error] of untrusted) {
    it(`refuses to run when the site ceiling file is ${what}`, async () => {
      const t = await setUp(setup);
      const r = await t.run('--apply');
      assert.equal(r.code, 1);
      const res = await t.result();
      assert.equal(res.ok, false);
      assert.equal(res.error, error);
      assert.equal(await t.stubs.gpuLimit(), 300);
      assert.ok(!(await t.stubs.calls()).some((c) => c.includes('-pl')));
    });
  }

  it('reports a card without power management', async () => {
    const t = await setUp({ request: '250', gpu: { supported: false } });
    const r = await t.run('--apply');
    assert.equal(r.code, 1);
    const res = await t.result();
    assert.equal(res.ok, false);
    assert.equal(res.error, 'power_management_unsupported');
    assert.ok(!(await t.stubs.calls()).some((c) => c.includes('-pl')));
  });

  it('trusts only the read-back limit (nvidia-smi may warn and exit 0 without applying)', async () => {
    const t = await setUp({ request: '250', gpu: { ignorePl: true } });
    const r = await t.run('--apply');
    assert.equal(r.code, 1);
    const res = await t.result();
    assert.equal(res.error, 'not_applied');
    assert.equal(await t.stubs.gpuLimit(), 300);
  });

  it('refuses a request that is a symlink (to a file the agent could not read)', async () => {
    const t = await setUp({ request: null });
    const secret = path.join(t.root, 'etc', 'anchiale', 'secret');
    await writeFile(secret, '123\n');
    await symlink(secret, path.join(t.plDir, 'request'));
    const r = await t.run('--apply');
    assert.equal(r.code, 1);
    assert.equal((await t.result()).error, 'invalid_request');
    assert.equal(await t.stubs.gpuLimit(), 300);
  });

  it("refuses a request not owned by the agent's user", async () => {
    const t = await setUp({ request: '250', env: { ANCHIALE_AGENT_UID: String(RUNNER.uid + 1) } });
    const r = await t.run('--apply');
    assert.equal(r.code, 1);
    assert.equal((await t.result()).error, 'invalid_request');
  });

  it('reports a missing request', async () => {
    const t = await setUp({ request: null });
    const r = await t.run('--apply');
    assert.equal(r.code, 1);
    assert.equal((await t.result()).error, 'request_missing');
  });

  it('replaces a symlink planted at the result instead of writing through it', async () => {
    const t = await setUp({ request: '250' });
    const victim = path.join(t.root, 'victim');
    await writeFile(victim, 'precious\n');
    await symlink(victim, path.join(t.plDir, 'result'));
    const r = await t.run('--apply');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(victim, 'utf8'), 'precious\n');
    const res = await t.result();
    assert.equal(res.applied_w, 250);
  });

  it('drives the GPU named in gpu-index, and refuses an index that is not one', async () => {
    const t = await setUp({ request: '200', gpuIndex: '1\n', gpu: { indexes: ['1'] } });
    assert.equal((await t.run('--apply')).code, 0);
    assert.ok((await t.stubs.calls()).includes('nvidia-smi -i 1 -pl 200'));
    const bad = await setUp({ request: '200', gpuIndex: '0 -pl 999' });
    assert.equal((await bad.run('--apply')).code, 1);
    assert.equal((await bad.result()).error, 'gpu_index_invalid');
  });

  it('writes the result readable by its group only (mode 0640)', async () => {
    const t = await setUp({ request: '250' });
    await t.run('--apply');
    assert.equal((await stat(path.join(t.plDir, 'result'))).mode & 0o777, 0o640);
  });
});

describe('power-limit-helper.sh --restore', () => {
  it("applies the card's minimum limit", async () => {
    const t = await setUp({ request: '300', gpu: { limit: 320 } });
    const r = await t.run('--restore');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await t.stubs.gpuLimit(), 100);
    const res = await t.result();
    assert.equal(res.ok, true);
    assert.equal(res.applied_w, 100);
  });

  it('does not need the site ceiling (a restore must always work)', async () => {
    const t = await setUp({ request: '300', siteMax: null });
    assert.equal((await t.run('--restore')).code, 0);
    assert.equal(await t.stubs.gpuLimit(), 100);
  });

  it('does nothing when the agent never asked for a limit (helper method not in use)', async () => {
    const t = await setUp({ request: null, gpu: { limit: 320 } });
    const r = await t.run('--restore');
    assert.equal(r.code, 0);
    assert.equal(await t.stubs.gpuLimit(), 320);
    assert.ok(!(await t.stubs.calls()).some((c) => c.startsWith('nvidia-smi')));
  });

  it('succeeds on a card without power management (nothing to restore)', async () => {
    const t = await setUp({ request: '300', gpu: { supported: false } });
    const r = await t.run('--restore');
    assert.equal(r.code, 0);
    assert.equal((await t.result()).error, 'power_management_unsupported');
  });

  it('succeeds without nvidia-smi (a sim-only box)', async () => {
    const t = await setUp({ request: '300', env: { ANCHIALE_NVIDIA_SMI: '/nonexistent/nvidia-smi' } });
    assert.equal((await t.run('--restore')).code, 0);
  });
});

describe('power-limit-helper.sh usage', () => {
  it('refuses unknown arguments', async () => {
    const r = await runBash(HELPER, ['--set', '300']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage/);
  });
});
