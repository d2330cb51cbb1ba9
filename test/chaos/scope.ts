/**
 * What an experiment needs from its runner: somewhere to register cleanups and to say what it saw. A node:test
 * TestContext is one (the short versions in `npm test`); {@link Standalone} is the other (`npm run chaos`). The
 * start helpers of test/helpers.ts only call `after`, so they take either.
 */
import type { TestContext } from 'node:test'

export interface Scope {
  after(fn: () => unknown): void
  diagnostic(message: string): void
}

/** The scope as the helpers type it: they use nothing but `after`. */
export const asTest = (s: Scope): TestContext => s as unknown as TestContext

/** A scope outside node:test: cleanups run last-registered first (processes stop before their prefix goes). */
export class Standalone implements Scope {
  private readonly cleanups: (() => unknown)[] = []
  constructor(private readonly log: (line: string) => void = (l) => console.log(l)) {}

  after(fn: () => unknown): void {
    this.cleanups.push(fn)
  }

  diagnostic(message: string): void {
    this.log(`  ${message}`)
  }

  async close(): Promise<void> {
    while (this.cleanups.length > 0) {
      try {
        await this.cleanups.pop()!()
      } catch (e) {
        this.log(`  cleanup failed: ${(e as Error).message}`)
      }
    }
  }
}
