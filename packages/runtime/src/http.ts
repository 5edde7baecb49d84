// HTTP pieces every service shares: bearer-key lookup and the one error handler.
import { createHash } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export type BearerKeyLookup =
  | { ok: true; name: string }
  /** `presented` tells a missing or malformed header from a key that is not one of ours. */
  | { ok: false; presented: boolean };

/**
 * Resolves `Authorization: Bearer <key>` against a key → name map (write keys → sources, read keys →
 * analysts). Keys are looked up by their SHA-256 digest, so the time a lookup takes says nothing about how
 * much of a guessed key was right.
 */
export function bearerKeyResolver(keys: Record<string, string>): (authorization: string | undefined) => BearerKeyLookup {
  const digest = (key: string) => createHash('sha256').update(key).digest('base64');
  const nameByDigest = new Map(Object.entries(keys).map(([key, name]) => [digest(key), name]));
  return (authorization) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) return { ok: false, presented: false };
    const name = nameByDigest.get(digest(token));
    return name === undefined ? { ok: false, presented: true } : { ok: true, name };
  };
}

/**
 * The one error handler: stable codes; 4xx say what is wrong, 5xx details stay in the log. A route plugin
 * that answers some errors its own way throws the rest on, and Fastify hands them to this handler.
 */
export function httpErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status >= 500) {
    req.log.error({ err }, 'request failed');
    return reply.status(status).send({ code: 'INTERNAL', message: `internal error; the server log has the details (request ${req.id})` });
  }
  const code = err.validation ? 'INVALID_REQUEST' : (err.code?.replace(/^FST_ERR_/, '') ?? 'BAD_REQUEST');
  return reply.status(status).send({ code, message: err.message });
}
