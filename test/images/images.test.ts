// The engine and operator images, built by a real Docker engine (Debian's docker.io, dockerd
// started by the test) from the repository's Dockerfiles on local stand-ins for node:20-bookworm
// and node:20-bookworm-slim. The engine container runs as its unprivileged user on a read-only root
// file system and serves a stream; its data survives a stop and start on a volume.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngramClient } from '../../engine/dist/client/engram-client.js';
import { expectStored, waitFor } from '../helpers/durability.js';
import { clusteredObservations } from '../helpers/vectors.js';
import { buildImage, docker, localBaseImages, startDocker } from './docker.js';
import { freePort } from '../helpers/free-port.js';
import { machineRunsV3 } from '../helpers/cpu.js';
import { ENGINE_GLIBC_TUNABLES } from '../../engine/dist/memory/malloc-tunables.js';

const ENGINE = 'engram.io/engine:0.1.0-test';
const OPERATOR = 'engram.io/operator:0.1.0-test';
const run = `engram-image-test-${process.pid}`;


describe('container images', () => {
  const started = performance.now();
  const built: Record<string, number> = {};
  let base = { build: '', runtime: '' };
  /** Bytes an image adds to its runtime base: what the Dockerfile's last stage copies in. */
  const added = async (image: string) => {
    const size = async (name: string) => Number(await docker(['image', 'inspect', '-f', '{{.Size}}', name]));
    return (await size(image)) - (await size(base.runtime));
  };
  beforeAll(async () => {
    await startDocker();
    base = await localBaseImages();
    for (const [file, tag] of [['engine/Dockerfile', ENGINE], ['operator/Dockerfile', OPERATOR]] as const) {
      const t0 = performance.now();
      await buildImage(file, tag, base);
      built[tag] = (performance.now() - t0) / 1000;
    }
  }, 30 * 60_000);

  afterAll(async () => {
    await docker(['rm', '-f', run]).catch(() => undefined);
    await docker(['volume', 'rm', '-f', `${run}-data`]).catch(() => undefined);
    const sizes = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}', 'engram.io/*']).catch(() => '');
    console.log(`images built in ${JSON.stringify(built)} s (setup ${((performance.now() - started) / 1000).toFixed(0)} s)\n${sizes}`);
  });

  it('the images add little to their runtime base: production dependencies and compiled JavaScript only', async () => {
    const [engine, operator] = [await added(ENGINE), await added(OPERATOR)];
    console.log(`added to the runtime base: engine ${(engine / 2 ** 20).toFixed(1)} MiB, operator ${(operator / 2 ** 20).toFixed(1)} MiB`);
    // a compiler, the dev dependencies (typescript, vitest, eslint) or the build tree would be hundreds
    expect(engine).toBeLessThan(30 * 2 ** 20);
    expect(operator).toBeLessThan(60 * 2 ** 20);
  });

  it('the engine image runs as uid 10001, carries no compiler or TypeScript sources, and its addons load', async () => {
    const inspect = JSON.parse(await docker(['image', 'inspect', ENGINE]))[0];
    expect(inspect.Config.User).toBe('10001:10001');
    const probe = await docker(['run', '--rm', '--read-only', '--entrypoint', 'sh', ENGINE, '-c',
      'id -u; command -v g++ || echo no-compiler; ls /app/engine/src 2>/dev/null || echo no-sources; node -e "require(\'hnswlib-node\'); console.log(\'addon-ok\')"; '
      + 'node -e "const { Graph } = require(\'/app/engine/native/usearch-graph.node\'); new Graph(8, \'cos\', \'f16\', 16, 64, 32); console.log(\'usearch-ok\')"']);
    expect(probe.split('\n')).toEqual(['10001', 'no-compiler', 'no-sources', 'addon-ok', 'usearch-ok']);
  });

  it('the engine container serves a stream on a read-only root, drains on docker stop, and recovers its data from the volume', async () => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    await docker(['run', '-d', '--name', run, '--read-only', '--tmpfs', '/tmp', '--network', 'host', '-v', `${run}-data:/var/lib/engram`,
      ENGINE, 'serve', '--insecure', '--host', '127.0.0.1', '--port', String(grpcPort), '--http-port', String(httpPort)]);
    const ready = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => null))?.status === 200;
    await waitFor(ready, 30_000, 'the engine container to be ready');
    // the image carries both hnswlib builds and the engine picks by this machine's CPU
    expect(await docker(['logs', run])).toContain(`"hnswBuild":"${machineRunsV3() ? 'x86-64-v3' : 'portable'} (`);
    // and runs with the allocator setting that keeps freed graph memory from staying resident
    expect(await docker(['exec', run, 'printenv', 'GLIBC_TUNABLES'])).toContain(ENGINE_GLIBC_TUNABLES);

    const observations = clusteredObservations('images', 2000, 768, 11);
    let client = new EngramClient(`127.0.0.1:${grpcPort}`);
    const session = await client.openStream({ memorySpace: 'images' });
    for (const o of observations) await session.send(o);
    expect((await session.close({ drain: true })).accepted).toBe(observations.length);
    await expectStored(client, 'images', observations);
    client.close();

    // docker stop sends SIGTERM: the engine drains, snapshots and exits 0 within the grace period
    await docker(['stop', '-t', '30', run], 60_000);
    expect(await docker(['inspect', '-f', '{{.State.ExitCode}}', run])).toBe('0');
    await docker(['start', run]);
    await waitFor(ready, 30_000, 'the restarted engine container to be ready');
    client = new EngramClient(`127.0.0.1:${grpcPort}`);
    await expectStored(client, 'images', observations);
    client.close();
  }, 180_000);

  it('the operator image runs as uid 65532 on a read-only root, and its CLI loads every module', async () => {
    const inspect = JSON.parse(await docker(['image', 'inspect', OPERATOR]))[0];
    expect(inspect.Config.User).toBe('65532:65532');
    // --help exits after the entry point's imports (the whole operator and the engine's config
    // library) have loaded: a missing module fails here.
    const help = await docker(['run', '--rm', '--read-only', OPERATOR, '--help']);
    expect(help).toContain('usage: engram-operator');
    // with no cluster configured it says so and exits 2, instead of retrying localhost forever
    const noCluster = await docker(['run', '--rm', '--read-only', '--network', 'none', OPERATOR], 30_000)
      .then(() => null, (e: { code?: number; stderr?: string }) => e);
    expect(noCluster?.code).toBe(2);
    expect(noCluster?.stderr).toContain('no cluster to talk to');
  }, 120_000);
});
