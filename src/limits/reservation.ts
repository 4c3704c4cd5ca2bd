import { checkTokenCount } from './bucket.js';
import type { Reservation } from './types.js';

/** What a backend does to settle or release; `createReservation` adds the once-only bookkeeping. */
export interface ReservationActions {
  /** Tokens to give back to the bucket: estimate − actual (negative is extra charge). */
  refundTokens(tokens: number): Promise<void>;
  /** Give back the request and the whole estimate. */
  release(): Promise<void>;
}

/**
 * The first of settle/release wins and later calls share its outcome: a resolver's error path may
 * well release after a settle already happened, and charging twice would bill the client twice.
 * If the store call fails, the slot reopens so the caller may try again.
 */
export function createReservation(estimatedTokens: number, actions: ReservationActions): Reservation {
  let outcome: Promise<void> | undefined;
  const once = (run: () => Promise<void>): Promise<void> => {
    if (outcome !== undefined) return outcome;
    const attempt = run().catch((error: unknown) => {
      if (outcome === attempt) outcome = undefined;
      throw error;
    });
    outcome = attempt;
    return attempt;
  };
  return {
    settle(actualTokens: number) {
      try {
        checkTokenCount(actualTokens, 'actualTokens');
      } catch (error) {
        return Promise.reject(error);
      }
      return once(() =>
        actualTokens === estimatedTokens
          ? Promise.resolve()
          : actions.refundTokens(estimatedTokens - actualTokens),
      );
    },
    release() {
      return once(() => actions.release());
    },
  };
}
