/**
 * One remote command: validates its arguments (OpsError `invalid_request` naming the field) and
 * does its work over the OpsPort. The router owns the envelope, the rate limit, staggering and
 * the audit.
 */
import type { OpsPort } from './ops-port.js';

export interface CommandContext {
  /** True when the request came on `<base>/all/request/<cmd>`. */
  fleet: boolean;
  /** The stagger delay the router chose for this request (ms; 0 unless fleet-wide and staggered). */
  delayMs: number;
}

export interface CommandOutcome {
  data: Record<string, unknown>;
  /** Runs once the answer is published (after the stagger delay for `after_answer` commands). */
  afterAnswer?: () => void;
}

export interface CommandHandler {
  readonly command: string;
  /**
   * Fleet-wide requests of this command are spread by a random delay: `before_run` waits, then
   * runs and answers (reload_config); `after_answer` answers at once and runs `afterAnswer` after
   * the delay (restart).
   */
  readonly stagger?: 'before_run' | 'after_answer';
  /** One at a time: a request while one runs (or waits its stagger) is answered `busy`. */
  readonly exclusive?: boolean;
  run(args: Record<string, unknown>, port: OpsPort, ctx: CommandContext): Promise<CommandOutcome>;
}
