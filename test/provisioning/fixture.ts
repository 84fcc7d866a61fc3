/**
 * Fixtures for the provisioning tests: a stub bin directory put first on PATH (fake nvidia-smi,
 * account tools, systemctl, chown, ldconfig, node, npm), a fixture root with its own
 * etc/passwd and etc/group, fixture projects and bundles made by scripts/bundle.sh, and a
 * snapshot of a tree (modes, sha256 of files, link targets) to prove idempotency.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, cp, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PROVISIONING_DIR = path.join(PROJECT_DIR, 'provisioning');
export const BUNDLE_SCRIPT = path.join(PROJECT_DIR, 'scripts', 'bundle.sh');

/** The uid and gid of whoever runs the tests: every account of a fixture root maps to them. */
export const RUNNER = { uid: os.userInfo().uid, gid: os.userInfo().gid };

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bash script args…` and collects its output; never rejects on a non-zero exit. */
export function runBash(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return runCommand('bash', [script, ...args], opts);
}

/** Runs a command and collects its output; never rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd ?? PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface FakeGpu {
  min: number;
  max: number;
  limit: number;
  /** false: the card answers [N/A] for its power limits (no power management). */
  supported: boolean;
  persistence: 'Enabled' | 'Disabled';
  /** -pl prints a warning and exits 0 without applying (what some drivers do). */
  ignorePl: boolean;
  /** GPU indexes the fake knows. */
  indexes: string[];
}

const DEFAULT_GPU: FakeGpu = { min: 100, max: 450, limit: 450, supported: true, persistence: 'Enabled', ignorePl: false, indexes: ['0'] };

function which(cmd: string): string {
  return execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
}

/** The stub bin directory and the state the fakes keep. */
export class Stubs {
  readonly bin: string;
  readonly state: string;
  readonly log: string;

  private constructor(readonly dir: string) {
    this.bin = path.join(dir, 'bin');
    this.state = path.join(dir, 'state');
    this.log = path.join(dir, 'state', 'calls.log');
  }

  /** PATH with the stubs first. */
  get path(): string {
    return `${this.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { PATH: this.path, HOME: this.dir, LANG: 'C.UTF-8', ...extra };
  }

  static async create(dir: string, gpu: Partial<FakeGpu> = {}, nodeVersion = '22.12.0'): Promise<Stubs> {
    const s = new Stubs(dir);
    await mkdir(s.bin, { recursive: true });
    await mkdir(s.state, { recursive: true });
    await writeFile(s.log, '');
    await s.setGpu({ ...DEFAULT_GPU, ...gpu });
    await writeFile(path.join(s.state, 'node-version'), `${nodeVersion}\n`);
    await writeFile(path.join(s.state, 'ldconfig.txt'), [
      '\tlibvulkan.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libvulkan.so.1',
      '\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6',
      '',
    ].join('\n'));
    const realSystemctl = which('systemctl');
    for (const [name, body] of Object.entries(stubScripts(s.state, s.log, realSystemctl))) {
      const file = path.join(s.bin, name);
      await writeFile(file, body);
      await chmod(file, 0o755);
    }
    return s;
  }

  async setGpu(gpu: FakeGpu): Promise<void> {
    const st = this.state;
    await writeFile(path.join(st, 'gpu-min'), `${gpu.min}`);
    await writeFile(path.join(st, 'gpu-max'), `${gpu.max}`);
    await writeFile(path.join(st, 'gpu-limit'), `${gpu.limit}`);
    await writeFile(path.join(st, 'gpu-supported'), gpu.supported ? 'yes' : 'no');
    await writeFile(path.join(st, 'gpu-persistence'), gpu.persistence);
    await writeFile(path.join(st, 'gpu-ignore-pl'), gpu.ignorePl ? 'yes' : 'no');
    await writeFile(path.join(st, 'gpu-indexes'), gpu.indexes.join('\n') + '\n');
  }

  async gpuLimit(): Promise<number> {
    return Number((await readFile(path.join(this.state, 'gpu-limit'), 'utf8')).trim());
  }

  async setNodeVersion(v: string): Promise<void> {
    await writeFile(path.join(this.state, 'node-version'), `${v}\n`);
  }

  /** The calls made to the stubs, one `name args…` a line. */
  async calls(): Promise<string[]> {
    return (await readFile(this.log, 'utf8')).split('\n').filter((l) => l.length > 0);
  }
}

