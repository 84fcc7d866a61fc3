import { open } from 'node:fs/promises';
import { AgentError } from '../../errors.js';

/**
 * Writes a small, randomly initialised LLaMA model as GGUF v3 (alignment 32) that node-llama-cpp
 * loads and generates with. No model can be downloaded where the project is built and tested, so
 * the project makes its own: deterministic bytes for a given seed and options, tensors streamed to
 * the file (a 1 GB benchmark model is never held in memory).
 */
export interface TinyLlamaGgufOptions {
  layers?: number;
  embd?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  contextLength?: number;
  seed?: number;
  /** Tensor type of the 2-D weights (norms stay F32). Q8_0 needs embd and ffn multiples of 32. */
  type?: 'f32' | 'q8_0';
  /** Extra normal pieces appended to the built-in vocabulary (e.g. '▁heater'). */
  vocabExtra?: string[];
  /** Pad the vocabulary with synthetic pieces up to this many tokens (realistic output-layer cost). */
  vocabSize?: number;
  /** llama.rope.freq_base (default 10000). */
  ropeFreqBase?: number;
  /** general.name (default 'anchiale-tiny'). */
  name?: string;
  /**
   * How likely the model ends a text by itself: 'rare' (default: end-token logits held at 0, so
   * generations run to max tokens — benchmarks, cancel tests), 'normal', or 'eager' (ends early).
   */
  endTokens?: 'rare' | 'normal' | 'eager';
  /**
   * Output weight of the 256 byte tokens relative to whole words (default 0.3: rarely sampled).
   * A high value (e.g. 3) makes the model emit raw bytes, hence split UTF-8 characters.
   */
  byteTokenWeight?: number;
}

export type GgufPresetName = 'tiny' | 'bench-cpu' | 'llama-3.2-1b';

/** Named shapes: `tiny` for tests, `bench-cpu` for one-CPU-thread benchmarks, `llama-3.2-1b` for GPUs. */
export const GGUF_PRESETS: Readonly<Record<GgufPresetName, Readonly<TinyLlamaGgufOptions>>> = {
  tiny: { name: 'anchiale-tiny' },
  // ≈ 67 MB; measured 150–250 tok/s decode on one CPU thread of the 2-core build machine (load-dependent).
  'bench-cpu': {
    name: 'anchiale-bench-cpu',
    layers: 8,
    embd: 768,
    heads: 12,
    kvHeads: 4,
    ffn: 2048,
    contextLength: 4096,
    type: 'q8_0',
    vocabSize: 8192,
  },
  // Llama 3.2 1B's shape and per-token compute (untied output layer), Q8_0 ≈ 1.6 GB: GPU benchmarks.
  'llama-3.2-1b': {
    name: 'anchiale-llama-3.2-1b-shape',
    layers: 16,
    embd: 2048,
    heads: 32,
    kvHeads: 8,
    ffn: 8192,
    contextLength: 131072,
    ropeFreqBase: 500000,
    type: 'q8_0',
    vocabSize: 128256,
  },
};

export interface GgufWriteResult {
  path: string;
  bytes: number;
  vocabSize: number;
  tensorCount: number;
  /** Number of weights (all tensors). */
  parameters: number;
}

/** Token ids of the fixed part of the vocabulary. */
export const TINY_LLAMA_TOKENS = { unk: 0, bos: 1, eos: 2, imStart: 259, imEnd: 260 } as const;

/** A ChatML-like template: node-llama-cpp recognises it, so `messages` work through it. */
export const TINY_LLAMA_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const GGUF_VERSION = 3;
const ALIGNMENT = 32;
const QK8_0 = 32;
const Q8_0_BLOCK_BYTES = 2 + QK8_0;
const CHUNK_ELEMENTS = 1 << 20;

enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

enum GgmlType {
  F32 = 0,
  Q8_0 = 8,
}

enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  BYTE = 6,
}

const SPACE = '\u2581';

