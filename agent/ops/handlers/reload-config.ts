import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';
import { OpsError } from '../ops-error.js';

/**
 * `reload_config`: read the file again. Valid: what can change live is applied, the rest is listed
 * in `restart_required`. Invalid: the running configuration is kept and the answer is an error
 * (`internal`, the contract's code for a failure that is not the request's) listing every issue.
 */
export const reloadConfigHandler: CommandHandler = {
  command: 'reload_config',
  stagger: 'before_run',
  exclusive: true,
  async run(args, port, ctx) {
    parseArgs(z.strictObject({}), args);
    const r = await port.reloadConfig();
    if (!r.ok) throw new OpsError('internal', r.message, { errors: r.errors });
    return { data: { ...r, ...(ctx.delayMs > 0 ? { delayed_s: ctx.delayMs / 1000 } : {}) } };
  },
};
