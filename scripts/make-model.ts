/**
 * Writes a randomly initialised LLaMA GGUF made by the project (no download):
 *   node --import tsx scripts/make-model.ts --preset tiny --out DIR/tiny.gguf
 * The model id is the file stem, so name the file what the agent should call the model.
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { GGUF_PRESETS, writeTinyLlamaGguf, type GgufPresetName } from '../agent/adapters/llm/gguf-writer.js';

const MODEL_ID = /^[a-z0-9._-]+$/;

function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
}

const program = new Command('make-model')
  .description('write a deterministic random LLaMA GGUF (tests and benchmarks, no download)')
  .addOption(new Option('--preset <name>', 'model shape').choices(Object.keys(GGUF_PRESETS)).default('tiny'))
  .requiredOption('--out <file>', 'output file; its stem is the model id ([a-z0-9._-]+), e.g. models/tiny.gguf')
  .option('--seed <n>', 'PRNG seed', intArg)
  .addOption(new Option('--type <type>', 'weight type').choices(['f32', 'q8_0']))
  .addOption(new Option('--end-tokens <how>', 'how often the model ends by itself').choices(['rare', 'normal', 'eager']))
  .action(async (opts: { preset: GgufPresetName; out: string; seed?: number; type?: 'f32' | 'q8_0'; endTokens?: 'rare' | 'normal' | 'eager' }) => {
    const out = resolve(opts.out);
    const id = basename(out, extname(out));
    if (!MODEL_ID.test(id)) {
      throw new InvalidArgumentError(`model id "${id}" (the file stem) must match [a-z0-9._-]+`);
    }
    await mkdir(dirname(out), { recursive: true });
    const t0 = performance.now();
    const res = await writeTinyLlamaGguf(out, {
      ...GGUF_PRESETS[opts.preset],
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.type !== undefined ? { type: opts.type } : {}),
      ...(opts.endTokens !== undefined ? { endTokens: opts.endTokens } : {}),
    });
    const ms = Math.round(performance.now() - t0);
    process.stdout.write(
      `${JSON.stringify({ model: id, path: res.path, preset: opts.preset, bytes: res.bytes, parameters: res.parameters, vocab: res.vocabSize, ms })}\n`,
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`make-model: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
