// The EngramStream CustomResourceDefinition, built from small schema helpers that require a
// description on every field (so `kubectl explain` reads well). write-crd.ts writes it to
// crds/; a test keeps the file and this code identical.
import { DEFAULT_HNSW } from '@engram/engine/config';
import { GROUP, KIND, PLURAL, PROFILES, VERSION } from './types.js';

/**
 * An OpenAPI v3 schema as the API server reads it. (client-node's V1JSONSchemaProps renames
 * `enum`, `default` and the x-kubernetes extensions for its serializer; this file is written as
 * YAML directly, so it uses the wire names.)
 */
export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  'x-kubernetes-validations'?: Rule[];
  [keyword: string]: unknown;
}
type Rule = { rule: string; message: string; fieldPath?: string; reason?: string };

const integer = (description: string, minimum: number, maximum?: number, extra: Schema = {}): Schema =>
  ({ type: 'integer', description, minimum, ...(maximum !== undefined ? { maximum } : {}), ...extra });
const number = (description: string, minimum: number, maximum: number): Schema => ({ type: 'number', description, minimum, maximum });
const string = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const object = (description: string, properties: Record<string, Schema>, extra: Schema = {}): Schema =>
  ({ type: 'object', description, properties, ...extra });
/**
 * A string from a fixed list, checked by a CEL rule rather than `enum`: the API server treats an
 * enum violation as blocking, skips every CEL rule and adds a second, confusing line ("some
 * validation rules were not checked…") to a one-word mistake. The values are in the description
 * for `kubectl explain`.
 */
const oneOf = (description: string, values: readonly string[], extra: Schema = {}): Schema => ({
  // maxLength bounds the rule's cost estimate; the slack lets a long typo reach the rule's message
  type: 'string', description: `${description} One of: ${values.join(', ')}.`, maxLength: Math.max(...values.map((v) => v.length)) + 32,
  'x-kubernetes-validations': [{ rule: `self in [${values.map((v) => `'${v}'`).join(', ')}]`, message: `must be one of ${values.join(', ')}` }],
  ...extra,
});
/** `schema` that also keeps the value it has once set (a default makes sure it always has one). */
const immutable = (schema: Schema, message: string): Schema => ({
  ...schema, 'x-kubernetes-validations': [...(schema['x-kubernetes-validations'] ?? []), { rule: 'self == oldSelf', message }],
});
const quantityMap = (description: string): Schema => ({
  type: 'object', description,
  additionalProperties: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$' },
});

