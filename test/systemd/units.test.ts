import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_DIR, removeDir, runCommand, tempDir } from '../provisioning/fixture.js';

const SYSTEMD_DIR = path.join(PROJECT_DIR, 'systemd');
const AGENT = 'anchiale-agent.service';
const HELPER = 'anchiale-power-limit.service';
const PATH_UNIT = 'anchiale-power-limit.path';
const UNITS = [AGENT, HELPER, PATH_UNIT];

/** Every `Key=value` of a unit file, in order (a key may repeat). */
function directives(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}

async function unitText(name: string): Promise<string> {
  return readFile(path.join(SYSTEMD_DIR, name), 'utf8');
}

async function values(name: string, key: string): Promise<string[]> {
  return directives(await unitText(name))
    .filter(([k]) => k === key)
    .map(([, v]) => v);
}

let base: string;
before(async () => {
  base = await tempDir('anchiale-units-');
});
after(async () => {
  await removeDir(base);
});

/**
 * `systemd-analyze verify` checks that every Exec*= binary exists: the units, copied with
 * /opt/anchiale/ moved under a temporary directory holding executable stand-ins, must verify
 * with no message at all (unknown keys, bad values and missing binaries all print one).
 */
async function verify(unitTexts: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const dir = await mkdtemp(path.join(base, 'verify-'));
  const opt = path.join(dir, 'opt', 'anchiale');
  for (const exe of ['node/bin/node', 'current/provisioning/power-limit-helper.sh']) {
    const p = path.join(opt, exe);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, '#!/bin/sh\nexit 0\n');
    await chmod(p, 0o755);
  }
  const unitDir = path.join(dir, 'units');
  await mkdir(unitDir);
  const files: string[] = [];
  for (const [name, text] of Object.entries(unitTexts)) {
    const file = path.join(unitDir, name);
    await writeFile(file, text.replaceAll('/opt/anchiale/', `${opt}/`));
    files.push(file);
  }
  const r = await runCommand('systemd-analyze', ['verify', '--man=no', ...files]);
  return { code: r.code, output: (r.stdout + r.stderr).trim() };
}

async function exposure(name: string): Promise<number> {
  const r = await runCommand('systemd-analyze', ['security', '--offline=yes', path.join(SYSTEMD_DIR, name)]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr);
  assert.ok(m, `no exposure level in:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('systemd units', () => {
  it('pass systemd-analyze verify without a single message', async () => {
    const texts: Record<string, string> = {};
    for (const u of UNITS) texts[u] = await unitText(u);
    const r = await verify(texts);
    assert.equal(r.output, '');
    assert.equal(r.code, 0);
  });

  it('(the verify check is meaningful: a misspelt key and a missing binary are reported)', async () => {
    const agent = (await unitText(AGENT)).replace('ProtectHome=yes', 'ProtectHomes=yes');
    const r = await verify({ [AGENT]: agent });
    assert.match(r.output, /Unknown key( name)? 'ProtectHomes'/);
    const missing = (await unitText(HELPER)).replace('provisioning/power-limit-helper.sh', 'provisioning/nope.sh');
    const r2 = await verify({ [HELPER]: missing });
    assert.match(r2.output, /nope\.sh is not executable: No such file or directory/);
    assert.notEqual(r2.code, 0);
  });

  it('the agent is exposed at most 2.5, the root helper at most 2.0 (systemd-analyze security --offline)', async () => {
    const agent = await exposure(AGENT);
    const helper = await exposure(HELPER);
    assert.ok(agent <= 2.5, `agent exposure ${agent}`);
    assert.ok(helper <= 2.0, `helper exposure ${helper}`);
  });

  it('the agent unit keeps the contract of the daemon', async () => {
    const table: Array<[string, string[]]> = [
      ['Type', ['notify']],
      ['NotifyAccess', ['all']],
      ['WatchdogSec', ['30']],
      ['ExecStart', ['/opt/anchiale/node/bin/node --v8-pool-size=1 /opt/anchiale/current/dist/agent/main.js run --config /etc/anchiale/agent.yaml']],
      ['ExecStopPost', ['+/opt/anchiale/current/provisioning/power-limit-helper.sh --restore']],
      ['Restart', ['on-failure']],
      ['RestartForceExitStatus', ['75']],
      ['RestartPreventExitStatus', ['78']],
      ['User', ['anchiale']],
      ['Group', ['anchiale']],
      ['SupplementaryGroups', ['video render']],
      ['StateDirectory', ['anchiale']],
      ['ConfigurationDirectory', ['anchiale']],
      ['RuntimeDirectory', []],
      ['ReadWritePaths', ['/run/anchiale/power-limit']],
      ['DevicePolicy', ['closed']],
      ['DeviceAllow', ['char-nvidiactl rw', 'char-nvidia-frontend rw', 'char-nvidia-uvm rw', 'char-nvidia-caps rw', 'char-drm rw']],
      ['CapabilityBoundingSet', ['']],
      ['NoNewPrivileges', ['yes']],
      // V8 needs writable+executable memory; PrivateDevices would hide /dev/nvidia*.
      ['MemoryDenyWriteExecute', []],
      ['PrivateDevices', []],
    ];
    for (const [key, expected] of table) assert.deepEqual(await values(AGENT, key), expected, key);
  });

  it('the helper runs only when the request changes, with CAP_SYS_ADMIN alone', async () => {
    assert.deepEqual(await values(PATH_UNIT, 'PathChanged'), ['/run/anchiale/power-limit/request']);
    assert.deepEqual(await values(PATH_UNIT, 'Unit'), [HELPER]);
    assert.deepEqual(await values(HELPER, 'Type'), ['oneshot']);
    assert.deepEqual(await values(HELPER, 'ExecStart'), ['/opt/anchiale/current/provisioning/power-limit-helper.sh --apply']);
    assert.deepEqual(await values(HELPER, 'CapabilityBoundingSet'), ['CAP_SYS_ADMIN']);
    assert.deepEqual(await values(HELPER, 'PrivateNetwork'), ['yes']);
    assert.deepEqual(await values(HELPER, 'ReadWritePaths'), ['/run/anchiale/power-limit']);
  });

  it('tmpfiles.d makes the shared directory: sticky, setgid anchiale, closed to others', async () => {
    const lines = (await readFile(path.join(SYSTEMD_DIR, 'anchiale.tmpfiles.conf'), 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(lines, [
      ['d', '/run/anchiale', '0755', 'root', 'root', '-'],
      ['d', '/run/anchiale/power-limit', '3770', 'root', 'anchiale', '-'],
    ]);
  });
});
