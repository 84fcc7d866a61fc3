/**
 * Loads the configuration (spec/config.md): YAML file (JSON is YAML too) → environment overrides
 * → `*_file` keys resolved (relative: $CREDENTIALS_DIRECTORY when the file is there, else the
 * config file's directory) and checked readable, mqtt.password_file read into mqtt.password →
 * schema (defaults, validation). Every problem found is reported at once in a ConfigError.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { applyEnvOverrides, PASSWORD_ENV_NAMES } from './env-overrides.js';
import { defaultNodeId } from './node-id.js';
import { configSchema, createConfigSchema, type AgentConfig } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/anchiale/agent.yaml';

export interface LoadConfigOptions {
  /** The config file. */
  path: string;
  /** Environment (overrides, password, CREDENTIALS_DIRECTORY); default process.env. */
  env?: Record<string, string | undefined>;
  /** mqtt.url must be set (for `run`; `config check` does not need it). */
  requireMqttUrl?: boolean;
  /** Host name for the default node.id; default os.hostname(). */
  hostname?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads, overrides, resolves and validates the config; throws ConfigError with every issue. */
export async function loadConfig(opts: LoadConfigOptions): Promise<AgentConfig> {
  const env = opts.env ?? process.env;
  const file = path.resolve(opts.path);

  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError('config_not_found', [{ path: '', message: `config file not found: ${file}` }], file);
    throw new ConfigError('config_invalid', [{ path: '', message: `cannot read ${file}: ${code ?? String(err)}` }], file);
  }

  const doc = parseYaml(source, file);
  const issues: ConfigIssue[] = [];

  // The password never sits in the file.
  if (isRecord(doc.mqtt) && Object.hasOwn(doc.mqtt, 'password')) {
    issues.push({
      path: 'mqtt.password',
      message: `not allowed in the file: only from the environment (${PASSWORD_ENV_NAMES.join(' or ')}) or password_file`,
    });
    delete doc.mqtt.password;
  }

  const overrides = applyEnvOverrides(doc, env, Object.keys(configSchema.shape));
  issues.push(...overrides.issues);

  const fileIssues = await resolveFileKeys(doc, { configDir: path.dirname(file), credentialsDir: env.CREDENTIALS_DIRECTORY || null });
  issues.push(...fileIssues.issues);
  if (overrides.password !== null || fileIssues.password !== null) {
    if (!isRecord(doc.mqtt)) doc.mqtt = {};
    (doc.mqtt as Record<string, unknown>).password = overrides.password ?? fileIssues.password;
  }

  const schema = createConfigSchema({ defaultNodeId: defaultNodeId(opts.hostname ?? osHostname()) });
  const parsed = schema.safeParse(doc, { error: (iss) => (iss.input === undefined ? 'required' : undefined) });
  if (!parsed.success) issues.push(...zodIssues(parsed.error.issues));

  if (opts.requireMqttUrl) {
    const url = isRecord(doc.mqtt) ? doc.mqtt.url : undefined;
    if (url === undefined || url === null) issues.push({ path: 'mqtt.url', message: 'required to run (set mqtt.url, or ANCHIALE_MQTT__URL)' });
  }

  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError('config_invalid', issues.map((i) => withSource(i, overrides.sources)), file);
  }
  return parsed.data;
}

function parseYaml(source: string, file: string): Record<string, unknown> {
  const parsed = YAML.parseDocument(source, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    const issues = parsed.errors.map((e): ConfigIssue => {
      const pos = e.linePos?.[0];
      const first = (e.message.split('\n')[0] ?? e.message).replace(/:$/, '');
      return { path: '', message: `YAML syntax error: ${first}`, ...(pos ? { line: pos.line, col: pos.col } : {}) };
    });
    throw new ConfigError('config_invalid', issues, file);
  }
  const value: unknown = parsed.toJS();
  if (value === null || value === undefined) return {};
  if (!isRecord(value)) throw new ConfigError('config_invalid', [{ path: '', message: 'the file must hold a mapping (key: value, …)' }], file);
  return value;
}

