import assert from 'node:assert/strict';
import { access, appendFile, copyFile, mkdir, readFile, readlink, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_DIR, PROVISIONING_DIR, Stubs, makeBundle, makeProject, makeRoot, removeDir, runBash, runCommand, snapshot, tempDir, type FakeGpu, type RunResult } from './fixture.js';

const INSTALL = path.join(PROVISIONING_DIR, 'install.sh');
const ROLLBACK = path.join(PROVISIONING_DIR, 'rollback.sh');
const UNINSTALL = path.join(PROVISIONING_DIR, 'uninstall.sh');

let base: string;
let bundle1: string;
let bundle2: string;
let passwordFile: string;
let n = 0;

before(async () => {
  base = await tempDir('anchiale-install-');
  const out = path.join(base, 'bundles');
  bundle1 = await makeBundle(await makeProject(path.join(base, 'p1'), '0.1.0'), out);
  bundle2 = await makeBundle(await makeProject(path.join(base, 'p2'), '0.2.0'), out);
  passwordFile = path.join(base, 'mqtt-password');
  await writeFile(passwordFile, 's3cret\n');
});
after(async () => {
  await removeDir(base);
});

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** A fresh fixture root and stubs; `install`/`rollback`/`uninstall` run the scripts on it. */
async function setUp(gpu: Partial<FakeGpu> = {}, nodeVersion = '22.12.0') {
  const dir = path.join(base, `case-${++n}`);
  const root = await makeRoot(path.join(dir, 'root'));
  const stubs = await Stubs.create(path.join(dir, 'stubs'), gpu, nodeVersion);
  const env = stubs.env();
  const common = ['--root', root, '--node', path.join(stubs.bin, 'node')];
  const install = (...args: string[]) => runBash(INSTALL, [...common, ...args], { env });
  const basic = (b = bundle1, ...more: string[]) =>
    install('--node-id', 'h204', '--mqtt-url', 'mqtt://broker.example:1883', '--bundle', b, '--yes', ...more);
  const rollback = (...args: string[]) => runBash(ROLLBACK, ['--root', root, ...args], { env });
  const uninstall = (...args: string[]) => runBash(UNINSTALL, ['--root', root, ...args], { env });
  const p = (rel: string) => path.join(root, rel);
  return { dir, root, stubs, install, basic, rollback, uninstall, p };
}

