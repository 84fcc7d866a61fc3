import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BUNDLE_SCRIPT, PROVISIONING_DIR, runCommand } from './fixture.js';

describe('shell scripts', () => {
  it('pass shellcheck (install it: apt-get install -y shellcheck)', async () => {
    const scripts = (await readdir(PROVISIONING_DIR)).filter((f) => f.endsWith('.sh')).map((f) => path.join(PROVISIONING_DIR, f));
    assert.ok(scripts.length >= 5, 'install, uninstall, rollback, helper, lib');
    const r = await runCommand('shellcheck', ['--external-sources', '--severity=style', ...scripts, BUNDLE_SCRIPT], { cwd: path.dirname(PROVISIONING_DIR) });
    assert.equal(r.code, 0, `shellcheck:\n${r.stdout}${r.stderr}`);
  });
});
