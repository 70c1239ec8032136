/**
 * Room for one worker under the runtime's worker ceiling, held as a value: the ceiling's owner
 * (`scaling/budget.ts`) hands out a `Lease`, the worker carries it (`WorkerHandle`), and it is
 * given back when the worker is gone. A lease gives its room back once: the first `release`
 * takes the give-back with it, so a second one finds nothing to give, whoever calls it.
 * @module
 */
export class Lease {
  #giveBack: (() => void) | undefined;

  /** `giveBack` returns the room to the ceiling; it runs at most once. */
  constructor(giveBack: () => void) {
    this.#giveBack = giveBack;
  }

  /** Whether it still holds its room. */
  get held(): boolean {
    return this.#giveBack !== undefined;
  }

  /** Give the room back (at once to whoever waits for it); later calls do nothing. */
  release(): void {
    const giveBack = this.#giveBack;
    if (!giveBack) return;
    this.#giveBack = undefined;
    giveBack();
  }
}
