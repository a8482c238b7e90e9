// Sending on an observation stream while collecting the ids its ACCEPTED acks cover, for tests that
// must show nothing acknowledged was lost: the stream numbers observations in the order they are
// sent, from 1, and an ack names a range of those numbers.
import type { ObservationInput, ObservationStream } from '../../engine/dist/client/observation-stream.js';

/** A `send` for `stream` that adds every id the engine accepts to `accepted`. */
export function sendNotingAccepted(stream: ObservationStream, accepted: Set<string>): (o: ObservationInput) => Promise<void> {
  const bySequence: string[] = [];
  stream.on('ack', (ack) => {
    if (ack.status !== 'ACCEPTED') return;
    for (let s = Number(ack.firstSequence); s <= Number(ack.lastSequence); s++) accepted.add(bySequence[s - 1]!);
  });
  // a failed stream is reported by the send or close it fails, not as an unhandled 'error' event
  stream.on('error', () => undefined);
  return (o) => {
    bySequence.push(o.id);
    return stream.send(o);
  };
}