const WORDS = (
  'the a an and or of to in on for with is are was be it this that as at by from heat heater room warm ' +
  'cold power card model token fast slow good new old day night hello world yes no not all one two three ' +
  'time work job jobs user answer question light water air house home city train text word small big ' +
  'i you he she we they my your our his her its what when where why how which who can will would should ' +
  'have has had do does did say said go went make made know think see come take want look use find give ' +
  'tell ask feel try leave call keep let begin seem help show hear play run move live believe bring ' +
  'happen write sit stand lose pay meet include continue set learn change lead understand watch follow stop ' +
  'create speak read allow add spend grow open walk win offer remember love consider appear buy wait serve ' +
  'die send expect build stay fall cut reach kill remain suggest raise pass sell require report decide pull'
).split(' ');

const SUBWORDS = (
  'ing ed er es ly tion ment ness able al ic ous ive ful less est ist ize th he in er an re on at en nd ' +
  'ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur'
).split(' ');

const PUNCT = ['.', ',', '!', '?', ':', ';', '-', "'", '"', '(', ')', '\n'];

interface VocabEntry {
  piece: string;
  type: TokenType;
  /** Weight of the token's output row: whole words are likelier than fragments and raw bytes. */
  emphasis: number;
}

/** The vocabulary: <unk> <s> </s>, 256 byte tokens, ChatML markers, ▁, letters, words (+ prefixes). */
function buildVocab(extra: readonly string[], padTo: number | undefined, byteWeight: number): VocabEntry[] {
  const entries: VocabEntry[] = [
    { piece: '<unk>', type: TokenType.UNKNOWN, emphasis: 0 },
    { piece: '<s>', type: TokenType.CONTROL, emphasis: 0 },
    { piece: '</s>', type: TokenType.CONTROL, emphasis: 0 },
  ];
  for (let b = 0; b < 256; b++) {
    const piece = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    entries.push({ piece, type: TokenType.BYTE, emphasis: byteWeight });
  }
  entries.push(
    { piece: '<|im_start|>', type: TokenType.CONTROL, emphasis: 0 },
    { piece: '<|im_end|>', type: TokenType.CONTROL, emphasis: 0 },
  );

  const seen = new Map(entries.map((e) => [e.piece, e]));
  const add = (piece: string, emphasis: number): void => {
    if (piece.length === 0) return;
    const known = seen.get(piece);
    if (known) {
      known.emphasis = Math.max(known.emphasis, emphasis);
      return;
    }
    // SPM merges pairs of existing pieces: every prefix must exist for the piece to be reachable.
    const chars = Array.from(piece);
    for (let i = 1; i < chars.length; i++) add(chars.slice(0, i).join(''), 0.5);
    const entry = { piece, type: TokenType.NORMAL, emphasis };
    seen.set(piece, entry);
    entries.push(entry);
  };

  add(SPACE, 0.7);
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (const ch of letters) add(ch, 0.6);
  for (const p of PUNCT) add(p, 0.8);
  for (const ch of letters) add(SPACE + ch, 0.6);
  for (const w of WORDS) add(SPACE + w, 1);
  for (const w of WORDS) add(w, 0.8);
  for (const s of SUBWORDS) add(s, 0.7);
  for (const p of extra) add(p, 1);

  if (padTo !== undefined) {
    // Synthetic syllable words (▁ba, ▁bake, …): unique, printable, deterministic.
    const cons = 'bcdfghjklmnprstvwz';
    const vows = 'aeiou';
    const syll: string[] = [];
    for (const c of cons) for (const v of vows) syll.push(c + v);
    let n = 0;
    while (entries.length < padTo) {
      let k = n++;
      let word = '';
      do {
        word += syll[k % syll.length];
        k = Math.floor(k / syll.length);
      } while (k > 0);
      const piece = SPACE + word;
      if (!seen.has(piece)) {
        const entry = { piece, type: TokenType.NORMAL, emphasis: 0.7 };
        seen.set(piece, entry);
        entries.push(entry);
      }
    }
  }
  return entries;
}

/** mulberry32: a small seeded PRNG, 32-bit state, uniform uint32 output. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a of a string, to derive an independent seed per tensor. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half from a float (round to nearest; enough for positive block scales). */
function toFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >>> (1 - exp);
    return sign | ((m + 0x1000) >>> 13);
  }
  if (exp >= 0x1f) return sign | 0x7c00;
  return (sign | (exp << 10) | (mant >>> 13)) + ((mant >>> 12) & 1);
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem === 0) return;
    const n = alignment - rem;
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

