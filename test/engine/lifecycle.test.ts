// An engine's start and stop as a client sees them: /readyz says ready only once the gRPC port
// takes connections; on SIGTERM every open stream gets CLOSED and then ends with OK, and every
// health Watch gets NOT_SERVING and then ends with OK (nothing cut by the transport), and a client
// stream holding nothing fails at once rather than taking sends nobody reads; server reflection
// answers grpcurl.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGRAM_CLI } from '../../engine/dist/testing/engine-process.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { grpcurl, grpcurlPath } from '../helpers/grpcurl.js';
import { rawStream } from '../helpers/raw-stream.js';
import { clusteredObservations } from '../helpers/vectors.js';

const DIM = 32;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts an engine on known ports and polls /readyz; at its first 200, is the gRPC port open? */
async function gRpcOpenWhenFirstReady(): Promise<boolean> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [ENGRAM_CLI, 'serve', '--insecure', '--ephemeral', '--port', String(grpcPort), '--http-port', String(httpPort), '--set', `hnsw.dimension=${DIM}`], { stdio: 'ignore' });
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false);
      if (ready) return await canConnect(grpcPort);
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('the engine never reported ready');
  } finally {
    child.kill('SIGKILL');
  }
}

type HealthClient = grpc.Client & { watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }> };

function healthClient(address: string): HealthClient {
  const require = createRequire(import.meta.url);
  const { protoPath } = require('grpc-health-check') as { protoPath: string };
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new def.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

describe('engine lifecycle', () => {
  it('reports ready only once its gRPC port takes connections (5 starts)', async () => {
    for (let i = 0; i < 5; i++) expect(await gRpcOpenWhenFirstReady()).toBe(true);
  });

  describe('on SIGTERM', () => {
    let engine: EngineProcess;
    beforeAll(async () => {
      engine = await startEngine({ 'hnsw.dimension': DIM });
    });
    afterAll(async () => {
      if (engine.process.exitCode === null) await engine.stop('SIGKILL');
    });

    it('ends open streams with CLOSED then OK, and health watches with NOT_SERVING then OK', async () => {
      const stream = rawStream(engine.address);
      stream.write({ init: { memorySpace: 'closing', clientBufferSize: 0, honoursBackpressure: false, maxBatchSize: 10, tenant: '' } });
      await stream.next((m) => m.initAck);
      const [first] = clusteredObservations('closing', 1, DIM);
      stream.write({ observations: { batchId: 1, observations: [{ id: first!.id, embedding: new Uint8Array(first!.embedding.buffer), content: '', metadata: {}, timestampMs: 0, sequence: 1 }] } });
      await stream.next((m) => (m.acks?.inReplyTo === 1 ? m.acks : undefined));

      const health = healthClient(engine.address);
      const watch = health.watch({ service: '' });
      const statuses: string[] = [];
      watch.on('data', (m: { status: string }) => statuses.push(m.status));
      const watchEnded = new Promise<grpc.StatusObject | grpc.ServiceError>((resolve) => {
        watch.on('error', resolve);
        watch.on('status', resolve);
      });
      while (statuses.length === 0) await new Promise((r) => setTimeout(r, 10));

      expect(await engine.stop('SIGTERM')).toBe(0);
      const closed = await stream.next((m) => (m.status?.state === 'CLOSED' ? m.status : undefined));
      expect(closed.message).toBe('engine shutting down');
      expect((await stream.ended).code).toBe(grpc.status.OK);
      const watchStatus = await watchEnded;
      health.close();
      expect(statuses).toEqual(['SERVING', 'NOT_SERVING']);
      expect(watchStatus.code).toBe(grpc.status.OK);
    });
  });

  describe('on SIGTERM, to a client with nothing on the wire', () => {
    let engine: EngineProcess;
    beforeAll(async () => {
      engine = await startEngine({ 'hnsw.dimension': DIM });
    });
    afterAll(async () => {
      if (engine.process.exitCode === null) await engine.stop('SIGKILL');
    });

    // A writer between two sends holds nothing when the engine ends its stream (a space moving to
    // another pod ends it the same way): its next send must fail, not go into a finished call.
    it('fails the stream, so the next send throws instead of waiting for an answer forever', async () => {
      const stream = await engine.client().openStream({ memorySpace: 'idle', replyTimeoutMs: 0 });
      const [first, second] = clusteredObservations('idle', 2, DIM);
      await stream.send(first!);
      await stream.settled();
      expect(await engine.stop('SIGTERM')).toBe(0);
      await eventually('the stream to see its end', async () => (stream.state().waitingFor === 'failed' ? true : undefined), 10_000);
      await expect(stream.send(second!)).rejects.toThrow('the engine ended the stream: engine shutting down');
      expect(stream.unacceptedIds()).toEqual([]);
    });
  });

  describe('server reflection', () => {
    let engine: EngineProcess;
    let binary = '';
    beforeAll(async () => {
      binary = grpcurlPath();
      engine = await startEngine({ 'hnsw.dimension': DIM }, ['--ephemeral']);
    }, 15 * 60_000);
    afterAll(async () => {
      await engine?.stop();
    });

    it('lets grpcurl list the services, describe a method and call it', async () => {
      const services = (await grpcurl(binary, ['-plaintext', engine.address, 'list'])).trim().split('\n');
      expect(services).toEqual(expect.arrayContaining(['engram.v1.Admin', 'engram.v1.Streaming']));
      expect(await grpcurl(binary, ['-plaintext', engine.address, 'describe', 'engram.v1.Streaming.Recall'])).toContain('rpc Recall ( .engram.v1.RecallRequest ) returns ( .engram.v1.RecallResponse )');
      const config = JSON.parse(await grpcurl(binary, ['-plaintext', '-d', '{}', engine.address, 'engram.v1.Admin/GetConfig'])) as { configJson: string };
      expect(JSON.parse(config.configJson)).toMatchObject({ hnsw: { dimension: DIM } });
    });
  });
});
