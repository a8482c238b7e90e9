// A one-line progress display for long streams: rewritten in place on a terminal, a line every
// few seconds otherwise (so logs stay readable).
import type { StreamCounts } from '../client/observation-stream.js';

export class Progress {
  private readonly started = Date.now();
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(private readonly total: number | null, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  private line(c: StreamCounts): string {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    const of = this.total ? `/${this.total}` : '';
    const pct = this.total ? ` ${((100 * c.indexed) / this.total).toFixed(0)}%` : '';
    const refused = Object.values(c.refusals).reduce((a, b) => a + b, 0);
    return `sent ${c.sent}${of}  accepted ${c.accepted}  indexed ${c.indexed}${pct}  refused ${refused} (resent ${c.resent})  rejected ${c.rejected}  ${Math.round(c.accepted / seconds)} obs/s`;
  }

  update(c: StreamCounts): void {
    const now = Date.now();
    if (now - this.lastPrint < (this.tty ? 200 : 2000)) return;
    this.lastPrint = now;
    this.out.write(this.tty ? `\r\x1b[2K${this.line(c)}` : `${this.line(c)}\n`);
  }

  done(c: StreamCounts): void {
    this.out.write(`${this.tty ? '\r\x1b[2K' : ''}${this.line(c)}\n`);
  }
}
