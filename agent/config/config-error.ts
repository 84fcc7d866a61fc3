import { AgentError } from '../errors.js';

/** One problem of a configuration, at a key path like `thermostat.min_on_s` ('' = the file itself). */
export interface ConfigIssue {
  path: string;
  message: string;
  /** Position in the file (1-based), for YAML syntax errors. */
  line?: number;
  col?: number;
}

export type ConfigErrorCode = 'config_invalid' | 'config_not_found';

/** A configuration that cannot be used, with every issue found (exit code 78). */
export class ConfigError extends AgentError {
  readonly issues: readonly ConfigIssue[];
  /** The file read, when there is one. */
  readonly file: string | null;

  constructor(code: ConfigErrorCode, issues: readonly ConfigIssue[], file: string | null = null) {
    const where = file === null ? 'configuration' : `configuration ${file}`;
    const summary = code === 'config_not_found' ? `${where} not found` : `${where} invalid: ${issues.length} issue${issues.length === 1 ? '' : 's'}`;
    super(code, summary, { file, issues });
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = file;
  }

  /** One line per issue: `path: message` (just the message for the file itself). */
  format(): string {
    return this.issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('\n');
  }
}
