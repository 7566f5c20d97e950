/** Runs jobs one at a time in call order; a failed job does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    // The caller gets the failure through `result`; the tail only orders the next job after it.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
