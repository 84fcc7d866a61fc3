import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeBundle, makeProject, removeDir, runCommand, tempDir } from './fixture.js';

let base: string;
before(async () => {
  base = await tempDir('anchiale-bundle-');
});
after(async () => {
  await removeDir(base);
});

/** The paths of a tarball's members. */
async function members(tarball: string): Promise<string[]> {
  const r = await runCommand('tar', ['-tzf', tarball]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

describe('scripts/bundle.sh', () => {
  it('builds, then packs the app with production dependencies only and linux-x64 binaries only', async () => {
    const project = await makeProject(path.join(base, 'p'), '1.2.3');
    const tarball = await makeBundle(project, path.join(base, 'out'));
    assert.equal(path.basename(tarball), 'anchiale-agent-1.2.3.tar.gz');
    const list = await members(tarball);
    const top = 'anchiale-agent-1.2.3/';
    for (const wanted of ['package.json', 'README.md', 'dist/agent/main.js', 'provisioning/install.sh', 'provisioning/power-limit-helper.sh',
      'systemd/anchiale-agent.service', 'systemd/anchiale.tmpfiles.conf', 'schema/agent.schema.json', 'examples/agent.yaml',
      'node_modules/dep-a/index.js', 'node_modules/dep-a/node_modules/nested-c/package.json', 'node_modules/node-llama-cpp/package.json',
      'node_modules/@node-llama-cpp/linux-x64/package.json', 'node_modules/@node-llama-cpp/linux-x64-cuda/package.json',
      'node_modules/@node-llama-cpp/linux-x64-vulkan/package.json']) {
      assert.ok(list.includes(top + wanted), `${wanted} in the bundle`);
    }
    for (const unwanted of ['node_modules/dev-b/', 'node_modules/nested-c/', 'node_modules/@node-llama-cpp/linux-arm64/', 'src/']) {
      assert.ok(!list.some((m) => m.startsWith(top + unwanted)), `${unwanted} not in the bundle`);
    }
    assert.ok(list.every((m) => m.startsWith(top)), 'one top-level directory');
  });

  it('writes a checksum file that sha256sum accepts', async () => {
    const project = await makeProject(path.join(base, 'p2'), '2.0.0');
    const out = path.join(base, 'out2');
    const tarball = await makeBundle(project, out);
    const line = await readFile(`${tarball}.sha256`, 'utf8');
    assert.match(line, /^[0-9a-f]{64} {2}anchiale-agent-2\.0\.0\.tar\.gz\n$/);
    const check = await runCommand('sha256sum', ['-c', 'anchiale-agent-2.0.0.tar.gz.sha256'], { cwd: out });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('is reproducible, and leaves out the GPU builds not asked for', async () => {
    const project = await makeProject(path.join(base, 'p3'), '3.0.0');
    const a = await makeBundle(project, path.join(base, 'out3a'));
    const b = await makeBundle(project, path.join(base, 'out3b'));
    assert.equal(await readFile(`${a}.sha256`, 'utf8'), await readFile(`${b}.sha256`, 'utf8'));
    const vulkanOnly = await makeBundle(project, path.join(base, 'out3c'), ['--backends', 'vulkan']);
    const list = await members(vulkanOnly);
    assert.ok(list.some((m) => m.includes('@node-llama-cpp/linux-x64-vulkan/')));
    assert.ok(list.some((m) => m.includes('@node-llama-cpp/linux-x64/')));
    assert.ok(!list.some((m) => m.includes('@node-llama-cpp/linux-x64-cuda')));
  });
});
