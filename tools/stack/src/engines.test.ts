import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseEngines, dockerAnswers, dockerEndpoint, parseEngineSetting } from './engines.ts';

const none = { kafka: false, redis: false };

describe('chooseEngines', () => {
  it('auto: containers when Docker answers, the process launcher when not', () => {
    expect(chooseEngines({ setting: 'auto', dockerAnswers: true, given: none }).engine).toBe('containers');
    expect(chooseEngines({ setting: 'auto', dockerAnswers: false, given: none })).toEqual({ engine: 'processes', reason: 'no Docker engine answers: process launcher' });
  });

  it('processes forces the launcher even with Docker; containers without Docker is an error that says what to do', () => {
    expect(chooseEngines({ setting: 'processes', dockerAnswers: true, given: none }).engine).toBe('processes');
    expect(chooseEngines({ setting: 'containers', dockerAnswers: true, given: none }).engine).toBe('containers');
    expect(() => chooseEngines({ setting: 'containers', dockerAnswers: false, given: none })).toThrow(/no Docker engine answers.*use auto/);
  });

  it('engines given from outside are not started: with Kafka and Redis both given, nothing needs containers', () => {
    expect(chooseEngines({ setting: 'auto', dockerAnswers: true, given: { kafka: true, redis: true } }).engine).toBe('processes');
    expect(chooseEngines({ setting: 'auto', dockerAnswers: true, given: { kafka: true, redis: false } }).engine).toBe('containers');
  });

  it('parses the setting', () => {
    expect(parseEngineSetting(undefined)).toBe('auto');
    expect(parseEngineSetting(' containers ')).toBe('containers');
    expect(() => parseEngineSetting('docker')).toThrow(/use auto, containers or processes/);
  });
});

describe('dockerEndpoint and dockerAnswers', () => {
  it('reads DOCKER_HOST (unix, tcp) and ignores transports it cannot probe', () => {
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///tmp/d.sock' })).toEqual({ socketPath: '/tmp/d.sock' });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toEqual({ host: '10.0.0.5', port: 2375 });
    expect(dockerEndpoint({ DOCKER_HOST: 'ssh://me@box' })).toBeUndefined();
  });

  it('is false at once without a socket, and false (not hanging) when nothing listens', async () => {
    const started = Date.now();
    expect(await dockerAnswers({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' })).toBe(false);
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    expect(await dockerAnswers({ DOCKER_HOST: `tcp://127.0.0.1:${port}` })).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('is true when the socket answers GET /_ping with OK, false for another answer or a silent socket', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'docker-probe-'));
    const answering = http.createServer((req, res) => res.end(req.url === '/_ping' ? 'OK' : 'no'));
    const silent = net.createServer(() => undefined);
    try {
      const okSock = path.join(dir, 'ok.sock');
      const silentSock = path.join(dir, 'silent.sock');
      await new Promise<void>((r) => answering.listen(okSock, r));
      await new Promise<void>((r) => silent.listen(silentSock, r));
      expect(await dockerAnswers({ DOCKER_HOST: `unix://${okSock}` })).toBe(true);
      const started = Date.now();
      expect(await dockerAnswers({ DOCKER_HOST: `unix://${silentSock}` }, 300)).toBe(false);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      answering.close();
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
