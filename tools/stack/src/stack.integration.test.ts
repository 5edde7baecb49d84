// The launcher on the real engines: a stack of its own (not the shared test stack, which must not be
// restarted under other test files), one message through Kafka, a key through Redis, both engines
// restarted on the same ports and data, and nothing left running after stop().
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Redis } from 'ioredis';
import { freePort, startRedis, startStack } from './index.ts';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads the first message of `topic` with a fresh consumer group. */
async function firstMessage(kafka: Kafka, topic: string): Promise<string> {
  const consumer = kafka.consumer({ groupId: `stack-test-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message on ${topic} within 30 s`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(message.value?.toString() ?? '');
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

describe('startStack', () => {
  it('starts Kafka and Redis, restarts them with their data, and stops them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-stack-'));
    const lines: string[] = [];
    const stack = await startStack({ dir, log: (l) => lines.push(l) });
    const { kafka: kafkaService, redis: redisService } = stack.services;
    try {
      expect(kafkaService).toBeDefined();
      expect(redisService).toBeDefined();
      expect(stack.clickhouse).toEqual({ path: path.join(dir, 'chdb') });
      expect(stack.logs).toEqual({ kafka: path.join(dir, 'kafka.log'), redis: path.join(dir, 'redis.log') });
      const pids = [kafkaService!.pid, redisService!.pid];

      const kafka = new Kafka({ clientId: 'stack-test', brokers: stack.kafkaBrokers, logLevel: logLevel.NOTHING });
      const topic = `stack-test-${randomUUID()}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });
      await producer.disconnect();
      expect(await firstMessage(kafka, topic)).toBe('hello');

      let redis = new Redis(stack.redisUrl, { lazyConnect: true });
      await redis.connect();
      await redis.set('stack-test:key', 'persisted');
      expect(await redis.get('stack-test:key')).toBe('persisted');
      redis.disconnect();

      await kafkaService!.restart();
      await redisService!.restart();
      // Same endpoints, new processes.
      expect(kafkaService!.brokers).toEqual(stack.kafkaBrokers);
      expect(redisService!.url).toBe(stack.redisUrl);
      expect([kafkaService!.pid, redisService!.pid]).not.toEqual(pids);
      expect(pids.some(alive)).toBe(false);

      redis = new Redis(stack.redisUrl, { lazyConnect: true });
      await redis.connect();
      expect(await redis.get('stack-test:key')).toBe('persisted');
      redis.disconnect();
      expect(await firstMessage(kafka, topic)).toBe('hello');

      const running = [kafkaService!.pid, redisService!.pid];
      expect(running.every(alive)).toBe(true);
      await stack.stop();
      expect(running.some(alive)).toBe(false);
      expect(kafkaService!.running).toBe(false);
      expect(redisService!.running).toBe(false);
      await stack.stop(); // idempotent
      expect(lines.some((l) => l.includes('exited unexpectedly'))).toBe(false);
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('fails fast, naming the log file, when an engine cannot start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'touchstream-stack-'));
    // Hold the port so redis-server exits at once with "Address already in use".
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      await expect(startRedis({ dir, port })).rejects.toThrow(path.join(dir, 'redis.log'));
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
