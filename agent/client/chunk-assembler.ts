/**
 * Puts a job's streamed chunks back in `seq` order (spec: seq from 0 without gaps, delivery at
 * least once): duplicates are dropped, early chunks wait for the missing ones, and at the end
 * the `done` text fills whatever the stream left out. Pure.
 */
export interface AssembledChunk {
  seq: number;
  text: string;
}

export class ChunkAssembler {
  private nextSeq = 0;
  private readonly early = new Map<number, string>();
  private delivered = '';
  private duplicates = 0;

  /** Takes one chunk; returns the chunks now deliverable, in order (none for a duplicate or an early one). */
  push(seq: number, text: string): AssembledChunk[] {
    if (seq < this.nextSeq || this.early.has(seq)) {
      this.duplicates += 1;
      return [];
    }
    this.early.set(seq, text);
    const out: AssembledChunk[] = [];
    for (let t = this.early.get(this.nextSeq); t !== undefined; t = this.early.get(this.nextSeq)) {
      this.early.delete(this.nextSeq);
      out.push({ seq: this.nextSeq, text: t });
      this.delivered += t;
      this.nextSeq += 1;
    }
    return out;
  }

  /** Seqs still missing before the earliest buffered chunk (a gap in the stream so far). */
  get missing(): number[] {
    if (this.early.size === 0) return [];
    const max = Math.max(...this.early.keys());
    const out: number[] = [];
    for (let s = this.nextSeq; s < max; s++) if (!this.early.has(s)) out.push(s);
    return out;
  }

  get duplicateCount(): number {
    return this.duplicates;
  }

  /** The text delivered so far, in order. */
  get text(): string {
    return this.delivered;
  }

  /**
   * At `done`: the final text's part the stream has not delivered (the tail after what was
   * delivered), and how many seqs never arrived in order. When the delivered text is not a prefix
   * of the final text, the tail is empty and `mismatch` is true.
   */
  finish(finalText: string): { tail: string; gaps: number; mismatch: boolean } {
    const gaps = this.missing.length;
    this.early.clear();
    if (!finalText.startsWith(this.delivered)) return { tail: '', gaps, mismatch: true };
    const tail = finalText.slice(this.delivered.length);
    this.delivered = finalText;
    return { tail, gaps, mismatch: false };
  }
}