/** The stub scripts (bash), by name. */
function stubScripts(state: string, log: string, realSystemctl: string): Record<string, string> {
  const head = `#!/usr/bin/env bash\nset -euo pipefail\nS='${state}'\nprintf '%s\\n' "\${0##*/} $*" >>'${log}'\n`;
  // useradd/groupadd/usermod/userdel/groupdel: only with --prefix DIR (install.sh --root), on
  // DIR/etc/passwd and DIR/etc/group, every account mapped to the runner's uid/gid.
  const prefix = `P=''\nargs=()\nwhile [[ $# -gt 0 ]]; do case $1 in --prefix|-P) P=$2; shift 2 ;; *) args+=("$1"); shift ;; esac; done\n[[ -n $P ]] || { echo "\${0##*/}: stub used without --prefix" >&2; exit 3; }\nset -- "\${args[@]}"\n`;
  return {
    'nvidia-smi': `${head}
q='' idx='' pl='' fmt=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --query-gpu=*) q=\${1#--query-gpu=}; shift ;;
    --format=*) fmt=\${1#--format=}; shift ;;
    -i) idx=$2; shift 2 ;;
    -pl) pl=$2; shift 2 ;;
    *) echo "fake nvidia-smi: unknown argument $1" >&2; exit 2 ;;
  esac
done
idx=\${idx:-0}
grep -qx -- "$idx" "$S/gpu-indexes" || { echo "No devices were found" >&2; exit 6; }
sup=$(<"$S/gpu-supported")
w() { if [[ $sup == yes ]]; then printf '%.2f' "$1"; else printf '[N/A]'; fi; }
if [[ -n $pl ]]; then
  if [[ $sup != yes ]]; then echo "Changing power management limit is not supported for GPU: 00000000:01:00.0."; echo "Treating as warning and moving on."; echo "All done."; exit 0; fi
  [[ $pl =~ ^[0-9]+(\\.[0-9]+)?$ ]] || { echo "Invalid power limit $pl" >&2; exit 2; }
  min=$(<"$S/gpu-min") max=$(<"$S/gpu-max")
  if awk -v p="$pl" -v a="$min" -v b="$max" 'BEGIN { exit !(p < a || p > b) }'; then
    printf 'Provided power limit %.2f W is not a valid power limit which should be between %.2f W and %.2f W for GPU 00000000:01:00.0\\n' "$pl" "$min" "$max" >&2
    exit 2
  fi
  if [[ $(<"$S/gpu-ignore-pl") == yes ]]; then echo "Warning: power limit not changed. Treating as warning and moving on."; exit 0; fi
  old=$(<"$S/gpu-limit")
  printf '%s' "$pl" >"$S/gpu-limit"
  printf 'Power limit for GPU 00000000:01:00.0 was set to %.2f W from %.2f W.\\nAll done.\\n' "$pl" "$old"
  exit 0
fi
[[ -n $q ]] || { echo "fake nvidia-smi: nothing to do" >&2; exit 2; }
out=()
IFS=, read -ra fields <<<"$q"
for f in "\${fields[@]}"; do
  case $f in
    name) out+=("NVIDIA GeForce RTX 4090 (fake)") ;;
    driver_version) out+=("550.54.14") ;;
    persistence_mode) out+=("$(<"$S/gpu-persistence")") ;;
    power.min_limit) out+=("$(w "$(<"$S/gpu-min")")") ;;
    power.max_limit) out+=("$(w "$(<"$S/gpu-max")")") ;;
    power.limit|enforced.power.limit) out+=("$(w "$(<"$S/gpu-limit")")") ;;
    *) echo "fake nvidia-smi: unknown field $f" >&2; exit 2 ;;
  esac
done
if [[ $fmt != *nounits* ]]; then for i in "\${!out[@]}"; do [[ \${out[$i]} =~ ^[0-9.]+$ && \${fields[$i]} == power.* ]] && out[$i]+=" W"; done; fi
(IFS=,; s="\${out[*]}"; printf '%s\\n' "\${s//,/, }")
`,
    ldconfig: `${head}cat "$S/ldconfig.txt"\n`,
    node: `${head}
if [[ \${1:-} == -p ]]; then cat "$S/node-version"; exit 0; fi
echo "fake node: only -p process.versions.node" >&2; exit 2
`,
    chown: `${head}exit 0\n`,
    getent: `${head}echo "getent must not be called with --root (the host's accounts)" >&2; exit 3\n`,
    systemctl: `${head}
for a in "$@"; do
  if [[ $a == --root=* ]]; then exec '${realSystemctl}' "$@"; fi
done
exit 0
`,
    'systemd-tmpfiles': `${head}exit 0\n`,
    groupadd: `${head}${prefix}
g=\${!#}
echo "$g:x:${RUNNER.gid}:" >>"$P/etc/group"
`,
    useradd: `${head}${prefix}
u=\${!#} groups=''
while [[ $# -gt 1 ]]; do case $1 in --groups|-G) groups=$2; shift 2 ;; *) shift ;; esac; done
echo "$u:x:${RUNNER.uid}:${RUNNER.gid}::/var/lib/$u:/usr/sbin/nologin" >>"$P/etc/passwd"
IFS=, read -ra gs <<<"$groups"
for g in "\${gs[@]}"; do
  awk -F: -v OFS=: -v g="$g" -v u="$u" '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$P/etc/group" >"$P/etc/group.new"
  mv "$P/etc/group.new" "$P/etc/group"
done
`,
    usermod: `${head}${prefix}
u=\${!#} g=''
while [[ $# -gt 1 ]]; do case $1 in --groups|-G) g=$2; shift 2 ;; *) shift ;; esac; done
awk -F: -v OFS=: -v g="$g" -v u="$u" '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' "$P/etc/group" >"$P/etc/group.new"
mv "$P/etc/group.new" "$P/etc/group"
`,
    userdel: `${head}${prefix}
u=\${!#}
awk -F: -v u="$u" '$1 != u' "$P/etc/passwd" >"$P/etc/passwd.new"; mv "$P/etc/passwd.new" "$P/etc/passwd"
awk -F: -v OFS=: -v u="$u" '$1 != u { n = split($4, m, ","); s = ""; for (i = 1; i <= n; i++) if (m[i] != u) s = (s == "" ? m[i] : s "," m[i]); $4 = s; print }' "$P/etc/group" >"$P/etc/group.new"
mv "$P/etc/group.new" "$P/etc/group"
`,
    groupdel: `${head}${prefix}
g=\${!#}
awk -F: -v g="$g" '$1 != g' "$P/etc/group" >"$P/etc/group.new"; mv "$P/etc/group.new" "$P/etc/group"
`,
  };
}

