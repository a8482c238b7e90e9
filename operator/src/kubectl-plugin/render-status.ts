// The text `kubectl engram status` prints: the rollout's steps with the current one marked, the
// requested and actual weight, both versions, the last analysis and the pods by track.
import type { EngramStream, RolloutStep } from '../api/v1alpha1/types.js';

const MARK = { done: '✔', current: '◌', next: ' ' } as const;

function describeStep(step: RolloutStep): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}`;
  if (step.pause) return step.pause.duration ? `pause ${step.pause.duration}` : 'pause (until promoted)';
  return `analysis ${step.analysis?.templates.join(', ') ?? ''}`;
}

export function renderStatus(stream: EngramStream): string {
  const r = stream.status?.rollout;
  const lines: string[] = [
    `Name:          ${stream.metadata.name}`,
    `Namespace:     ${stream.metadata.namespace}`,
  ];
  if (!r) {
    lines.push(`Rollout:       none (${stream.spec.rollout ? 'not reported yet' : 'spec.rollout is not set: changes reach every engine at once'})`);
    return `${lines.join('\n')}\n`;
  }
  const w = r.actualWeight;
  lines.push(
    `Status:        ${r.phase}`,
    ...(r.message ? [`Message:       ${r.message}`] : []),
    ...(r.abortReason ? [`Abort reason:  ${r.abortReason}`] : []),
    `Step:          ${Math.min(r.stepIndex + 1, r.steps)}/${r.steps}${r.stepIndex >= r.steps ? ' (all done)' : ''}`,
    `SetWeight:     ${r.requestedWeight}%`,
    `ActualWeight:  ${w.spaces}/${w.totalSpaces} memory spaces (${w.percent}%)${w.trafficPercent !== undefined ? `, ${w.trafficPercent}% of observations in the last minute` : ''}`,
    `Stable:        ${r.stable.hash}  config ${r.stable.configHash}  image ${r.stable.image}`,
    ...(r.canary ? [`Canary:        ${r.canary.hash}  config ${r.canary.configHash}  image ${r.canary.image}`] : []),
    `Canary pods:   ${r.canaryPods}`,
  );
  const steps = stream.spec.rollout?.steps ?? [];
  if (steps.length > 0) {
    lines.push('', 'Steps:');
    const running = r.phase === 'Progressing' || r.phase === 'Paused';
    steps.forEach((s, i) => {
      const state = i < r.stepIndex || r.phase === 'Healthy' ? 'done' : i === r.stepIndex && running ? 'current' : 'next';
      lines.push(`  ${MARK[state]} ${String(i + 1).padStart(2)}. ${describeStep(s)}${state === 'current' ? '   <- now' : ''}`);
    });
  }
  if (r.analysis && r.analysis.length > 0) {
    lines.push('', 'Analysis:');
    for (const run of r.analysis) {
      lines.push(`  ${run.template.padEnd(16)} ${run.phase}${run.message ? `: ${run.message}` : ''}`);
      for (const m of run.measurements.slice(-3)) {
        const values = m.canary !== undefined ? `canary ${m.canary} (${m.canarySamples ?? 0} samples) vs stable ${m.stable ?? '-'} (${m.stableSamples ?? 0})` : '';
        lines.push(`    ${m.at}  ${m.phase.padEnd(12)} ${values}${m.message ? `  ${m.message}` : ''}`);
      }
    }
  }
  const pods = stream.status?.pods ?? [];
  if (pods.length > 0) {
    lines.push('', 'Pods:', `  ${'NAME'.padEnd(24)} ${'READY'.padEnd(6)} ${'TRACK'.padEnd(7)} ${'CONFIG'.padEnd(17)} SPACES`);
    for (const p of pods) {
      lines.push(`  ${p.name.padEnd(24)} ${String(p.ready).padEnd(6)} ${(p.track ?? 'stable').padEnd(7)} ${(p.configHash || '-').padEnd(17)} ${p.owned?.spaces ?? '-'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
