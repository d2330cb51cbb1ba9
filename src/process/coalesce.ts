/**
 * Runs an async job one at a time, merging requests that come while it runs into a single run after it: the job
 * reads its input when it starts (a reload reads nginx.conf), so the last request is always served, and a storm of
 * requests costs two runs, not one per request.
 */
export function coalesced(job: () => Promise<void>, onError: (e: unknown) => void, stop: () => boolean = () => false): () => Promise<void> {
  let running = false
  let again = false
  return async () => {
    if (running) {
      again = true
      return
    }
    running = true
    try {
      do {
        again = false
        try {
          await job()
        } catch (e) {
          onError(e)
        }
      } while (again && !stop())
    } finally {
      running = false
    }
  }
}
