/** The last lines of console output, and who is listening for new ones. */
export class ConsoleBuffer {
  private readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private partial = '';

  constructor(private readonly capacity = 1000) {}

  /** Takes raw output; complete lines are kept and announced, a trailing partial line waits. */
  write(chunk: string): void {
    // \r alone ends a line too (progress bars); a line that never ends is cut at 8 KiB.
    const parts = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.push(line);
    if (this.partial.length > 8192) {
      this.push(this.partial);
      this.partial = '';
    }
  }

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
    for (const listener of this.listeners) listener(line);
  }

  tail(n: number): string[] {
    return this.lines.slice(-n);
  }

  subscribe(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
