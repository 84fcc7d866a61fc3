import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getLlama, LlamaCompletion, readGgufFileInfo, type Llama } from 'node-llama-cpp';
import { AgentError } from '../../../agent/errors.js';
import { GGUF_PRESETS, TINY_LLAMA_TOKENS, writeTinyLlamaGguf, type TinyLlamaGgufOptions } from '../../../agent/adapters/llm/gguf-writer.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;
let llama: Llama;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anchiale-gguf-'));
  llama = await getLlama({ build: 'never', gpu: false, maxThreads: 1 });
});

after(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

test('the same options and seed give the same bytes; another seed gives other bytes', async () => {
  const cases: Array<[string, TinyLlamaGgufOptions]> = [
    ['f32', {}],
    ['q8_0', { type: 'q8_0', embd: 64, ffn: 128 }],
  ];
  for (const [name, opts] of cases) {
    const a = join(dir, `${name}-a.gguf`);
    const b = join(dir, `${name}-b.gguf`);
    const c = join(dir, `${name}-c.gguf`);
    await writeTinyLlamaGguf(a, { ...opts, seed: 7 });
    await writeTinyLlamaGguf(b, { ...opts, seed: 7 });
    await writeTinyLlamaGguf(c, { ...opts, seed: 8 });
    assert.equal(await sha256(a), await sha256(b), `${name}: same seed`);
    assert.notEqual(await sha256(a), await sha256(c), `${name}: other seed`);
  }
});

test('the file is GGUF v3 with llama metadata, a chat template and first-dim-contiguous tensors', async () => {
  const path = join(dir, 'tiny.gguf');
  const res = await writeTinyLlamaGguf(path, { vocabExtra: ['▁anchiale'] });
  assert.equal((await stat(path)).size, res.bytes);
  assert.ok(res.bytes < 1_500_000, `tiny model is small (${res.bytes} bytes)`);
  const info = await readGgufFileInfo(path, { logWarnings: false });
  assert.equal(info.version, 3);
  const md = info.metadata;
  assert.equal(md.general.architecture, 'llama');
  assert.equal(md.general.alignment, 32);
  const llamaMd = md.llama as { embedding_length: number; block_count: number; attention: { head_count: number; head_count_kv: number } };
  assert.equal(llamaMd.embedding_length, 64);
  assert.equal(llamaMd.block_count, 2);
  assert.deepEqual([llamaMd.attention.head_count, llamaMd.attention.head_count_kv], [4, 2]);
  const tokens = md.tokenizer.ggml.tokens as string[];
  assert.equal(tokens.length, res.vocabSize);
  assert.deepEqual(tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
  assert.equal(tokens[3], '<0x00>');
  assert.equal(tokens[258], '<0xFF>');
  assert.equal(tokens[TINY_LLAMA_TOKENS.imEnd], '<|im_end|>');
  assert.ok(tokens.includes('▁'), 'has ▁');
  assert.ok(tokens.includes('▁the'), 'has ▁the');
  assert.ok(tokens.includes('▁anchiale'), 'has the extra piece');
  assert.match(String(md.tokenizer.chat_template), /<\|im_start\|>/);
  const shapes = new Map((info.fullTensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number)]));
  assert.equal(shapes.size, 2 + 9 * 2 + 1);
  assert.deepEqual(shapes.get('token_embd.weight'), [64, res.vocabSize]);
  assert.deepEqual(shapes.get('output.weight'), [64, res.vocabSize]);
  assert.deepEqual(shapes.get('blk.1.attn_k.weight'), [64, 32]);
  assert.deepEqual(shapes.get('blk.0.ffn_down.weight'), [128, 64]);
  assert.deepEqual(shapes.get('output_norm.weight'), [64]);
  for (const t of info.fullTensorInfo ?? []) assert.equal(Number(t.offset) % 32, 0, `${t.name} aligned`);
});