const tenant = object('A tenant: the memory spaces it owns and the limits it is held to.', {
  name: string('Tenant name, a DNS label unique among tenants.', { maxLength: 63, pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
  spaces: {
    type: 'array', description: 'Memory spaces the tenant owns: exact ids, or prefixes ending in `*` (`acme-*`).', maxItems: 64,
    items: string('A memory space id, or a prefix ending in `*`.', { maxLength: 65, pattern: '^[a-z0-9_-]{1,64}\\*?$' }),
  },
  rateLimit: number('Observations per second the tenant may send (token bucket); 0 means unlimited. Changes live.', 0, 10_000_000),
  burst: integer('Token bucket size; 0 means one second\'s worth of rateLimit. Changes live.', 0, 100_000_000),
  maxVectors: integer('Vectors the tenant may store across its memory spaces; 0 means unlimited. Changes live.', 0),
  maxSpaces: integer('Memory spaces the tenant may create; 0 means unlimited. Changes live.', 0, 1_000_000),
}, { required: ['name'] });

const spec = object('The desired engine workload. Every field left out takes the profile\'s preset; every field set overrides it.', {
  profile: oneOf('Workload profile from the streaming tuning guide: the preset for every pool knob not set here. Changes live.', PROFILES, { default: 'Balanced' }),
  replicas: integer('Engine pods. Memory spaces are spread over them by a consistent-hash ring and moved (copied, verified, then switched) when this changes; a scale-in moves every space off the leaving pods before they stop. 0 stops the engines and keeps their data.', 0, 64, { default: 1 }),
  workers: integer('Worker threads per engine (indexing and recall). Changes live.', 1, 32),
  batch: object('Adaptive batch size bounds: batches grow toward max as the queue deepens and shrink toward min as it drains. Change live.', {
    min: integer('Smallest batch a worker takes.', 1, 10_000),
    max: integer('Largest batch a worker takes.', 1, 10_000),
  }, { 'x-kubernetes-validations': [{ rule: '!has(self.min) || !has(self.max) || self.min <= self.max', message: 'batch.min must not exceed batch.max' }] }),
  idleSleepMs: integer('How long a worker with less than batch.min waiting lingers for more. Changes live.', 0, 1000),
  queue: object('The engine\'s ingest queue. Changes live.', {
    capacity: integer('Observations queued before clients are pushed back.', 10, 2_000_000),
    highPriorityRatio: number('Share of capacity reserved for the recall lane, 0.01 to 0.5.', 0.01, 0.5),
  }),
  stealThreshold: integer('Queue depth over which an idle worker takes a memory space off a busy one; 0 never. Changes live.', 0, 10_000_000),
  hnsw: object('HNSW index parameters.', {
    dimension: immutable(
      integer('Embedding dimension (default 768). Immutable: every stored vector has it (removing the field sets the default again, which must equal it).', 2, 4096, { default: DEFAULT_HNSW.dimension }),
      'hnsw.dimension is immutable: every stored vector has this dimension; create a new EngramStream for another',
    ),
    m: integer('Graph degree (M). A change rebuilds every index in the background.', 2, 128),
    efConstruction: integer('Candidate list size while inserting. A change rebuilds every index in the background.', 8, 4096),
    efSearch: integer('Candidate list size while recalling. Changes live.', 1, 4096),
    metric: immutable(
      oneOf('Distance metric (default cosine). Immutable: every index was built for it.', ['cosine', 'l2', 'ip'], { default: DEFAULT_HNSW.metric }),
      'hnsw.metric is immutable: every index was built for it; create a new EngramStream for another',
    ),
  }, { default: {} }),
  tenants: {
    type: 'array', description: 'Tenants, their memory spaces and limits. Change live.', maxItems: 100, items: tenant,
    'x-kubernetes-validations': [{ rule: 'self.all(t, self.exists_one(u, u.name == t.name))', message: 'tenant names must be unique' }],
  },
  image: string('Engine container image. Defaults to the image the operator was built with. A change rolls the pods.', { maxLength: 512 }),
  imagePullPolicy: oneOf('Image pull policy of the engine container. A change rolls the pods.', ['Always', 'IfNotPresent', 'Never']),
  ports: object('Ports the engine serves on. A change rolls the pods.', {
    grpc: integer('gRPC port (streaming, recall, admin, health).', 1, 65535, { default: 50051 }),
    metrics: integer('HTTP port for /metrics, /healthz and /readyz.', 1, 65535, { default: 9464 }),
  }, { default: {} }),
  resources: object('CPU and memory of the engine container. The engine refuses new observations near its memory limit instead of being OOM-killed. A change rolls the pods.', {
    limits: quantityMap('Most of each resource the container may use.'),
    requests: quantityMap('Resources the scheduler reserves for the container.'),
  }),
  storage: object('The volume each engine pod keeps its write-ahead log and snapshots in.', {
    size: string('Size of each pod\'s volume claim. Immutable (a StatefulSet cannot change its claims).', { default: '10Gi', maxLength: 32 }),
    className: string('StorageClass of the claims; empty for the cluster\'s default. Immutable.', { maxLength: 253 }),
    retainOnDelete: { type: 'boolean', description: 'Keep the volume claims when the EngramStream is deleted (default: they are deleted with it).', default: false },
  }, {
    default: {},
    'x-kubernetes-validations': [{
      rule: '(has(self.size) ? self.size : \'\') == (has(oldSelf.size) ? oldSelf.size : \'\') && (has(self.className) ? self.className : \'\') == (has(oldSelf.className) ? oldSelf.className : \'\')',
      message: 'storage.size and storage.className are immutable: a StatefulSet cannot change its volume claims',
    }],
  }),
  rollout: object('Reserved for canary rollouts (a later release). Accepted and not acted on yet: a stream that sets it gets the condition RolloutPolicySupported=False and a Warning Event.', {}, { 'x-kubernetes-preserve-unknown-fields': true }),
});

const condition = object('A condition in the Kubernetes convention.', {
  type: string('Ready, Progressing, Degraded, ConfigApplied, or RolloutPolicySupported (only when spec.rollout is set).'),
  status: string('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
  reason: string('A CamelCase reason, stable for matching.'),
  message: string('What happened, for people.'),
  observedGeneration: integer('The generation the condition was computed for.', 0),
  lastTransitionTime: string('When the status last changed.', { format: 'date-time' }),
}, { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] });

const status = object('What the operator observed, rebuilt from the cluster and the engines on every pass.', {
  observedGeneration: integer('The spec generation this status was computed for.', 0),
  phase: string('Pending, Running, Updating, Degraded or Stopped.', { enum: ['Pending', 'Running', 'Updating', 'Degraded', 'Stopped'] }),
  replicas: integer('Engine pods that exist.', 0),
  readyReplicas: integer('Engine pods that are ready.', 0),
  ready: string('Ready pods over desired pods, for display.'),
  selector: string('Label selector of the engine pods (read by the scale subresource).'),
  workers: integer('Worker threads per engine after the profile preset and overrides.', 0),
  desiredConfigHash: string('Hash of the engine config the spec resolves to; ready engines report it once applied.'),
  pods: {
    type: 'array', description: 'What each engine pod reports, read from the engine itself.',
    items: object('One engine pod.', {
      name: string('Pod name.'),
      uid: string('Pod UID (changes when the pod is replaced).'),
      ready: { type: 'boolean', description: 'Whether the pod is ready.' },
      configHash: string('Hash of the config the engine reports it runs; empty if it could not be asked.'),
      configGeneration: integer('How many configs the engine has applied since it started.', 0),
      indexRebuild: object('Present while the engine rebuilds its indexes for a new hnsw.m / efConstruction in the background.', {
        spacesPending: integer('Memory spaces whose index still has the old parameters.', 0),
        spacesTotal: integer('Memory spaces the engine holds.', 0),
        currentProgress: number('Share of the space being rebuilt now that is done.', 0, 1),
      }),
      owned: object('The memory spaces the engine owns under the placement.', {
        spaces: integer('Memory spaces it owns.', 0),
        vectors: integer('Vectors in them.', 0),
        copies: integer('Copies it holds but does not own (hand-offs in progress, or about to be released).', 0),
      }),
    }, { required: ['name'] }),
  },
  placement: object('Where memory spaces live: the placement the engines route by, and the resize under way.', {
    generation: integer('Generation of the placement (stored in the <stream>-placement ConfigMap, pushed to every engine).', 0),
    ring: integer('Pods on the consistent-hash ring now.', 0),
    desiredRing: integer('Pods spec.replicas asks for.', 0),
    movesInProgress: integer('Memory spaces being handed over now.', 0),
    movesPending: integer('Memory spaces still to move after those.', 0),
    moves: {
      type: 'array', description: 'Hand-offs in progress.',
      items: object('One memory space moving between pods.', {
        space: string('Memory space.'),
        from: integer('Ordinal of the pod that owns it until the flip.', 0),
        to: integer('Ordinal of the pod taking it.', 0),
        attempts: integer('Attempts so far (a broken hand-off starts over).', 0),
        phase: string('The new owner\'s phase: starting, copying, catching_up, sealing, verified, failed.'),
        startedAt: string('When the move started.', { format: 'date-time' }),
        lastError: string('Why the previous attempt failed.'),
      }, { required: ['space', 'from', 'to'] }),
    },
    waiting: string('What the resize waits for (pods to be ready, a drain before a scale-in), if anything.'),
  }),
  conditions: {
    type: 'array', description: 'Ready, Progressing, Degraded, ConfigApplied, and RolloutPolicySupported when spec.rollout is set.', items: condition,
    'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'],
  },
});

/** The CRD as a plain object in wire form (apply it as YAML: client-node's typed serializer would drop keywords). */
export function buildCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'engram-operator', 'app.kubernetes.io/part-of': 'engram-stream' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, plural: PLURAL, singular: 'engramstream', listKind: `${KIND}List`, shortNames: ['engram'], categories: ['engram'] },
      versions: [{
        name: VERSION, served: true, storage: true,
        schema: {
          openAPIV3Schema: object('An EngramStream runs a streaming vector-memory engine: ingest of observations into memory spaces, and recall.', {
            apiVersion: string('APIVersion of this object.'),
            kind: string('Kind of this object.'),
            metadata: { type: 'object' },
            spec: { ...spec, default: {} },
            status,
          }),
        },
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
        additionalPrinterColumns: [
          { name: 'Profile', type: 'string', jsonPath: '.spec.profile', description: 'Workload profile.' },
          { name: 'Workers', type: 'integer', jsonPath: '.status.workers', description: 'Worker threads per engine.' },
          { name: 'Ready', type: 'string', jsonPath: '.status.ready', description: 'Ready pods over desired pods.' },
          { name: 'Config-Applied', type: 'string', jsonPath: '.status.conditions[?(@.type=="ConfigApplied")].status', description: 'Whether every ready engine runs the desired config.' },
          { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Updating, Degraded or Stopped.' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      }],
    },
  };
}
