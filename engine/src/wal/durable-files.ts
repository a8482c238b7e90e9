// Writing files so they survive a crash: data synced before it counts, and the directory entry
// synced after a file is created or renamed (the entry is data too).
import { open } from 'node:fs/promises';

/** Writes `data` to `path` (created or truncated) and syncs it before returning. */
export async function writeFileDurably(path: string, data: string | Buffer): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Makes a file's creation or rename in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
