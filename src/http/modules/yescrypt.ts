/** yescrypt (`$y$`): not computed yet; every such hash mismatches. */
export function yescrypt(_password: Buffer, _setting: string): string | null {
  return null
}
