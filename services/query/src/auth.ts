// Read keys (analysts) are separate from ingest's write keys and the admin key (DESIGN §6): only a key listed in
// `readKeys` opens the query routes.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The analyst name of the read key that authenticated this request. */
    analyst?: string;
  }
}

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Builds an onRequest hook that accepts `Authorization: Bearer <read key>` and answers 401 otherwise.
 * Keys are looked up by their SHA-256 digest, so the comparison time does not depend on how much of a guessed key
 * matches a real one.
 */
export function readKeyAuthenticator(readKeys: Record<string, string>) {
  const analystByDigest = new Map(Object.entries(readKeys).map(([key, analyst]) => [digest(key), analyst]));
  return async function authenticateReadKey(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const analyst = match ? analystByDigest.get(digest(match[1]!)) : undefined;
    if (analyst === undefined) {
      const message = match ? 'the bearer key is not a read key' : 'send a read key as "Authorization: Bearer <key>"';
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="touchstream-query"')
        .send({ code: 'UNAUTHORIZED', message });
    }
    request.analyst = analyst;
  };
}
