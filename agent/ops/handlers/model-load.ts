import { z } from 'zod';
import { parseArgs } from '../command-args.js';
import type { CommandHandler } from '../command-handler.js';

/** A model id: the GGUF file stem (spec/mqtt-api.md "Inference jobs"). */
export const MODEL_ID = /^[a-z0-9._-]+$/;

const schema = z.strictObject({
  model: z.string('must be a model id (string)').max(200, 'must be at most 200 characters').regex(MODEL_ID, 'must be a model id [a-z0-9._-]+ (the GGUF file stem)'),
});

/** `model_load {model}`: load a model from models_dir (when the inference side supports it). */
export const modelLoadHandler: CommandHandler = {
  command: 'model_load',
  exclusive: true,
  async run(args, port) {
    const { model } = parseArgs(schema, args);
    return { data: { model, ...(await port.loadModel(model)) } };
  },
};