test('node-llama-cpp loads it, round-trips text and generates (f32 and q8_0)', async () => {
  const cases: Array<[string, TinyLlamaGgufOptions]> = [
    ['f32', {}],
    ['q8_0', { type: 'q8_0' }],
  ];
  for (const [name, opts] of cases) {
    const path = join(dir, `gen-${name}.gguf`);
    await writeTinyLlamaGguf(path, opts);
    const model = await llama.loadModel({ modelPath: path });
    try {
      const text = 'hello world, the heater is warm. Ünïcode ☃';
      assert.equal(model.detokenize(model.tokenize(text)), text, `${name}: round trip`);
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const res = await completion.generateCompletionWithMeta('the heater', { maxTokens: 24, temperature: 0 });
      assert.equal(res.metadata.stopReason, 'maxTokens', `${name}: end tokens are rare`);
      assert.ok(res.response.length > 10, `${name}: some text (${JSON.stringify(res.response)})`);
      await context.dispose();
    } finally {
      await model.dispose();
    }
  }
});

test('endTokens: eager makes the model end by itself', async () => {
  const path = join(dir, 'eager.gguf');
  await writeTinyLlamaGguf(path, { endTokens: 'eager' });
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const res = await completion.generateCompletionWithMeta('the heater', { maxTokens: 100, temperature: 0 });
    assert.equal(res.metadata.stopReason, 'eogToken');
    await context.dispose();
  } finally {
    await model.dispose();
  }
});

test('invalid shapes are refused with invalid_gguf_options', async () => {
  const cases: Array<[string, TinyLlamaGgufOptions]> = [
    ['embd not a multiple of heads', { embd: 60, heads: 8 }],
    ['heads not a multiple of kv heads', { heads: 4, kvHeads: 3 }],
    ['q8_0 with embd not a multiple of 32', { type: 'q8_0', embd: 48, heads: 4, kvHeads: 2 }],
    ['zero layers', { layers: 0 }],
    ['fractional seed', { seed: 1.5 }],
  ];
  for (const [name, opts] of cases) {
    await assert.rejects(writeTinyLlamaGguf(join(dir, 'bad.gguf'), opts), (err: unknown) => {
      assert.ok(err instanceof AgentError, name);
      assert.equal(err.code, 'invalid_gguf_options', name);
      return true;
    });
  }
});

test('presets: bench-cpu and llama-3.2-1b shapes are valid', () => {
  assert.deepEqual(
    [GGUF_PRESETS['llama-3.2-1b'].layers, GGUF_PRESETS['llama-3.2-1b'].embd, GGUF_PRESETS['llama-3.2-1b'].heads, GGUF_PRESETS['llama-3.2-1b'].kvHeads, GGUF_PRESETS['llama-3.2-1b'].ffn],
    [16, 2048, 32, 8, 8192],
  );
  for (const preset of Object.values(GGUF_PRESETS)) {
    const embd = preset.embd ?? 64;
    const heads = preset.heads ?? 4;
    assert.equal(embd % heads, 0);
    assert.equal(heads % (preset.kvHeads ?? 2), 0);
    if (preset.type === 'q8_0') assert.equal((preset.ffn ?? 128) % 32, 0);
  }
});

test('make-model CLI writes a preset and names the model by the file stem', async () => {
  const out = join(dir, 'models', 'tiny-cli.gguf');
  const cli = ['--import', 'tsx', 'scripts/make-model.ts'];
  const { stdout } = await run(process.execPath, [...cli, '--preset', 'tiny', '--out', out], { cwd: repoRoot });
  const res = JSON.parse(stdout) as { model: string; bytes: number };
  assert.equal(res.model, 'tiny-cli');
  assert.equal((await stat(out)).size, res.bytes);
  await assert.rejects(run(process.execPath, [...cli, '--out', join(dir, 'Bad Name.gguf')], { cwd: repoRoot }), /must match/);
});
