// HTTP pieces every service shares: the one error handler (the role check is in access.ts).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

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