type MetaValue =
  | { t: 'u32'; v: number }
  | { t: 'i32'; v: number }
  | { t: 'f32'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'arr_str'; v: readonly string[] }
  | { t: 'arr_f32'; v: readonly number[] }
  | { t: 'arr_i32'; v: readonly number[] };

function writeMeta(sink: ByteSink, key: string, value: MetaValue): void {
  sink.str(key);
  switch (value.t) {
    case 'u32':
      sink.u32(ValueType.UINT32);
      sink.u32(value.v);
      return;
    case 'i32':
      sink.u32(ValueType.INT32);
      sink.i32(value.v);
      return;
    case 'f32':
      sink.u32(ValueType.FLOAT32);
      sink.f32(value.v);
      return;
    case 'bool':
      sink.u32(ValueType.BOOL);
      sink.u8(value.v ? 1 : 0);
      return;
    case 'str':
      sink.u32(ValueType.STRING);
      sink.str(value.v);
      return;
    case 'arr_str':
      sink.u32(ValueType.ARRAY);
      sink.u32(ValueType.STRING);
      sink.u64(value.v.length);
      for (const s of value.v) sink.str(s);
      return;
    case 'arr_f32':
      sink.u32(ValueType.ARRAY);
      sink.u32(ValueType.FLOAT32);
      sink.u64(value.v.length);
      for (const f of value.v) sink.f32(f);
      return;
    case 'arr_i32':
      sink.u32(ValueType.ARRAY);
      sink.u32(ValueType.INT32);
      sink.u64(value.v.length);
      for (const i of value.v) sink.i32(i);
      return;
  }
}

interface TensorPlan {
  name: string;
  /** ne: first dimension contiguous. */
  dims: number[];
  type: GgmlType;
  /** 'ones' for norm weights; otherwise uniform in [-scale, scale] (× rowScale[row] when given). */
  fill: 'ones' | { scale: number; rowScale?: Float32Array };
  offset: number;
  bytes: number;
}

function tensorBytes(count: number, type: GgmlType): number {
  return type === GgmlType.F32 ? count * 4 : (count / QK8_0) * Q8_0_BLOCK_BYTES;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new AgentError('invalid_gguf_options', `${name} must be a positive integer, got ${v}`, { [name]: v });
  }
}