/** A fixture root: DIR/etc/passwd and DIR/etc/group with root and video (render is made by install.sh). */
export async function makeRoot(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'etc'), { recursive: true });
  await writeFile(path.join(dir, 'etc', 'passwd'), `root:x:${RUNNER.uid}:${RUNNER.gid}:root:/root:/bin/bash\n`);
  await writeFile(path.join(dir, 'etc', 'group'), `root:x:${RUNNER.gid}:\nvideo:x:${RUNNER.gid}:\n`);
  return dir;
}

/**
 * A fixture project that scripts/bundle.sh can bundle: a build script, the real provisioning/
 * and systemd/ of this repository, and a hand-made node_modules with a production dependency
 * (and its nested one), a development dependency, and node-llama-cpp's platform packages.
 */
export async function makeProject(dir: string, version: string): Promise<string> {
  const pkg = {
    name: 'anchiale-agent',
    version,
    type: 'module',
    scripts: { build: 'mkdir -p dist/agent && cp src/main.js dist/agent/main.js' },
    dependencies: { 'dep-a': '1.0.0', 'node-llama-cpp': '1.0.0' },
    devDependencies: { 'dev-b': '1.0.0' },
  };
  await mkdir(path.join(dir, 'src'), { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  await writeFile(path.join(dir, 'README.md'), '# fixture\n');
  await writeFile(path.join(dir, 'src', 'main.js'), `console.log('anchiale ${version}');\n`);
  const mods: Array<[string, object]> = [
    ['dep-a', { name: 'dep-a', version: '1.0.0', dependencies: { 'nested-c': '2.0.0' } }],
    ['dep-a/node_modules/nested-c', { name: 'nested-c', version: '2.0.0' }],
    ['nested-c', { name: 'nested-c', version: '1.0.0' }],
    ['dev-b', { name: 'dev-b', version: '1.0.0', dependencies: { 'nested-c': '1.0.0' } }],
    ['node-llama-cpp', {
      name: 'node-llama-cpp', version: '1.0.0',
      optionalDependencies: { '@node-llama-cpp/linux-x64': '1.0.0', '@node-llama-cpp/linux-arm64': '1.0.0', '@node-llama-cpp/linux-x64-vulkan': '1.0.0', '@node-llama-cpp/linux-x64-cuda': '1.0.0' },
    }],
    ['@node-llama-cpp/linux-x64', { name: '@node-llama-cpp/linux-x64', version: '1.0.0' }],
    ['@node-llama-cpp/linux-arm64', { name: '@node-llama-cpp/linux-arm64', version: '1.0.0' }],
    ['@node-llama-cpp/linux-x64-vulkan', { name: '@node-llama-cpp/linux-x64-vulkan', version: '1.0.0' }],
    ['@node-llama-cpp/linux-x64-cuda', { name: '@node-llama-cpp/linux-x64-cuda', version: '1.0.0' }],
  ];
  for (const [rel, json] of mods) {
    const d = path.join(dir, 'node_modules', rel);
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'package.json'), JSON.stringify(json) + '\n');
    await writeFile(path.join(d, 'index.js'), `export const name = ${JSON.stringify(rel)};\n`);
  }
  for (const d of ['provisioning', 'systemd', 'schema', 'examples']) {
    await cp(path.join(PROJECT_DIR, d), path.join(dir, d), { recursive: true });
  }
  return dir;
}

/** Builds the bundle of a fixture project; returns the tarball's path. */
export async function makeBundle(projectDir: string, outDir: string, extraArgs: string[] = []): Promise<string> {
  const r = await runBash(BUNDLE_SCRIPT, ['--project', projectDir, '--out', outDir, ...extraArgs], {
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  if (r.code !== 0) throw new Error(`bundle.sh failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  const version = (JSON.parse(await readFile(path.join(projectDir, 'package.json'), 'utf8')) as { version: string }).version;
  return path.join(outDir, `anchiale-agent-${version}.tar.gz`);
}

/** Every entry under `root`: type, mode, and sha256 (files) or target (links), sorted by path. */
export async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.set(rel, `link -> ${await readlink(p)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${mode} ${st.uid}:${st.gid}`);
        await walk(p);
      } else {
        const sum = createHash('sha256').update(await readFile(p)).digest('hex');
        out.set(rel, `file ${mode} ${st.uid}:${st.gid} ${sum}`);
      }
    }
  }
  await walk(root);
  return out;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
