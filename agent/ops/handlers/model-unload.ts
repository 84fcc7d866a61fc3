import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** `model_unload`: unload the model (when the inference side supports it). */
export const modelUnloadHandler: CommandHandler = {
  command: 'model_unload',
  exclusive: true,
  async run(args, port) {
    parseArgs(z.strictObject({}), args);
    return { data: await port.unloadModel() };
  },
};
