// Builds the acks of one reply: consecutive sequence numbers with the same status, code and reason
// become one range, so a batch of 500 accepted observations is acknowledged by one Ack.
import type { Ack } from '../generated/engram/v1/Ack.js';
import type { RejectCode } from '../generated/engram/v1/RejectCode.js';

export interface Rejection {
  code: RejectCode;
  reason: string;
  retryAfterMs: number;
}

export class AckRanges {
  readonly acks: Ack[] = [];
  private last: Ack | undefined;

  private add(status: Ack['status'], sequence: number, rejection?: Rejection): void {
    const last = this.last;
    if (last && last.status === status && last.lastSequence === sequence - 1
      && last.code === (rejection?.code ?? 'REJECT_CODE_UNSPECIFIED') && last.reason === (rejection?.reason ?? '')) {
      last.lastSequence = sequence;
      return;
    }
    this.last = {
      status, firstSequence: sequence, lastSequence: sequence,
      code: rejection?.code ?? 'REJECT_CODE_UNSPECIFIED', reason: rejection?.reason ?? '', retryAfterMs: rejection?.retryAfterMs ?? 0,
    };
    this.acks.push(this.last);
  }

  accepted(sequence: number): void {
    this.add('ACCEPTED', sequence);
  }

  indexed(sequence: number): void {
    this.add('INDEXED', sequence);
  }

  rejected(sequence: number, rejection: Rejection): void {
    this.add('REJECTED', sequence, rejection);
  }
}