/** Write the model to `path` (overwritten). Same options and seed → same bytes. */
export async function writeTinyLlamaGguf(path: string, opts: TinyLlamaGgufOptions = {}): Promise<GgufWriteResult> {
  const layers = opts.layers ?? 2;
  const embd = opts.embd ?? 64;
  const heads = opts.heads ?? 4;
  const kvHeads = opts.kvHeads ?? 2;
  const ffn = opts.ffn ?? 128;
  const contextLength = opts.contextLength ?? 2048;
  const seed = opts.seed ?? 1;
  const wtype = opts.type === 'q8_0' ? GgmlType.Q8_0 : GgmlType.F32;

  for (const [k, v] of Object.entries({ layers, embd, heads, kvHeads, ffn, contextLength })) checkPositiveInt(k, v);
  if (embd % heads !== 0) throw new AgentError('invalid_gguf_options', `embd ${embd} is not a multiple of heads ${heads}`);
  if (heads % kvHeads !== 0) throw new AgentError('invalid_gguf_options', `heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  if (wtype === GgmlType.Q8_0 && (embd % QK8_0 !== 0 || ffn % QK8_0 !== 0)) {
    throw new AgentError('invalid_gguf_options', `q8_0 needs embd and ffn multiples of ${QK8_0}`);
  }
  if (!Number.isInteger(seed)) throw new AgentError('invalid_gguf_options', `seed must be an integer, got ${seed}`);

  const vocab = buildVocab(opts.vocabExtra ?? [], opts.vocabSize, opts.byteTokenWeight ?? 0.3);
  const nVocab = vocab.length;
  const headDim = embd / heads;
  const kvDim = headDim * kvHeads;

  // Tensors: uniform weights with std ≈ 1/sqrt(fan_in) keep activations in range.
  const w = (fanIn: number): { scale: number } => ({ scale: Math.sqrt(3 / fanIn) });
  const plans: TensorPlan[] = [];
  const plan = (name: string, dims: number[], type: GgmlType, fill: TensorPlan['fill']): void => {
    plans.push({ name, dims, type, fill, offset: 0, bytes: 0 });
  };
  plan('token_embd.weight', [embd, nVocab], wtype, { scale: 1 });
  for (let l = 0; l < layers; l++) {
    plan(`blk.${l}.attn_norm.weight`, [embd], GgmlType.F32, 'ones');
    plan(`blk.${l}.attn_q.weight`, [embd, embd], wtype, w(embd));
    plan(`blk.${l}.attn_k.weight`, [embd, kvDim], wtype, w(embd));
    plan(`blk.${l}.attn_v.weight`, [embd, kvDim], wtype, w(embd));
    plan(`blk.${l}.attn_output.weight`, [embd, embd], wtype, w(embd));
    plan(`blk.${l}.ffn_norm.weight`, [embd], GgmlType.F32, 'ones');
    plan(`blk.${l}.ffn_gate.weight`, [embd, ffn], wtype, w(embd));
    plan(`blk.${l}.ffn_up.weight`, [embd, ffn], wtype, w(embd));
    plan(`blk.${l}.ffn_down.weight`, [ffn, embd], wtype, w(ffn));
  }
  plan('output_norm.weight', [embd], GgmlType.F32, 'ones');
  // Logits with a std of ~3 (peaked enough that text is not uniform noise), per-token emphasis.
  const endTokens = opts.endTokens ?? 'rare';
  const endEmphasis = endTokens === 'rare' ? 0 : endTokens === 'normal' ? 1 : 4;
  const rowScale = new Float32Array(vocab.map((e) => e.emphasis));
  rowScale[TINY_LLAMA_TOKENS.eos] = endEmphasis;
  rowScale[TINY_LLAMA_TOKENS.imEnd] = endEmphasis;
  plan('output.weight', [embd, nVocab], wtype, { scale: 3 * Math.sqrt(3 / embd), rowScale });

  let dataOffset = 0;
  let parameters = 0;
  for (const p of plans) {
    const count = p.dims.reduce((a, b) => a * b, 1);
    parameters += count;
    p.offset = dataOffset;
    p.bytes = tensorBytes(count, p.type);
    dataOffset = alignUp(dataOffset + p.bytes, ALIGNMENT);
  }

  const meta: Array<[string, MetaValue]> = [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.name', { t: 'str', v: opts.name ?? 'anchiale-tiny' }],
    ['general.alignment', { t: 'u32', v: ALIGNMENT }],
    ['general.file_type', { t: 'u32', v: wtype === GgmlType.Q8_0 ? 7 : 0 }],
    ['llama.context_length', { t: 'u32', v: contextLength }],
    ['llama.embedding_length', { t: 'u32', v: embd }],
    ['llama.block_count', { t: 'u32', v: layers }],
    ['llama.feed_forward_length', { t: 'u32', v: ffn }],
    ['llama.attention.head_count', { t: 'u32', v: heads }],
    ['llama.attention.head_count_kv', { t: 'u32', v: kvHeads }],
    ['llama.rope.dimension_count', { t: 'u32', v: headDim }],
    ['llama.rope.freq_base', { t: 'f32', v: opts.ropeFreqBase ?? 10000 }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: 1e-5 }],
    ['llama.vocab_size', { t: 'u32', v: nVocab }],
    ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: 'arr_str', v: vocab.map((e) => e.piece) }],
    // SPM merges the pair whose merged piece scores highest: earlier pieces merge first.
    ['tokenizer.ggml.scores', { t: 'arr_f32', v: vocab.map((e, i) => (e.type === TokenType.NORMAL ? -i : 0)) }],
    ['tokenizer.ggml.token_type', { t: 'arr_i32', v: vocab.map((e) => e.type) }],
    ['tokenizer.ggml.bos_token_id', { t: 'u32', v: TINY_LLAMA_TOKENS.bos }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: TINY_LLAMA_TOKENS.eos }],
    ['tokenizer.ggml.unknown_token_id', { t: 'u32', v: TINY_LLAMA_TOKENS.unk }],
    ['tokenizer.ggml.eot_token_id', { t: 'u32', v: TINY_LLAMA_TOKENS.imEnd }],
    ['tokenizer.ggml.add_bos_token', { t: 'bool', v: true }],
    ['tokenizer.ggml.add_eos_token', { t: 'bool', v: false }],
    ['tokenizer.chat_template', { t: 'str', v: TINY_LLAMA_CHAT_TEMPLATE }],
  ];

  const header = new ByteSink();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(plans.length);
  header.u64(meta.length);
  for (const [k, v] of meta) writeMeta(header, k, v);
  for (const p of plans) {
    header.str(p.name);
    header.u32(p.dims.length);
    for (const d of p.dims) header.u64(d);
    header.u32(p.type);
    header.u64(p.offset);
  }
  header.pad(ALIGNMENT);

  const fh = await open(path, 'w');
  try {
    let written = 0;
    const write = async (buf: Buffer): Promise<void> => {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      written += buf.length;
    };
    await write(header.bytes());
    const dataStart = written;
    for (const p of plans) {
      const pad = dataStart + p.offset - written;
      if (pad > 0) await write(Buffer.alloc(pad));
      for (const chunk of tensorChunks(p, seed)) await write(chunk);
    }
    const tail = dataStart + dataOffset - written;
    if (tail > 0) await write(Buffer.alloc(tail));
    return { path, bytes: written, vocabSize: nVocab, tensorCount: plans.length, parameters };
  } finally {
    await fh.close();
  }
}

/** The tensor's bytes in chunks of at most ~4 MB, generated from a PRNG seeded by (seed, name). */
function* tensorChunks(p: TensorPlan, seed: number): Generator<Buffer> {
  const count = p.dims.reduce((a, b) => a * b, 1);
  if (p.fill === 'ones') {
    const buf = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) buf.writeFloatLE(1, i * 4);
    yield buf;
    return;
  }
  const { scale, rowScale } = p.fill;
  const rowLength = p.dims[0]!;
  const rowFactor = (element: number): number => (rowScale ? rowScale[Math.floor(element / rowLength)]! : 1);
  const rand = mulberry32((seed ^ fnv1a(p.name)) >>> 0);
  if (p.type === GgmlType.F32) {
    for (let start = 0; start < count; start += CHUNK_ELEMENTS) {
      const n = Math.min(CHUNK_ELEMENTS, count - start);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = ((rand() / 0x100000000) * 2 * scale - scale) * rowFactor(start + i);
      yield Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    }
    return;
  }
  // Q8_0: per block an f16 scale d = scale/127 (× row factor) and 32 int8 quants in [-127, 127].
  const dBitsCache = new Map<number, number>();
  const dBitsFor = (factor: number): number => {
    let bits = dBitsCache.get(factor);
    if (bits === undefined) {
      bits = toFloat16Bits((scale * factor) / 127);
      dBitsCache.set(factor, bits);
    }
    return bits;
  };
  const blocks = count / QK8_0;
  const blocksPerChunk = CHUNK_ELEMENTS / QK8_0;
  for (let start = 0; start < blocks; start += blocksPerChunk) {
    const n = Math.min(blocksPerChunk, blocks - start);
    const buf = Buffer.allocUnsafe(n * Q8_0_BLOCK_BYTES);
    for (let b = 0; b < n; b++) {
      const base = b * Q8_0_BLOCK_BYTES;
      const dBits = dBitsFor(rowFactor((start + b) * QK8_0));
      buf[base] = dBits & 0xff;
      buf[base + 1] = dBits >>> 8;
      for (let j = 0; j < QK8_0; j += 4) {
        const r = rand();
        buf[base + 2 + j] = ((r & 0xff) % 255) - 127;
        buf[base + 3 + j] = (((r >>> 8) & 0xff) % 255) - 127;
        buf[base + 4 + j] = (((r >>> 16) & 0xff) % 255) - 127;
        buf[base + 5 + j] = ((r >>> 24) % 255) - 127;
      }
    }
    yield buf;
  }
}
