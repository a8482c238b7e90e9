// The EngramStream CustomResourceDefinition, built from small schema helpers that require a
// description on every field (so `kubectl explain` reads well). write-crd.ts writes it to
// crds/; a test keeps the file and this code identical.
import { DEFAULT_HNSW, MAX_SHARD_OVERRIDES, MAX_TENANT_SPACES, MAX_TENANTS, rangeOf, SPACE_PATTERN, TENANT_NAME, valuesOf } from '@engram/engine/config';
import { GROUP, KIND, PLURAL, PROFILES, ROLLOUT_METRICS, VERSION } from './types.js';

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
/** An integer or number key of the engine's config: its kind and bounds come from the engine's schema. */
const configInt = (path: string, description: string, extra: Schema = {}): Schema => integer(description, ...rangeOf(path), extra);
const configNumber = (path: string, description: string): Schema => number(description, ...rangeOf(path));
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

const DURATION = '^([0-9]+(ms|s|m|h))+$';
const duration = (description: string): Schema => string(`${description} A duration such as 500ms, 30s, 5m or 1h30m.`, { maxLength: 32, pattern: DURATION });

const analysisTemplate = object('What an analysis measures, how it judges each measurement, and how many it takes.', {
  name: string('Name the steps refer to.', { maxLength: 63, pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
  metric: oneOf('What is measured, per track, over each interval: p99 of observation latency (accepted to searchable) or of recall latency (seconds), share of observations rejected, share of RPCs failed with a server error, or recall@k of sampled shadow recalls against an exact search (needs quality.sampleRate > 0).', ROLLOUT_METRICS),
  maxRatio: { type: 'number', description: 'Fails when canary / stable is above this (e.g. 1.5: at most 50% worse).', minimum: 0 },
  minRatio: { type: 'number', description: 'Fails when canary / stable is below this.', minimum: 0 },
  maxDifference: { type: 'number', description: 'Fails when canary - stable is above this.' },
  minDifference: { type: 'number', description: 'Fails when canary - stable is below this (recall@k: -0.02 fails a drop of more than 2 points).' },
  max: { type: 'number', description: 'Fails when the canary\'s value is above this.' },
  min: { type: 'number', description: 'Fails when the canary\'s value is below this.' },
  interval: duration('Time between measurements, and the window each one covers (default 10s).'),
  initialDelay: duration('Wait this long after the step starts before the first window (default 0): lets the moves of the weight step settle.'),
  count: integer('Measurements in a run (default 3).', 1, 100),
  failureLimit: integer('Failed measurements a run tolerates (default 0).', 0, 100),
  inconclusiveLimit: integer('Inconclusive measurements a run tolerates before it is Inconclusive (default 0).', 0, 100),
  consecutiveErrorLimit: integer('Measurements in a row that could not be taken before the run errs and the rollout aborts (default 4).', 0, 100),
  minSamples: integer('Events each track needs in a window (observations, recalls or checked neighbours); fewer make the measurement Inconclusive (default 20).', 0, 1_000_000),
}, {
  required: ['name', 'metric'],
  'x-kubernetes-validations': [{ rule: 'has(self.maxRatio) || has(self.minRatio) || has(self.maxDifference) || has(self.minDifference) || has(self.max) || has(self.min)', message: 'an analysis template needs at least one of maxRatio, minRatio, maxDifference, minDifference, max, min' }],
});

const rolloutStep = object('One step: exactly one of setWeight, pause, analysis.', {
  setWeight: integer('Percent of memory spaces served by canary pods: a sticky cohort chosen by a hash of the space name, rounded up to whole spaces.', 0, 100),
  pause: object('Wait for a duration, or (without one) until promoted.', { duration: duration('How long to wait.') }),
  analysis: object('Run analysis templates; the step ends when every one succeeds.', {
    templates: { type: 'array', description: 'Names of analysis templates.', minItems: 1, maxItems: 10, items: string('A template name.', { maxLength: 63 }) },
  }, { required: ['templates'] }),
}, { 'x-kubernetes-validations': [{ rule: '[has(self.setWeight), has(self.pause), has(self.analysis)].filter(x, x).size() == 1', message: 'a step has exactly one of setWeight, pause, analysis' }] });

const rollout = object('Roll every change out as a canary: canary pods take a sticky cohort of memory spaces (moved by verified hand-off), by steps, analysed and then promoted, or rolled back. Without it a change reaches every engine at once.', {
  steps: { type: 'array', description: 'The steps, in order. After the last the change is promoted to every pod.', minItems: 1, maxItems: 40, items: rolloutStep },
  analysisTemplates: { type: 'array', description: 'Analyses the steps can run.', maxItems: 20, items: analysisTemplate,
    'x-kubernetes-validations': [{ rule: 'self.all(t, self.exists_one(u, u.name == t.name))', message: 'analysis template names must be unique' }] },
  prometheus: object('Read metrics from this Prometheus instead of the engines.', { url: string('Base URL, e.g. http://prometheus.monitoring:9090.', { maxLength: 512, pattern: '^https?://' }) }, { required: ['url'] }),
  onInconclusive: oneOf('What an Inconclusive analysis (too few samples) does: Wait measures again; Pause waits for promote or abort.', ['Wait', 'Pause'], { default: 'Wait' }),
  canaryReadyDeadlineSeconds: integer('Canary pods not ready this long abort the rollout (default 120).', 10, 3600),
}, {
  required: ['steps'],
  'x-kubernetes-validations': [{ rule: 'self.steps.all(s, !has(s.analysis) || s.analysis.templates.all(n, has(self.analysisTemplates) && self.analysisTemplates.exists(t, t.name == n)))', message: 'every analysis step must name templates listed in analysisTemplates' }],
});

const tenant = object('A tenant: the memory spaces it owns and the limits it is held to.', {
  name: string('Tenant name, a DNS label unique among tenants.', { maxLength: 63, pattern: TENANT_NAME.source }),
  spaces: {
    type: 'array', description: 'Memory spaces the tenant owns: exact ids, or prefixes ending in `*` (`acme-*`).', maxItems: MAX_TENANT_SPACES,
    items: string('A memory space id, or a prefix ending in `*`.', { maxLength: 65, pattern: SPACE_PATTERN.source }),
  },
  rateLimit: configNumber('rateLimit', 'Observations per second the tenant may send (token bucket); 0 means unlimited. Changes live.'),
  burst: configInt('burst', 'Token bucket size; 0 means one second\'s worth of rateLimit. Changes live.'),
  maxVectors: configInt('maxVectors', 'Vectors the tenant may store across its memory spaces; 0 means unlimited. Changes live.'),
  maxSpaces: configInt('maxSpaces', 'Memory spaces the tenant may create; 0 means unlimited. Changes live.'),
}, { required: ['name'] });

const spec = object('The desired engine workload. Every field left out takes the profile\'s preset; every field set overrides it.', {
  profile: oneOf('Workload profile from the streaming tuning guide: the preset for every pool knob not set here. Changes live.', PROFILES, { default: 'Balanced' }),
  replicas: integer('Engine pods. Memory spaces are spread over them by a consistent-hash ring and moved (copied, verified, then switched) when this changes; a scale-in moves every space off the leaving pods before they stop. 0 stops the engines and keeps their data.', 0, 64, { default: 1 }),
  workers: configInt('workers', 'Worker threads per engine (indexing and recall). Changes live.'),
  batch: object('Adaptive batch size bounds: batches grow toward max as the queue deepens and shrink toward min as it drains. Change live.', {
    min: configInt('batch.min', 'Smallest batch a worker takes.'),
    max: configInt('batch.max', 'Largest batch a worker takes.'),
  }, { 'x-kubernetes-validations': [{ rule: '!has(self.min) || !has(self.max) || self.min <= self.max', message: 'batch.min must not exceed batch.max' }] }),
  idleSleepMs: configInt('idleSleepMs', 'How long a worker with less than batch.min waiting lingers for more. Changes live.'),
  queue: object('The engine\'s ingest queue. Changes live.', {
    capacity: configInt('queue.capacity', 'Observations queued before clients are pushed back.'),
    highPriorityRatio: configNumber('queue.highPriorityRatio', 'Share of capacity reserved for the recall lane.'),
  }),
  stealThreshold: configInt('stealThreshold', 'Queue depth over which an idle worker takes a memory space off a busy one; 0 never. Changes live.'),
  hnsw: object('HNSW index parameters.', {
    dimension: immutable(
      configInt('hnsw.dimension', 'Embedding dimension (default 768). Immutable: every stored vector has it (removing the field sets the default again, which must equal it).', { default: DEFAULT_HNSW.dimension }),
      'hnsw.dimension is immutable: every stored vector has this dimension; create a new EngramStream for another',
    ),
    m: configInt('hnsw.m', 'Graph degree (M). A change rebuilds every index in the background.'),
    efConstruction: configInt('hnsw.efConstruction', 'Candidate list size while inserting. A change rebuilds every index in the background.'),
    efSearch: configInt('hnsw.efSearch', 'Candidate list size while recalling. Changes live.'),
    shards: configInt('hnsw.shards', 'Shards a memory space is split into, each its own index on its own worker where it can be (default 1). A recall asks every shard. A change reshards existing spaces in the background, one at a time, while they take writes and answer recalls.'),
    shardOverrides: {
      type: 'array', description: 'Shard counts for some memory spaces (the first entry that matches wins; others take hnsw.shards). A change reshards the spaces it changes in the background.', maxItems: MAX_SHARD_OVERRIDES,
      items: object('Memory spaces and their shard count.', {
        spaces: string('A memory space id, or a prefix ending in `*`.', { maxLength: 65, pattern: SPACE_PATTERN.source }),
        shards: configInt('hnsw.shards', 'Shards for these spaces.'),
      }, { required: ['spaces', 'shards'] }),
    },
    autoSplit: object('Automatic splitting: a memory space whose queue stays over `backlog` observations (for 2 s) while a worker is idle gets twice its shards, up to `maxShards`; a split space keeps its shards. Changes live.', {
      backlog: configInt('hnsw.autoSplit.backlog', 'Queued observations of one space over which it is split (default 0: never).'),
      maxShards: configInt('hnsw.autoSplit.maxShards', 'Most shards automatic splitting gives a space (default 4).'),
    }),
    backend: oneOf('The library indexes are built with (default hnswlib). usearch can store vectors at f16 (see quantization) and insert a hot space on idle workers\' cores (see insertThreads). A change rebuilds every index in the background, as an M change does.', valuesOf('hnsw.backend')),
    quantization: oneOf('usearch only: the precision vectors are stored at (default f32; f16 takes half a vector\'s bytes, recall@10 0.998 where f32 had 0.9995 on the data measured). i8 is not offered (recall@10 0.59 on the same data). A change rebuilds every index in the background.', valuesOf('hnsw.quantization')),
    insertThreads: configInt('hnsw.insertThreads', 'usearch only: most threads one insert may use, each on the core of a worker idle at that moment (0: every idle worker; default 1: none borrowed, as concurrent inserts leave a few more points unreachable). Changes live.'),
    metric: immutable(
      oneOf('Distance metric (default cosine). Immutable: every index was built for it.', valuesOf('hnsw.metric'), { default: DEFAULT_HNSW.metric }),
      'hnsw.metric is immutable: every index was built for it; create a new EngramStream for another',
    ),
  }, {
    default: {},
    'x-kubernetes-validations': [{ rule: "!has(self.quantization) || self.quantization == 'f32' || (has(self.backend) && self.backend == 'usearch')", message: 'hnsw.quantization other than f32 needs hnsw.backend usearch' }],
  }),
  quality: object('Recall quality measurement: a sampled share of recalls is also answered by an exact search over the memory space, and recall@k is exported (engram_recall_quality_*), for canary analysis and dashboards. Changes live.', {
    sampleRate: configNumber('quality.sampleRate', 'Share of recalls measured (default 0: none). Each measured recall reads its whole memory space, and spaces above 20,000 vectors are not measured.'),
  }),
  tenants: {
    type: 'array', description: 'Tenants, their memory spaces and limits. Change live.', maxItems: MAX_TENANTS, items: tenant,
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
  rollout,
  auth: object('Who may call the engines. With API keys (the default) every call needs a key: the operator creates <name>-admin-key (admin) and <name>-metrics-key (for Prometheus), and takes the client keys from the Secrets listed here; a change to one of them reaches the engines within about 10 s. Changing mode rolls the pods.', {
    mode: oneOf('APIKeys: every call needs a key. None: anyone who reaches the pods may read, write and reconfigure everything (for development only).', ['APIKeys', 'None'], { default: 'APIKeys' }),
    keys: {
      type: 'array', description: 'Secrets whose every data entry is one client key, with what the keys may do.', maxItems: 64,
      items: object('Keys from one Secret.', {
        secretName: string('A Secret in the stream\'s namespace; each data entry is one key (add a new entry before removing an old one to rotate without a gap).', { maxLength: 253 }),
        role: oneOf('Admin: everything. Tenant: the tenant\'s memory spaces only. Metrics: /metrics only.', ['Admin', 'Tenant', 'Metrics']),
        tenant: string('For role Tenant: the tenant whose memory spaces the keys reach (spec.tenants[].name, or default).', { maxLength: 63, pattern: TENANT_NAME.source }),
        expiresAt: string('After this time the keys are refused (RFC 3339).', { format: 'date-time' }),
      }, {
        required: ['secretName', 'role'],
        'x-kubernetes-validations': [{ rule: "(self.role == 'Tenant') == has(self.tenant)", message: 'a Tenant key names its tenant, and only a Tenant key does' }],
      }),
    },
  }, { default: {} }),
  tls: object('TLS for the engines\' gRPC port (and, with metrics, the HTTP port). Certificates are re-read when the Secret changes; changing these fields rolls the pods.', {
    secretName: string('A Secret in cert-manager\'s layout: tls.crt, tls.key and ca.crt (the CA pods trust for each other and for client certificates). The certificate\'s first DNS name is the name clients expect when they dial a pod by address.', { maxLength: 253 }),
    requireClientCertificates: { type: 'boolean', description: 'Refuse clients without a certificate signed by ca.crt (mTLS).', default: false },
    metrics: { type: 'boolean', description: 'Serve /metrics and the probes over HTTPS too.', default: false },
  }, { required: ['secretName'] }),
  networkPolicy: object('A NetworkPolicy in front of the engine pods: gRPC only from the stream\'s own pods, pods labelled engram.io/client-of=<name> in the namespace, and the operator; metrics from the namespaces in metricsFrom.', {
    enabled: { type: 'boolean', description: 'Create the NetworkPolicy (default true).', default: true },
    metricsFrom: { type: 'object', description: 'Labels of the namespaces whose pods may scrape metrics; empty: any namespace.', additionalProperties: { type: 'string' } },
  }, { default: {} }),
});

const condition = object('A condition in the Kubernetes convention.', {
  type: string('Ready, Progressing, Degraded, ConfigApplied, Rebalancing, or Rollout (only when spec.rollout is set).'),
  status: string('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
  reason: string('A CamelCase reason, stable for matching.'),
  message: string('What happened, for people.'),
  observedGeneration: integer('The generation the condition was computed for.', 0),
  lastTransitionTime: string('When the status last changed.', { format: 'date-time' }),
}, { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] });

function revisionStatus(description: string): Schema {
  return object(description, {
    hash: string('Hash of the version (engine config and pod template).'),
    configHash: string('Hash of its engine config.'),
    image: string('Its engine image.'),
  });
}

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
      indexRebuild: object('Present while the engine rebuilds its indexes in the background: for a new hnsw.m / efConstruction, or reshards spaces for a new shard count.', {
        spacesPending: integer('Memory spaces whose index still has the old parameters.', 0),
        spacesTotal: integer('Memory spaces the engine holds.', 0),
        currentProgress: number('Share of the space being rebuilt now that is done.', 0, 1),
      }),
      track: string('stable, or canary while the pod serves a rollout\'s cohort with the canary version.'),
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
  rollout: object('The canary rollout: its step, requested and actual weight, the two versions, and the last analysis.', {
    phase: string('Healthy, Progressing, Paused, Promoting, Aborting or Aborted.'),
    stepIndex: integer('The step running now (steps once all are done).', 0),
    steps: integer('Steps in spec.rollout.', 0),
    stable: revisionStatus('The version every pod outside the canary runs.'),
    canary: revisionStatus('The version being rolled out.'),
    requestedWeight: integer('Percent of memory spaces the steps so far ask for.', 0, 100),
    actualWeight: object('What the canary serves now.', {
      spaces: integer('Memory spaces on canary pods.', 0),
      totalSpaces: integer('Memory spaces in the stream.', 0),
      percent: number('spaces / totalSpaces, in percent.', 0, 100),
      trafficPercent: number('Share of observations the canary took in the last minute, in percent.', 0, 100),
    }),
    canaryPods: integer('Canary pods (StatefulSet ordinals after the ring).', 0),
    analysis: {
      type: 'array', description: 'The analysis runs of the current (or last) analysis step.',
      items: object('One template\'s run.', {
        template: string('Template name.'),
        phase: string('Running, Successful, Failed, Inconclusive or Error.'),
        message: string('Why it ended so.'),
        measurements: {
          type: 'array', description: 'Measurements so far, oldest first.',
          items: object('One measurement.', {
            at: string('When it was taken.', { format: 'date-time' }),
            phase: string('Successful, Failed, Inconclusive or Error.'),
            canary: { type: 'number', description: 'The canary track\'s value.' },
            stable: { type: 'number', description: 'The stable track\'s value.' },
            canarySamples: integer('Events the canary value is computed from.', 0),
            stableSamples: integer('Events the stable value is computed from.', 0),
            message: string('Why it failed, or could not be taken.'),
          }),
        },
      }),
    },
    message: string('What the rollout does or waits for now.'),
    abortReason: string('Why the last rollout was aborted.'),
  }),
  conditions: {
    type: 'array', description: 'Ready, Progressing, Degraded, ConfigApplied, Rebalancing, and Rollout when spec.rollout is set.', items: condition,
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
            spec: {
              ...spec, default: {},
              'x-kubernetes-validations': [{
                rule: "!has(self.rollout) || !has(self.rollout.analysisTemplates) || !self.rollout.analysisTemplates.exists(t, t.metric == 'recallAtK') || (has(self.quality) && has(self.quality.sampleRate) && self.quality.sampleRate > 0.0)",
                message: 'an analysis of recallAtK needs quality.sampleRate above 0 (the share of recalls checked against an exact search)',
              }],
            },
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
          { name: 'Rollout', type: 'string', jsonPath: '.status.rollout.phase', description: 'Canary rollout phase.', priority: 1 },
          { name: 'Canary-Weight', type: 'integer', jsonPath: '.status.rollout.requestedWeight', description: 'Requested canary weight, percent.', priority: 1 },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
      }],
    },
  };
}