function ok(r: RunResult): void {
  assert.equal(r.code, 0, `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
}

describe('install.sh', () => {
  it('installs a bundle on a fixture root; a second run changes nothing and says so', async () => {
    const t = await setUp();
    const first = await t.basic(bundle1, '--site-max-power-w', '280', '--mqtt-password-file', passwordFile);
    ok(first);
    assert.match(first.stdout, /\d+ change\(s\) made/);
    assert.match(first.stdout, /checksum OK/);

    // The app, its links and the Node link.
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.1.0');
    assert.equal(await readFile(t.p('opt/anchiale/current/dist/agent/main.js'), 'utf8'), "console.log('anchiale 0.1.0');\n");
    assert.equal(await readlink(t.p('opt/anchiale/node')), t.stubs.dir);
    assert.ok(!(await exists(t.p('opt/anchiale/previous'))));
    // Production dependencies only, linux-x64 binaries only.
    const mods = await readdir(t.p('opt/anchiale/current/node_modules'));
    assert.deepEqual(mods.sort(), ['@node-llama-cpp', 'dep-a', 'node-llama-cpp']);
    assert.deepEqual((await readdir(t.p('opt/anchiale/current/node_modules/@node-llama-cpp'))).sort(), ['linux-x64', 'linux-x64-cuda', 'linux-x64-vulkan']);

    // Configuration from the template, credentials, site ceiling.
    const config = await readFile(t.p('etc/anchiale/agent.yaml'), 'utf8');
    assert.match(config, /^ {2}id: h204$/m);
    assert.match(config, /^ {2}url: "mqtt:\/\/broker\.example:1883"$/m);
    assert.match(config, /^ {2}password_file: "mqtt_password"$/m);
    assert.match(config, /^ {2}username: "h204"$/m);
    assert.match(config, /^ {2}backend: nvidia$/m);
    assert.match(config, /^ {2}power_limit_method: helper$/m);
    assert.match(config, /^ {2}max_power_w: 280$/m);
    assert.ok(!config.includes('@'), 'every placeholder is filled');
    // The file the template makes passes the agent's own configuration check.
    const check = await runCommand(process.execPath, ['--import', 'tsx', path.join(PROJECT_DIR, 'agent', 'main.ts'), 'config', 'check', '--config', t.p('etc/anchiale/agent.yaml')], {
      env: { ...process.env, CREDENTIALS_DIRECTORY: t.p('etc/anchiale/credentials') },
    });
    ok(check);
    assert.equal(await readFile(t.p('etc/anchiale/site-max-power-w'), 'utf8'), '280\n');
    assert.equal(await readFile(t.p('etc/anchiale/gpu-index'), 'utf8'), '0\n');
    assert.equal(await readFile(t.p('etc/anchiale/credentials/mqtt_password'), 'utf8'), 's3cret\n');
    const modes: Array<[string, number]> = [
      ['etc/anchiale', 0o750],
      ['etc/anchiale/agent.yaml', 0o640],
      ['etc/anchiale/credentials', 0o750],
      ['etc/anchiale/credentials/mqtt_password', 0o640],
      ['etc/anchiale/site-max-power-w', 0o644],
      ['var/lib/anchiale', 0o750],
      ['var/lib/anchiale/models', 0o750],
      ['etc/systemd/system/anchiale-agent.service', 0o644],
      ['opt/anchiale/versions/0.1.0/provisioning/power-limit-helper.sh', 0o755],
    ];
    for (const [rel, mode] of modes) assert.equal((await stat(t.p(rel))).mode & 0o7777, mode, rel);

    // Units, credentials drop-in, tmpfiles, enabled by the real `systemctl --root`.
    for (const u of ['anchiale-agent.service', 'anchiale-power-limit.path', 'anchiale-power-limit.service']) {
      assert.ok(await exists(t.p(`etc/systemd/system/${u}`)), u);
    }
    assert.equal(
      await readFile(t.p('etc/systemd/system/anchiale-agent.service.d/credentials.conf'), 'utf8'),
      '# Written by provisioning/install.sh: the credentials present in /etc/anchiale/credentials.\n[Service]\nLoadCredential=mqtt_password:/etc/anchiale/credentials/mqtt_password\n',
    );
    assert.ok(await exists(t.p('etc/tmpfiles.d/anchiale.conf')));
    assert.equal(await readlink(t.p('etc/systemd/system/multi-user.target.wants/anchiale-agent.service')), '/etc/systemd/system/anchiale-agent.service');
    assert.equal(await readlink(t.p('etc/systemd/system/paths.target.wants/anchiale-power-limit.path')), '/etc/systemd/system/anchiale-power-limit.path');

    // Accounts in the root's own files; the host's were never asked.
    const group = await readFile(t.p('etc/group'), 'utf8');
    assert.match(group, /^video:x:\d+:anchiale$/m);
    assert.match(group, /^render:x:\d+:anchiale$/m);
    assert.match(await readFile(t.p('etc/passwd'), 'utf8'), /^anchiale:x:/m);
    const calls = await t.stubs.calls();
    assert.ok(!calls.some((c) => c.startsWith('getent')));
    assert.ok(calls.some((c) => c.startsWith('groupadd --prefix') && c.endsWith(' render')));
    assert.ok(!calls.some((c) => /^systemctl (?!--root=)/.test(c)), 'with --root nothing is started or reloaded');

    const before = await snapshot(t.root);
    const second = await t.basic(bundle1, '--site-max-power-w', '280', '--mqtt-password-file', passwordFile);
    ok(second);
    assert.match(second.stdout, /Nothing changed: the system already matched\./);
    assert.doesNotMatch(second.stdout, /^ {2}\+ /m);
    assert.deepEqual(await snapshot(t.root), before);
  });

  it("never overwrites an existing agent.yaml: the operator's file wins", async () => {
    const t = await setUp();
    ok(await t.basic());
    const mine = 'version: 1\nnode:\n  id: mine\nmqtt:\n  url: mqtt://mine:1883\n';
    await writeFile(t.p('etc/anchiale/agent.yaml'), mine);
    const r = await t.install('--node-id', 'other', '--mqtt-url', 'mqtt://other:1883', '--bundle', bundle1, '--yes');
    ok(r);
    assert.equal(await readFile(t.p('etc/anchiale/agent.yaml'), 'utf8'), mine);
    assert.match(r.stdout, /exists: kept as it is/);
    assert.match(r.stdout, /node\.id mine: --node-id other not applied/);
    // No --node-id or --mqtt-url needed any more.
    ok(await t.install('--bundle', bundle1, '--yes'));
  });

  it('requires --node-id and --mqtt-url for a first install, before changing anything', async () => {
    const t = await setUp();
    const r = await t.install('--mqtt-url', 'mqtt://b:1883', '--bundle', bundle1, '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--node-id is required/);
    const bad = await t.install('--node-id', 'Room 204', '--mqtt-url', 'mqtt://b:1883', '--bundle', bundle1, '--yes');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--node-id must match/);
    assert.deepEqual(await readdir(t.root), ['etc']);
  });

  it('refuses Node older than 20, warns on Node 20', async () => {
    const old = await setUp({}, '18.19.0');
    const r = await old.basic();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Node 18\.19\.0 .* too old: the agent needs >= 20; install Node 22 or 24 LTS/);
    assert.deepEqual(await readdir(old.root), ['etc']);
    const n20 = await setUp({}, '20.19.0');
    const w = await n20.basic();
    ok(w);
    assert.match(w.stderr, /Node 20 is past its end of life .* install Node 22 or 24 LTS/);
  });

  it('stops on preflight warnings without --yes when nobody can answer', async () => {
    const t = await setUp({ persistence: 'Disabled' });
    const r = await t.install('--node-id', 'h204', '--mqtt-url', 'mqtt://b:1883', '--bundle', bundle1);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /persistence mode is off .* systemctl enable --now nvidia-persistenced/);
    assert.match(r.stderr, /rerun with --yes/);
    assert.deepEqual(await readdir(t.root), ['etc']);
  });

  it('says which inference backend node-llama-cpp can use, and picks the power-limit method from the card', async () => {
    const t = await setUp({ supported: false });
    const r = await t.basic();
    ok(r);
    assert.match(r.stdout, /node-llama-cpp GPU backends usable here: Vulkan/);
    assert.match(r.stderr, /power management unsupported/);
    assert.match(await readFile(t.p('etc/anchiale/agent.yaml'), 'utf8'), /^ {2}power_limit_method: none$/m);
  });

  it('upgrades to a second version, then rolls back with one link change', async () => {
    const t = await setUp();
    ok(await t.basic(bundle1));
    const up = await t.basic(bundle2);
    ok(up);
    assert.match(up.stdout, /installed version 0\.2\.0/);
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.2.0');
    assert.equal(await readlink(t.p('opt/anchiale/previous')), 'versions/0.1.0');
    assert.equal(await readFile(t.p('opt/anchiale/current/dist/agent/main.js'), 'utf8'), "console.log('anchiale 0.2.0');\n");

    const back = await t.rollback();
    ok(back);
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.1.0');
    assert.equal(await readlink(t.p('opt/anchiale/previous')), 'versions/0.2.0');
    assert.equal(await readFile(t.p('opt/anchiale/current/dist/agent/main.js'), 'utf8'), "console.log('anchiale 0.1.0');\n");

    ok(await t.rollback('0.2.0'));
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.2.0');
    const same = await t.rollback('0.2.0');
    ok(same);
    assert.match(same.stdout, /already at 0\.2\.0/);
    const missing = await t.rollback('9.9.9');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not an installed version; installed: 0\.1\.0 0\.2\.0/);
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.2.0');
  });

  it('refuses a tampered bundle, and a bundle without its checksum, before unpacking', async () => {
    const t = await setUp();
    const tampered = path.join(t.dir, 'anchiale-agent-0.1.0.tar.gz');
    await copyFile(bundle1, tampered);
    await copyFile(`${bundle1}.sha256`, `${tampered}.sha256`);
    await appendFile(tampered, Buffer.from([0]));
    const r = await t.basic(tampered);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checksum mismatch .* refusing to unpack it/);
    assert.deepEqual(await readdir(t.p('opt/anchiale/versions')), []);

    const lone = path.join(t.dir, 'lone', 'anchiale-agent-0.1.0.tar.gz');
    await mkdir(path.dirname(lone));
    await copyFile(bundle1, lone);
    const r2 = await t.basic(lone);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /no checksum file/);
    assert.deepEqual(await readdir(t.p('opt/anchiale/versions')), []);
  });

  it('makes a TLS client key and a CSR with CN = node id, loaded as a credential', async () => {
    const t = await setUp();
    ok(await t.basic(bundle1, '--mqtt-tls-key', '--mqtt-url', 'mqtts://broker.example:8883'));
    const key = await readFile(t.p('etc/anchiale/credentials/mqtt_client_key'), 'utf8');
    assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal((await stat(t.p('etc/anchiale/credentials/mqtt_client_key'))).mode & 0o777, 0o640);
    const { execFileSync } = await import('node:child_process');
    const subject = execFileSync('openssl', ['req', '-in', t.p('etc/anchiale/tls/client.csr'), '-noout', '-subject', '-nameopt', 'RFC2253'], { encoding: 'utf8' });
    assert.equal(subject.trim(), 'subject=CN=h204');
    const config = await readFile(t.p('etc/anchiale/agent.yaml'), 'utf8');
    assert.match(config, /^ {4}key_file: "mqtt_client_key"$/m);
    assert.match(config, /^ {4}cert_file: "\/etc\/anchiale\/tls\/client\.crt"$/m);
    assert.match(await readFile(t.p('etc/systemd/system/anchiale-agent.service.d/credentials.conf'), 'utf8'), /^LoadCredential=mqtt_client_key:\/etc\/anchiale\/credentials\/mqtt_client_key$/m);
    const again = await t.basic(bundle1, '--mqtt-tls-key', '--mqtt-url', 'mqtts://broker.example:8883');
    ok(again);
    assert.match(again.stdout, /Nothing changed/);
    assert.equal(await readFile(t.p('etc/anchiale/credentials/mqtt_client_key'), 'utf8'), key, 'the key is never regenerated');
  });

  it('installs from npm (npm pack + npm install --omit=dev) with a stubbed npm', async () => {
    const t = await setUp();
    // A fake npm: `view` answers the version, `pack` makes the package tarball of fixture p2,
    // `install` adds a dependency.
    const npm = [
      '#!/usr/bin/env bash',
      `printf '%s\\n' "npm $*" >>'${t.stubs.log}'`,
      'case $1 in',
      '  view) echo 0.2.0 ;;',
      `  pack) tar -C '${path.join(base, 'p2')}' --transform 's,^\\.,package,' -czf anchiale-agent-0.2.0.tgz ./package.json ./dist ./provisioning ./systemd; echo anchiale-agent-0.2.0.tgz ;;`,
      '  install) mkdir -p node_modules/dep-a && echo {} > node_modules/dep-a/package.json ;;',
      '  *) exit 2 ;;',
      'esac',
    ].join('\n');
    await writeFile(path.join(t.stubs.bin, 'npm'), npm, { mode: 0o755 });
    const r = await t.install('--node-id', 'h204', '--mqtt-url', 'mqtt://b:1883', '--from-npm', '--yes');
    ok(r);
    assert.equal(await readlink(t.p('opt/anchiale/current')), 'versions/0.2.0');
    assert.ok(await exists(t.p('opt/anchiale/current/node_modules/dep-a/package.json')));
    const calls = await t.stubs.calls();
    assert.ok(calls.includes('npm view anchiale-agent@latest version'));
    assert.ok(calls.includes('npm install --omit=dev --no-audit --no-fund --no-package-lock'));
    const again = await t.install('--from-npm', '0.2.0', '--yes');
    ok(again);
    assert.match(again.stdout, /Nothing changed/);
  });
});

describe('uninstall.sh', () => {
  it('removes the app and units but keeps configuration and data; --purge removes them', async () => {
    const t = await setUp();
    ok(await t.basic(bundle1, '--mqtt-password-file', passwordFile));
    await writeFile(t.p('var/lib/anchiale/models/tiny.gguf'), 'model');

    const r = await t.uninstall();
    ok(r);
    for (const gone of ['opt/anchiale', 'etc/systemd/system/anchiale-agent.service', 'etc/systemd/system/anchiale-agent.service.d',
      'etc/systemd/system/anchiale-power-limit.path', 'etc/systemd/system/anchiale-power-limit.service', 'etc/tmpfiles.d/anchiale.conf',
      'etc/systemd/system/multi-user.target.wants/anchiale-agent.service', 'etc/systemd/system/paths.target.wants/anchiale-power-limit.path']) {
      assert.ok(!(await exists(t.p(gone))), `${gone} removed`);
    }
    assert.equal(await readFile(t.p('var/lib/anchiale/models/tiny.gguf'), 'utf8'), 'model');
    assert.ok(await exists(t.p('etc/anchiale/agent.yaml')));
    assert.ok(await exists(t.p('etc/anchiale/credentials/mqtt_password')));
    assert.match(r.stdout, /kept \/etc\/anchiale \(--purge removes it\)/);
    assert.match(await readFile(t.p('etc/passwd'), 'utf8'), /^anchiale:/m);

    const again = await t.uninstall();
    ok(again);
    assert.match(again.stdout, /Nothing changed/);

    const purge = await t.uninstall('--purge');
    ok(purge);
    assert.ok(!(await exists(t.p('etc/anchiale'))));
    assert.ok(!(await exists(t.p('var/lib/anchiale'))));
    assert.doesNotMatch(await readFile(t.p('etc/passwd'), 'utf8'), /^anchiale:/m);
    const group = await readFile(t.p('etc/group'), 'utf8');
    assert.doesNotMatch(group, /^anchiale:/m);
    assert.match(group, /^video:x:\d+:$/m, 'system groups stay, without the user');
  });
});
