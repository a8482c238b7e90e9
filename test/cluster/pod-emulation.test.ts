// What the node agent does to a container's args and env to stand in for a pod's own network and
// mount namespaces, and Kubernetes' $(VAR) expansion.
import { describe, expect, it } from 'vitest';
import { expandVars, podLocalizer } from './node-agent.js';

describe('node agent pod emulation', () => {
  const localize = podLocalizer('127.0.0.12', '/pods/p/rootfs', [{ name: 'config', mountPath: '/etc/engram' }, { name: 'data', mountPath: '/var/lib/engram/' }]);

  it('binds the wildcard address to the pod address', () => {
    expect(localize('0.0.0.0')).toBe('127.0.0.12');
    expect(localize('--host=0.0.0.0')).toBe('--host=127.0.0.12');
    expect(localize('10.0.0.1')).toBe('10.0.0.1');
  });

  it('moves paths under a volume mount under the pod root, and leaves other paths alone', () => {
    expect(localize('/etc/engram/engine.yaml')).toBe('/pods/p/rootfs/etc/engram/engine.yaml');
    expect(localize('--data-dir=/var/lib/engram')).toBe('--data-dir=/pods/p/rootfs/var/lib/engram');
    expect(localize('/etc/engramx')).toBe('/etc/engramx');
    expect(localize('/usr/bin/node')).toBe('/usr/bin/node');
  });

  it('expands $(VAR) from the container env as the kubelet does, keeping unknown ones and $$ escapes', () => {
    const env = { POD_IP: '127.0.0.12', NAME: 'e' };
    expect(expandVars('--host=$(POD_IP)', env)).toBe('--host=127.0.0.12');
    expect(expandVars('$(NAME)-$(MISSING)', env)).toBe('e-$(MISSING)');
    expect(expandVars('$$(POD_IP)', env)).toBe('$(POD_IP)');
  });
});
