// Read keys (analysts) are separate from ingest's write keys and the admin key (docs/architecture.md §6): only a key listed in
// `readKeys` opens the query routes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerKeyResolver } from '@touchstream/runtime';

declare module 'fastify' {
  interface FastifyRequest {
    /** The analyst name of the read key that authenticated this request. */
    analyst?: string;
  }
}

/**
 * Builds an onRequest hook that accepts `Authorization: Bearer <read key>` and answers 401 otherwise.
 */
export function readKeyAuthenticator(readKeys: Record<string, string>) {
  const readKeyOf = bearerKeyResolver(readKeys);
  return async function authenticateReadKey(request: FastifyRequest, reply: FastifyReply) {
    const key = readKeyOf(request.headers.authorization);
    if (!key.ok) {
      const message = key.presented ? 'the bearer key is not a read key' : 'send a read key as "Authorization: Bearer <key>"';
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="touchstream-query"')
        .send({ code: 'UNAUTHORIZED', message });
    }
    request.analyst = key.name;
  };
}
