// Every error this API answers with has the same body, `{ code, message }`, so clients branch on `code`.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const invalidParameter = (message: string) => new ApiError(400, 'INVALID_PARAMETER', message);

export const errorBodySchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'Stable machine-readable error code.', examples: ['INVALID_PARAMETER'] },
    message: { type: 'string', description: 'What went wrong, for humans.' },
  },
} as const;

interface AjvLikeError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns Ajv's `querystring/interval must be equal to one of the allowed values` into `interval must be one of: minute, hour, day (got "week")`. */
function describeValidationErrors(errors: AjvLikeError[], input: unknown): string {
  return errors
    .map((e) => {
      const field =
        (e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') ||
        (typeof e.params?.missingProperty === 'string' ? e.params.missingProperty : '') ||
        (typeof e.params?.additionalProperty === 'string' ? e.params.additionalProperty : 'parameter');
      const got = valueAt(input, e.instancePath ?? '');
      const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
      if (e.keyword === 'enum' && Array.isArray(e.params?.allowedValues)) {
        return `${field} must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}${shown}`;
      }
      if (e.keyword === 'required') return `${field} is required`;
      return `${field} ${e.message ?? 'is invalid'}${shown}`;
    })
    .join('; ');
}

function valueAt(input: unknown, pointer: string): unknown {
  let cur: unknown = input;
  for (const part of pointer.split('/').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return pointer ? cur : undefined;
}

/** Error handler for the query routes' encapsulated context. */
export function queryErrorHandler(error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ApiError) {
    return reply.code(error.statusCode).send({ code: error.code, message: error.message });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const context = fastifyError.validationContext;
    const source = context === 'params' ? request.params : context === 'body' ? request.body : request.query;
    return reply
      .code(400)
      .send({ code: 'INVALID_PARAMETER', message: describeValidationErrors(fastifyError.validation, source) });
  }
  // Everything else is answered by the process's one error handler.
  throw error;
}
