/**
 * `anchiale ask [--node ID] [--model M] [--mqtt-url URL] [--config FILE] [--json] [--max-tokens N]
 * [--temperature T] [--seed S] "prompt"`: one inference job through the job protocol, sent to the
 * heater whose room wants heat the most (JobClient). The answer streams to stdout (nothing else
 * goes there); which heater took it, the queue position and the speed go to stderr. `-` as the
 * prompt reads it from stdin. Ctrl-C cancels the job.
 *
 * Exit codes: 0 done, 2 usage, 3 no heater wants heat (also a heater answering rejected:
 * no_heat_demand), 4 rejected (another reason) or timed out, 5 the job failed
 * on the heater (job_error), 1 other (broker unreachable), 78 a bad config file, 130 cancelled.
 */
import type { Command } from 'commander';
import { JobClient, type JobRequest, type JobResult } from '../client/job-client.js';
import { AgentError, errorMessage } from '../errors.js';
import { addConnectionOptions, failed, processCliIo, resolveClientConnection, type ClientConnectionFlags, type CliIo } from './client-connection.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

export const EXIT_USAGE = 2;
export const EXIT_NO_HEATER = 3;
export const EXIT_REJECTED = 4;
export const EXIT_JOB_ERROR = 5;
export const EXIT_CANCELLED = 130;

export interface AskOptions extends ClientConnectionFlags {
  node?: string;
  model?: string;
  json?: boolean;
  maxTokens?: string;
  temperature?: string;
  seed?: string;
  ttl?: string;
  acceptTimeout?: string;
}

export interface AskIo extends CliIo {
  /** Reads the prompt for `-`. */
  readStdin?: () => Promise<string>;
  /** Aborting cancels the job (Ctrl-C). */
  signal?: AbortSignal;
}

const MODEL_RE = /^[a-z0-9._-]+$/;
const NODE_RE = /^[a-z0-9_-]+$/;

/** The job request the flags describe, or a usage error message. */
export function parseAskRequest(prompt: string, o: AskOptions): JobRequest | string {
  if (prompt.trim() === '') return 'a prompt is required: anchiale ask "your question" (or - to read it from stdin)';
  const req: JobRequest = { prompt, stream: true };
  if (o.node !== undefined) {
    if (!NODE_RE.test(o.node)) return `--node ${JSON.stringify(o.node)}: a node id is [a-z0-9_-]+`;
    req.node = o.node;
  }
  if (o.model !== undefined) {
    if (!MODEL_RE.test(o.model)) return `--model ${JSON.stringify(o.model)}: a model id is [a-z0-9._-]+ (the GGUF file stem)`;
    req.model = o.model;
  }
  const int = (flag: string, v: string, min: number, max: number): number | string => {
    const n = Number(v);
    return /^\d+$/.test(v.trim()) && n >= min && n <= max ? n : `${flag} ${JSON.stringify(v)}: an integer from ${min} to ${max}`;
  };
  if (o.maxTokens !== undefined) {
    const n = int('--max-tokens', o.maxTokens, 1, 1_000_000);
    if (typeof n === 'string') return n;
    req.maxTokens = n;
  }
  if (o.seed !== undefined) {
    const n = int('--seed', o.seed, 0, 0xffffffff);
    if (typeof n === 'string') return n;
    req.seed = n;
  }
  if (o.temperature !== undefined) {
    const t = Number(o.temperature);
    if (o.temperature.trim() === '' || !Number.isFinite(t) || t < 0 || t > 2) return `--temperature ${JSON.stringify(o.temperature)}: a number from 0 to 2`;
    req.temperature = t;
  }
  if (o.ttl !== undefined) {
    const t = Number(o.ttl);
    if (!Number.isFinite(t) || t <= 0) return `--ttl ${JSON.stringify(o.ttl)}: seconds > 0`;
    req.ttlS = t;
  }
  return req;
}

/** The exit code for a failed submit. */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof AgentError)) return EXIT_FAILURE;
  switch (err.code) {
    case 'no_heater':
      return EXIT_NO_HEATER;
    case 'rejected':
      // The heater itself says its room wants no heat (e.g. --node on a warm room).
      return err.details?.reason === 'no_heat_demand' ? EXIT_NO_HEATER : EXIT_REJECTED;
    case 'timeout':
      return EXIT_REJECTED;
    case 'job_error':
      return EXIT_JOB_ERROR;
    case 'cancelled':
      return EXIT_CANCELLED;
    case 'no_broker':
      return EXIT_USAGE;
    default:
      return EXIT_FAILURE;
  }
}

