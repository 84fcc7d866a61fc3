/**
 * The error codes of remote operations (spec/mqtt-api.md "Remote operations"): what a request
 * answers with `status: "error"`. Handlers throw an OpsError; anything else is answered `internal`.
 */
import { AgentError } from '../errors.js';

export const OPS_ERROR_CODES = ['unknown_command', 'invalid_request', 'unauthorized', 'busy', 'internal'] as const;
export type OpsErrorCode = (typeof OPS_ERROR_CODES)[number];

export class OpsError extends AgentError {
  declare readonly code: OpsErrorCode;

  constructor(code: OpsErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'OpsError';
  }
}

/** `invalid_request` whose message starts with the field it is about (`setpoint_c: …`). */
export function invalidField(field: string, problem: string): OpsError {
  return new OpsError('invalid_request', `${field}: ${problem}`, { field });
}
