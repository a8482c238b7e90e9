// Throw-away certificates for TLS tests, made with openssl (which CI requires): a CA, server
// certificates for names and addresses it signs, and client certificates. Files are PEM, in
// cert-manager's layout when written as a set: tls.crt, tls.key, ca.crt.
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  cert: string;
  key: string;
  /** A certificate signed by this CA for the DNS names and IP addresses given. */
  issue(name: string, subjectAltNames: string[], usage?: 'serverAuth,clientAuth' | 'clientAuth'): CertificateFiles;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

export function createCa(dir: string, name: string): TestCa {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
  const ca = { dir, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  return {
    ...ca,
    issue(leaf, subjectAltNames, usage = 'serverAuth,clientAuth') {
      const ext = join(dir, `${leaf}.ext`);
      writeFileSync(ext, [
        'basicConstraints=CA:FALSE', `extendedKeyUsage=${usage}`,
        ...(subjectAltNames.length > 0 ? [`subjectAltName=${subjectAltNames.join(',')}`] : []),
      ].join('\n'));
      openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`]);
      openssl(dir, ['x509', '-req', '-in', `${leaf}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', `${leaf}.crt`, '-days', '2', '-extfile', ext]);
      return { cert: join(dir, `${leaf}.crt`), key: join(dir, `${leaf}.key`) };
    },
  };
}

/** Writes a certificate, its key and the CA as a cert-manager Secret would mount them. */
export function installAsSecretLayout(target: string, files: CertificateFiles, ca: TestCa): { cert: string; key: string; ca: string } {
  const out = { cert: join(target, 'tls.crt'), key: join(target, 'tls.key'), ca: join(target, 'ca.crt') };
  // key first: the engine re-reads when the certificate changes
  copyFileSync(files.key, out.key);
  copyFileSync(ca.cert, out.ca);
  copyFileSync(files.cert, out.cert);
  return out;
}