/** "done by h2 · 200 tokens · 58.1 tok/s · first token 41 ms · 812 J · stop" */
export function formatSummary(r: JobResult): string {
  const parts = [`done by ${r.node}`];
  const tokens = r.usage.completionTokens;
  if (tokens !== null) parts.push(`${tokens} tokens`);
  // The heater's time from the start of the job (its queue wait is not generation).
  const genMs = r.timing.totalMs !== null ? r.timing.totalMs - (r.timing.queueMs ?? 0) : r.client.totalMs - r.client.acceptedMs;
  if (tokens !== null && genMs > 0) parts.push(`${((tokens * 1000) / genMs).toFixed(1)} tok/s`);
  const ttft = r.client.firstChunkMs ?? r.timing.ttftMs;
  if (ttft !== null) parts.push(`first token ${Math.round(ttft)} ms`);
  if (r.energyJ !== null) parts.push(`${Math.round(r.energyJ)} J`);
  parts.push(r.finishReason);
  return parts.join(' · ');
}

export async function runAsk(promptArgs: readonly string[], o: AskOptions, io: AskIo): Promise<number> {
  let prompt = promptArgs.join(' ');
  if (prompt === '-') {
    if (!io.readStdin) return usage(io, 'cannot read the prompt from stdin here');
    prompt = await io.readStdin();
  }
  const req = parseAskRequest(prompt, o);
  if (typeof req === 'string') return usage(io, req);
  let acceptTimeoutMs: number | undefined;
  if (o.acceptTimeout !== undefined) {
    const s = Number(o.acceptTimeout);
    if (!Number.isFinite(s) || s <= 0) return usage(io, `--accept-timeout ${JSON.stringify(o.acceptTimeout)}: seconds > 0`);
    acceptTimeoutMs = s * 1000;
  }

  let conn: Awaited<ReturnType<typeof resolveClientConnection>>;
  try {
    conn = await resolveClientConnection(o, io.env, io.defaultConfigPath);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'no_broker') return usage(io, err.message);
    return failed(err, io);
  }
  const client = new JobClient({ ...conn, ...(acceptTimeoutMs !== undefined ? { acceptTimeoutMs } : {}) });
  try {
    await client.start();
  } catch (err) {
    io.stderr(`anchiale ask: ${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
  const status = (line: string) => io.stderr(`anchiale ask: ${line}\n`);
  let endsWithNewline = true;
  try {
    const r = await client.submit(req, {
      signal: io.signal,
      onAccepted: (a) =>
        status(`${a.node} took the job (${a.via}${a.queuePosition === null ? '' : a.queuePosition === 0 ? ', running now' : `, queued at position ${a.queuePosition}`})`),
      onRejected: (x) => status(`${x.node} said no: ${x.reason}${x.message ? ` (${x.message})` : ''}`),
      onChunk: (c) => {
        if (o.json || c.text === '') return;
        io.stdout(c.text);
        endsWithNewline = c.text.endsWith('\n');
      },
    });
    if (o.json) io.stdout(`${JSON.stringify(r)}\n`);
    else if (!endsWithNewline) io.stdout('\n');
    status(formatSummary(r));
    return r.finishReason === 'cancelled' && io.signal?.aborted ? EXIT_CANCELLED : EXIT_OK;
  } catch (err) {
    if (!endsWithNewline) io.stdout('\n');
    const code = exitCodeFor(err);
    if (o.json && err instanceof AgentError) io.stdout(`${JSON.stringify({ error: { code: err.code, message: err.message, ...err.details } })}\n`);
    status(errorMessage(err));
    return code;
  } finally {
    await client.stop();
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr(`anchiale ask: ${message}\nusage: anchiale ask [--node ID] [--model M] [--mqtt-url URL] [--config FILE] [--json] [--max-tokens N] [--temperature T] [--seed S] "prompt"\n`);
  return EXIT_USAGE;
}

export function registerAskCommand(program: Command, io: CliIo = processCliIo()): Command {
  return addConnectionOptions(
    program
      .command('ask')
      .description('Ask the heaters a question: one inference job, sent to the heater whose room wants heat the most')
      .argument('[prompt...]', 'the prompt (- reads it from stdin)')
      .option('--node <id>', 'only this heater')
      .option('--model <id>', 'model id (default: the chosen heater\'s model)')
      .option('--max-tokens <n>', 'longest answer (tokens)')
      .option('--temperature <t>', 'sampling temperature, 0..2')
      .option('--seed <s>', 'sampling seed')
      .option('--ttl <s>', 'seconds the job may wait for a heater (default 60)')
      .option('--accept-timeout <s>', 'seconds a heater has to accept before the next is tried (default 3)'),
  )
    .exitOverride((err) => {
      // Commander's usage errors exit 2 here (the documented usage code of `ask`); --help and --version exit 0.
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    })
    .action(async (promptArgs: string[], opts: AskOptions) => {
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        process.exitCode = await runAsk(promptArgs, opts, { ...io, signal: ac.signal, readStdin });
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
