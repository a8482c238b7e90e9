// The operator image's Helm hooks, as subcommands of `engram-operator`: `chart-test` (helm test)
// and `stop-for-uninstall` (helm uninstall's pre-delete hook). They run in pods under their own
// short-lived service accounts (templates/tests/, templates/hooks/).
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { jsonLogger } from '@engram/engine/log';
import { stopForUninstall } from './stop-for-uninstall.js';
import { streamRoundTrip } from './stream-round-trip.js';

export const CHART_HOOKS = ['chart-test', 'stop-for-uninstall'] as const;
export type ChartHook = (typeof CHART_HOOKS)[number];

const USAGE = `usage: engram-operator chart-test --namespace NS [--observations 300] [--timeout-ms 180000]
       engram-operator stop-for-uninstall --namespace NS --deployment NAME --selector LABELS --lease NAME [--timeout-ms 60000]
`;

function flag(values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new Error(`--${name} is required`);
  return v;
}

/** Runs one hook; resolves with the process exit code (2 for a usage error, 1 for a failure). */
export async function runChartHook(hook: ChartHook, argv: string[]): Promise<number> {
  const log = jsonLogger(`operator-${hook}`);
  try {
    const { values } = parseArgs({
      args: argv, strict: true,
      options: {
        namespace: { type: 'string' }, observations: { type: 'string', default: '300' }, 'timeout-ms': { type: 'string' },
        deployment: { type: 'string' }, selector: { type: 'string' }, lease: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    const namespace = flag(values, 'namespace');
    if (hook === 'chart-test') {
      await streamRoundTrip(kc, { namespace, observations: Number(values.observations), timeoutMs: Number(values['timeout-ms'] ?? 180_000), log });
    } else {
      await stopForUninstall(kc, {
        namespace, deployment: flag(values, 'deployment'), selector: flag(values, 'selector'), lease: flag(values, 'lease'),
        timeoutMs: Number(values['timeout-ms'] ?? 60_000), log,
      });
    }
    return 0;
  } catch (e) {
    log.error(`${hook} failed`, { error: e instanceof Error ? e.message : String(e) });
    const usage = e instanceof TypeError || (e instanceof Error && e.message.endsWith('is required'));
    if (usage) process.stderr.write(USAGE);
    return usage ? 2 : 1;
  }
}
