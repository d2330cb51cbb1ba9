/**
 * limit_rate and limit_rate_after, as nginx's write filter paces a response: after `after` bytes, no more than
 * `rate` bytes a second, counted from the request's start in whole seconds with one second's worth ahead
 * (nginx: limit = rate * (now - start_sec + 1) - (sent - after)); a write that goes past it makes the sender wait
 * -limit / rate seconds (+1 ms) before the next.
 */
export class Pacer {
  private rate = 0
  private after = 0
  private startSec = 0
  private sent = 0

  /** A response to pace: `rate` bytes a second (0: none) after `after` bytes, from the request's start. */
  start(rate: number, after: number, startMsec: number): void {
    this.rate = rate
    this.after = after
    this.startSec = Math.floor(startMsec / 1000)
    this.sent = 0
  }

  get active(): boolean {
    return this.rate > 0
  }

  stop(): void {
    this.rate = 0
  }

  /** Bytes that may go out now (nginx caps a write to them). */
  room(): number {
    const limit = this.rate * (Math.floor(Date.now() / 1000) - this.startSec + 1) - (this.sent - this.after)
    return limit > 0 ? limit : 0
  }

  /** `n` more bytes went out: how long (ms) to wait before the next write; 0 to go on. */
  wrote(n: number): number {
    this.sent += n
    if (this.sent <= this.after) return 0
    const limit = this.rate * (Math.floor(Date.now() / 1000) - this.startSec + 1) - (this.sent - this.after)
    return limit > 0 ? 0 : Math.floor((-limit * 1000) / this.rate) + 1
  }
}
