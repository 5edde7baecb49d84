// A real local HTTP receiver for webhook tests (only imported by tests): records every request and answers
// per path with a script of statuses.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface TestReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Requests to `path` (e.g. '/ok'). */
  to(path: string): ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * `answer(path, body, nth)` decides the status; `nth` counts earlier requests with the same path and
 * Idempotency-Key (1 for the first), so "fail twice, then succeed" is per alert.
 */
export type ReceiverAnswer = number | { status: number; headers?: Record<string, string | undefined> };

export async function startTestReceiver(answer: (path: string, nth: number) => ReceiverAnswer): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const key = String(req.headers['idempotency-key'] ?? '');
      const nth = requests.filter((r) => r.path === path && r.headers['idempotency-key'] === key).length + 1;
      const a = answer(path, nth);
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      const extra = Object.fromEntries(Object.entries(headers ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
      res.writeHead(status, { 'content-type': 'text/plain', ...extra }).end(String(status));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
