// `helm test`: proves the installed operator works end to end. It creates a scratch EngramStream
// (small, ephemeral volume, API keys on as by default), waits until the operator reports it Ready,
// streams observations with the admin key the operator made into a memory space of its engine, recalls each one as its own nearest neighbour, and deletes the
// stream (its engine and volume claim go with it). Anything short of that fails the test pod.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { EngramClient } from '@engram/engine/client';
import { ClusteredVectors } from '@engram/engine/synthetic';
import type { Logger } from '@engram/engine/log';
import { GROUP, KIND, PLURAL, VERSION, type EngramStream } from '../api/v1alpha1/types.js';
import { enginePorts } from '../controllers/engram-stream/desired/stateful-set.js';
import { STREAM_LABEL } from '../controllers/engram-stream/names.js';
import { KEY_DATA, keySecretNames } from '../controllers/engram-stream/desired/key-secrets.js';

export interface RoundTripOptions {
  namespace: string;
  observations: number;
  timeoutMs: number;
  log: Logger;
}

const DIMENSION = 32;
const SPACE = 'helm-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function streamRoundTrip(kc: k8s.KubeConfig, options: RoundTripOptions): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `engram-helm-test-${randomBytes(3).toString('hex')}`;
  const { namespace, log } = options;
  const deadline = Date.now() + options.timeoutMs;
  const body: EngramStream = {
    apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name, namespace, labels: { 'app.kubernetes.io/component': 'helm-test' } },
    // Keys on, as by default; no NetworkPolicy, since this pod (made before the name was chosen)
    // cannot carry the stream's client label.
    spec: { profile: 'MemoryConstrained', workers: 1, hnsw: { dimension: DIMENSION }, storage: { size: '1Gi' }, networkPolicy: { enabled: false } },
  };
  await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body });
  log.info('scratch EngramStream created', { namespace, name });
  try {
    await waitReady(custom, namespace, name, deadline);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `${STREAM_LABEL}=${name}` });
    const ip = pods.items.find((p) => p.status?.podIP)?.status?.podIP;
    if (!ip) throw new Error(`the engine pod of ${name} has no IP`);
    const secret = await core.readNamespacedSecret({ name: keySecretNames(body).admin, namespace });
    const apiKey = Buffer.from(secret.data?.[KEY_DATA] ?? '', 'base64').toString('utf8');
    const client = new EngramClient(`${ip}:${enginePorts(body).grpc}`, { deadlineMs: 10_000, apiKey });
    try {
      await roundTrip(client, options.observations, log);
    } finally {
      client.close();
    }
  } finally {
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, propagationPolicy: 'Foreground' })
      .catch((e: unknown) => log.warn('could not delete the scratch EngramStream', { name, error: String(e) }));
    log.info('scratch EngramStream deleted', { name });
  }
}

async function waitReady(custom: k8s.CustomObjectsApi, namespace: string, name: string, deadline: number): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    const stream = await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name }) as EngramStream;
    const ready = stream.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    last = ready ? `${ready.reason}: ${ready.message}` : 'no status yet';
    await sleep(1000);
  }
  throw new Error(`the operator did not make ${name} Ready in time (last: ${last})`);
}

async function roundTrip(client: EngramClient, count: number, log: Logger): Promise<void> {
  const vectors = new ClusteredVectors({ dimension: DIMENSION, seed: 7 }).take(count);
  const stream = await client.openStream({ memorySpace: SPACE, maxBatch: 100 });
  for (const [i, embedding] of vectors.entries()) await stream.send({ id: `o-${i}`, embedding, content: `observation ${i}` });
  const counts = await stream.close({ drain: true });
  if (counts.accepted !== count || counts.indexed !== count) throw new Error(`streamed ${count}: ${counts.accepted} accepted, ${counts.indexed} indexed`);
  const missed: string[] = [];
  for (const [i, vector] of vectors.entries()) {
    const { hits } = await client.recall({ memorySpace: SPACE, vector, k: 1 });
    if (hits[0]?.id !== `o-${i}`) missed.push(`o-${i}`);
  }
  // HNSW is approximate: allow 1% of points not to come back first for their own vector
  if (missed.length > Math.floor(count / 100)) throw new Error(`${missed.length} of ${count} observations were not recalled as their own nearest neighbour: ${missed.slice(0, 10).join(', ')}`);
  log.info('streamed and recalled', { observations: count, indexed: counts.indexed, notRecalledFirst: missed.length });
}
