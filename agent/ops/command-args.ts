/**
 * Argument validation for the handlers: a strict zod object (unknown fields are errors, so a typo
 * never passes silently), its first problem answered as `invalid_request` naming the field.
 */
import type { z } from 'zod';
import { invalidField } from './ops-error.js';

export function parseArgs<S extends z.ZodType>(schema: S, args: Record<string, unknown>): z.output<S> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  // An unknown field first: with a typo (`setpoint` for `setpoint_c`) it is the real cause.
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
    const known = shape ? Object.keys(shape) : [];
    throw invalidField(key, `unknown field (${known.length > 0 ? `expected ${known.join(', ')}` : 'this command takes no arguments'})`);
  }
  const field = issue.path.length > 0 ? issue.path.join('.') : '(request)';
  const missing = issue.path.length > 0 && args[String(issue.path[0])] === undefined;
  throw invalidField(field, missing ? 'required' : issue.message);
}
