import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROVISIONING_DIR, runCommand } from './fixture.js';

/** The arguments every provisioning script shares (lib.sh's usage_of and use_root), before any change. */
describe('provisioning scripts: shared arguments', () => {
  // [script, first line of its usage]
  const scripts: Array<[string, RegExp]> = [
    ['install.sh', /^Installs \(or upgrades\) the AnchIAle agent/],
    ['rollback.sh', /^Switches the AnchIAle agent back/],
    ['uninstall.sh', /^Removes the AnchIAle agent/],
  ];
  for (const [script, first] of scripts) {
    const run = (...args: string[]) => runCommand('bash', [path.join(PROVISIONING_DIR, script), ...args]);

    it(`${script}: --help prints its usage (the header comment), exit 0`, async () => {
      const r = await run('--help');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, first);
      assert.match(r.stdout, /usage: \S+\.sh/);
      assert.doesNotMatch(r.stdout, /set -euo|#!/, 'only the comment, without its markers');
    });

    it(`${script}: an unknown option → the error, then the usage, exit 2`, async () => {
      const r = await run('--bogus');
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: unknown option --bogus/);
      assert.match(r.stdout, first);
    });

    it(`${script}: --root that is not a directory → a clear error, exit 1, nothing done`, async () => {
      const r = await run('--root', '/nonexistent/anchiale-root');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: --root \/nonexistent\/anchiale-root: no such directory$/m);
    });
  }
});
