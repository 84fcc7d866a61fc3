/**
 * The demo's user: submits a job every few seconds through the real job protocol (JobClient) and
 * counts what came back, for the live view (LiveViewJobs) and the summary: jobs done, rejected
 * (no heater wanted heat, rejected, timed out), failed (job_error), active, and the tokens/s of
 * the recent answers. Constructor assigns; start()/stop() own the timer.
 */
import type { JobClient, JobRequest, JobResult } from '../client/job-client.js';
import { AgentError } from '../errors.js';
import type { LiveViewJobs } from './live-view.js';

export interface DemoJobLoopOptions {
  /** Real milliseconds between submissions (default 2000). */
  intervalMs?: number;
  /** Jobs in flight at most; a tick with that many running submits nothing (default 2). */
  maxInFlight?: number;
  /** The prompts, used in turn. */
  prompts?: readonly string[];
  maxTokens?: number;
  /** ttl_s of each job (default 60; the demo heater counts it in simulated seconds). */
  ttlS?: number;
  /** Recent answers the tokens/s is averaged over (default 5). */
  window?: number;
}

export interface DemoJobCounts extends LiveViewJobs {
  failed: number;
  /** Completion tokens over the real time from first text to answer of the recent jobs; null before the first. */
  tokensPerS: number | null;
  /** Completion tokens of every answer. */
  tokens: number;
  /** The last outcome, for the view's message line ("h1: 64 tokens", "no_heater: …"). */
  last: string | null;
}

const DEFAULT_PROMPTS = [
  'Write a haiku about a warm room in winter.',
  'Explain in one paragraph why a GPU makes heat.',
  'List three uses of a heater that thinks.',
  'Summarise: the room asks for heat, the card computes.',
];

export class DemoJobLoop {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();
  private n = 0;
  private readonly recent: { tokens: number; ms: number }[] = [];
  private readonly counts: DemoJobCounts = { done: 0, active: 0, rejected: 0, failed: 0, tokensPerS: null, tokens: 0, last: null };

  constructor(
    private readonly client: Pick<JobClient, 'submit'>,
    private readonly opts: DemoJobLoopOptions = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 2000);
  }

  /** Stops submitting and waits for the jobs in flight (their answers still count). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  get jobs(): DemoJobCounts {
    return { ...this.counts, active: this.inFlight.size };
  }

  private tick(): void {
    if (this.inFlight.size >= (this.opts.maxInFlight ?? 2)) return;
    const prompts = this.opts.prompts ?? DEFAULT_PROMPTS;
    const req: JobRequest = { prompt: prompts[this.n % prompts.length]!, maxTokens: this.opts.maxTokens ?? 48, temperature: 0.8, seed: this.n, ttlS: this.opts.ttlS ?? 60 };
    this.n += 1;
    const p: Promise<void> = this.client.submit(req).then(
      (r) => this.onDone(r),
      (err: unknown) => this.onError(err),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private onDone(r: JobResult): void {
    this.counts.done += 1;
    const tokens = r.usage.completionTokens ?? 0;
    this.counts.tokens += tokens;
    // Measured here, in real time, from the first streamed text (waiting in the queue is not generating).
    const ms = Math.max(1, r.client.totalMs - (r.client.firstChunkMs ?? r.client.acceptedMs));
    this.recent.push({ tokens, ms });
    if (this.recent.length > (this.opts.window ?? 5)) this.recent.shift();
    const t = this.recent.reduce((a, x) => a + x.tokens, 0);
    const s = this.recent.reduce((a, x) => a + x.ms, 0) / 1000;
    this.counts.tokensPerS = s > 0 ? t / s : null;
    this.counts.last = `${r.node}: ${tokens} tokens in ${Math.round(ms)} ms`;
  }

  private onError(err: unknown): void {
    const code = err instanceof AgentError ? err.code : 'error';
    if (code === 'job_error') this.counts.failed += 1;
    else this.counts.rejected += 1;
    this.counts.last = `${code}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 120);
  }
}
