// A one-shot background thread (an index rebuild, a reshard's build): started with its job,
// reporting progress as messages, done when it exits with 0.
import { Worker } from 'node:worker_threads';

export function runBackgroundThread<P>(script: URL, job: unknown, onProgress: (progress: P) => void, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(script, { workerData: job });
    thread.on('message', onProgress);
    thread.once('error', reject);
    thread.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} thread exited with code ${code}`))));
  });
}