/** Zod issues → one issue per key path (an unknown key is reported at its own path). */
function zodIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...base, key].join('.'), message: 'unknown key' });
    } else {
      out.push({ path: base.join('.'), message: issue.message });
    }
  }
  return out;
}

/** Names the environment variable behind a key (the key, a key under it, or one it created). */
function withSource(issue: ConfigIssue, sources: Map<string, string>): ConfigIssue {
  if (issue.path === '') return issue;
  for (const [key, name] of sources) {
    if (issue.path === key || issue.path.startsWith(`${key}.`) || key.startsWith(`${issue.path}.`)) {
      return { ...issue, message: `${issue.message} (from ${name})` };
    }
  }
  return issue;
}

/* ---------- *_file keys ---------- */

/** Key paths of the config whose key ends in `_file` (file paths, secrets among them). */
export const FILE_KEY_PATHS: readonly (readonly string[])[] = fileKeyPaths(configSchema, []);

function fileKeyPaths(schema: unknown, at: string[]): string[][] {
  // Unwrap default/prefault/optional/nullable down to an object, then recurse into its keys.
  let s = schema as { _zod: { def: { type: string; innerType?: unknown; shape?: Record<string, unknown> } } };
  while (s._zod.def.innerType !== undefined) s = s._zod.def.innerType as typeof s;
  if (s._zod.def.type !== 'object' || s._zod.def.shape === undefined) return [];
  const out: string[][] = [];
  for (const [key, child] of Object.entries(s._zod.def.shape)) {
    if (key.endsWith('_file')) out.push([...at, key]);
    else out.push(...fileKeyPaths(child, [...at, key]));
  }
  return out;
}

interface FileResolution {
  issues: ConfigIssue[];
  /** The trimmed content of mqtt.password_file, when it was read. */
  password: string | null;
}

/** Resolves every `*_file` key of `doc` in place to an absolute path and checks it is a readable file. */
async function resolveFileKeys(doc: Record<string, unknown>, dirs: { configDir: string; credentialsDir: string | null }): Promise<FileResolution> {
  const issues: ConfigIssue[] = [];
  let password: string | null = null;
  for (const keyPath of FILE_KEY_PATHS) {
    const parent = keyPath.slice(0, -1).reduce<unknown>((node, k) => (isRecord(node) ? node[k] : undefined), doc);
    const key = keyPath[keyPath.length - 1] as string;
    if (!isRecord(parent)) continue;
    const value = parent[key];
    if (typeof value !== 'string' || value.length === 0) continue; // null = unset; wrong types: the schema says so
    const dotted = keyPath.join('.');
    const resolved = await resolveFilePath(value, dirs);
    parent[key] = resolved;
    const problem = await unreadable(resolved);
    if (problem !== null) {
      issues.push({ path: dotted, message: problem });
      continue;
    }
    if (dotted === 'mqtt.password_file') {
      try {
        const content = (await readFile(resolved, 'utf8')).trim();
        if (content.length === 0) issues.push({ path: dotted, message: `${resolved} is empty` });
        else password = content;
      } catch (err) {
        issues.push({ path: dotted, message: `cannot read ${resolved}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      }
    }
  }
  return { issues, password };
}

async function resolveFilePath(value: string, dirs: { configDir: string; credentialsDir: string | null }): Promise<string> {
  if (path.isAbsolute(value)) return value;
  if (dirs.credentialsDir !== null) {
    const candidate = path.resolve(dirs.credentialsDir, value);
    if ((await unreadable(candidate)) === null) return candidate;
  }
  return path.resolve(dirs.configDir, value);
}

/** Why `file` cannot be read as a file, or null when it can. */
async function unreadable(file: string): Promise<string | null> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return `${file} is not a file`;
    await access(file, fsConstants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `file not found: ${file}`;
    if (code === 'EACCES') return `file not readable: ${file} (permission denied)`;
    return `cannot read ${file}: ${code ?? String(err)}`;
  }
}
